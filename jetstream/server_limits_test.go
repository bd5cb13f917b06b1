package jetstream_test

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
)

// serverLimitsConf is two accounts with JetStream under one 64 KiB
// max_file_store; clients without credentials are account A's.
func serverLimitsConf(t *testing.T, sd string) string {
	t.Helper()
	return writeJSConf(t, fmt.Sprintf(`jetstream { store_dir: %q, max_file_store: 65536 }
accounts {
  A: { jetstream: enabled, users: [{user: a, password: a}] }
  B: { jetstream: enabled, users: [{user: b, password: b}] }
}
no_auth_user: a
`, sd))
}

// TestServerLimitsAcrossAccounts: max_file_store bounds the server, not
// each account, as in nats-server: a second account's reservation that
// would take the server's past it is refused, and once one account has
// filled the store the other's publishes are refused too. Run side by
// side with nats-server on the same config.
func TestServerLimitsAcrossAccounts(t *testing.T) {
	rsd, osd := t.TempDir(), t.TempDir()
	ref := startBadNatsServer(t, rsd, serverLimitsConf(t, rsd))
	ours := startBadMurmur(t, osd, serverLimitsConf(t, osd))
	asB := func(s *badServer) *badServer {
		nc, err := nats.Connect(s.url, nats.UserInfo("b", "b"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return &badServer{name: s.name + " (account B)", url: s.url, nc: nc}
	}
	refB, oursB := asB(ref), asB(ours)
	for _, st := range []struct {
		name          string
		inB           bool
		subject, body string
	}{
		{"A reserves 40,000 bytes", false, "$JS.API.STREAM.CREATE.RA", `{"name":"RA","subjects":["ra"],"max_bytes":40000}`},
		{"B's 40,000 more pass the server's limit", true, "$JS.API.STREAM.CREATE.RB", `{"name":"RB","subjects":["rb"],"max_bytes":40000}`},
		{"B's 20,000 fit", true, "$JS.API.STREAM.CREATE.RB", `{"name":"RB","subjects":["rb"],"max_bytes":20000}`},
		{"B's update to 30,000 does not", true, "$JS.API.STREAM.UPDATE.RB", `{"name":"RB","subjects":["rb"],"max_bytes":30000}`},
		{"A deletes its reservation", false, "$JS.API.STREAM.DELETE.RA", ``},
		{"now B's update fits", true, "$JS.API.STREAM.UPDATE.RB", `{"name":"RB","subjects":["rb"],"max_bytes":60000}`},
		{"B deletes RB", true, "$JS.API.STREAM.DELETE.RB", ``},
		{"create F in A", false, "$JS.API.STREAM.CREATE.F", `{"name":"F","subjects":["f.>"]}`},
		{"create F in B", true, "$JS.API.STREAM.CREATE.F", `{"name":"F","subjects":["f.>"]}`},
	} {
		r, o := ref, ours
		if st.inB {
			r, o = refB, oursB
		}
		if got, want := ask(t, o.nc, st.subject, st.body), ask(t, r.nc, st.subject, st.body); got != want {
			t.Errorf("%s:\n  Murmur      %v\n  nats-server %v", st.name, got, want)
		}
	}
	refN, refErr := fillDisk(t, ref)
	n, gotErr := fillDisk(t, ours)
	t.Logf("account A stored before the refusal: Murmur %d, nats-server %d", n, refN)
	if gotErr != refErr || n == 0 || n > 64 {
		t.Errorf("A past max_file_store: Murmur %d then %v, nats-server %d then %v", n, gotErr, refN, refErr)
	}
	refN, refErr = fillDisk(t, refB)
	n, gotErr = fillDisk(t, oursB)
	if gotErr != refErr || n != refN {
		t.Errorf("B once A filled the server: Murmur %d then %v, nats-server %d then %v", n, gotErr, refN, refErr)
	}
}
