package jetstream_test

import (
	"fmt"
	"testing"
)

// TestImportedAPIAnsweredOnce: account X has no JetStream but imports
// $JS.API.> from account A, which has. X's clients reach A's JetStream,
// and nothing answers beside it with 10039 "jetstream not enabled for
// account" (a race the first answer won, before). Side by side with
// nats-server on the same config.
func TestImportedAPIAnsweredOnce(t *testing.T) {
	conf := func(sd string) string {
		return writeJSConf(t, fmt.Sprintf(`jetstream { store_dir: %q }
accounts {
  A: { jetstream: enabled, users: [{user: a, password: a}], exports: [{service: "$JS.API.>"}] }
  X: { users: [{user: x, password: x}], imports: [{service: {account: A, subject: "$JS.API.>"}}] }
}
no_auth_user: x
`, sd))
	}
	rsd, osd := t.TempDir(), t.TempDir()
	ref := startBadNatsServer(t, rsd, conf(rsd))
	ours := startBadMurmur(t, osd, conf(osd))
	steps := []struct{ name, subject, body string }{
		{"create S through the import", "$JS.API.STREAM.CREATE.S", `{"name":"S","subjects":["s.>"]}`},
		{"stream info", "$JS.API.STREAM.INFO.S", ``},
		{"missing stream", "$JS.API.STREAM.INFO.NOPE", ``},
	}
	for range 20 {
		steps = append(steps, struct{ name, subject, body string }{"account info", "$JS.API.INFO", ``})
	}
	for _, st := range steps {
		if got, want := ask(t, ours.nc, st.subject, st.body), ask(t, ref.nc, st.subject, st.body); got != want {
			t.Errorf("%s:\n  Murmur      %v\n  nats-server %v", st.name, got, want)
		}
	}
}
