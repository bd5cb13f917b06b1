//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/internal/testutil"
)

// jsOperatorConf writes an operator-mode config (MEMORY resolver) with an
// account A whose JWT grants JetStream with limits, an account B whose JWT
// does not, and an account T whose JWT has only tiered limits (tier R1,
// as `nsc edit account --js-tier 1` writes them), and returns a %d-%d-%q
// template (client port, HTTP port, store dir) and the creds of a user of
// each.
func jsOperatorConf(t *testing.T) (tmpl string, credsA, credsB, credsT string) {
	t.Helper()
	dir := t.TempDir()
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	opFile := filepath.Join(dir, "op.jwt")
	if err := os.WriteFile(opFile, []byte(opJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	sysJWT, _ := jwt.NewAccountClaims(sysPub).Encode(op)
	account := func(name string, js *jwt.JetStreamLimits, tiers jwt.JetStreamTieredLimits) (pub, tok, creds string) {
		kp, _ := nkeys.CreateAccount()
		pub, _ = kp.PublicKey()
		ac := jwt.NewAccountClaims(pub)
		ac.Name = name
		if js != nil {
			ac.Limits.JetStreamLimits = *js
		}
		ac.Limits.JetStreamTieredLimits = tiers
		tok, err := ac.Encode(op)
		if err != nil {
			t.Fatal(err)
		}
		ukp, _ := nkeys.CreateUser()
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		utok, err := uc.Encode(kp)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := ukp.Seed()
		b, _ := jwt.FormatUserConfig(utok, seed)
		creds = filepath.Join(dir, name+".creds")
		if err := os.WriteFile(creds, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return pub, tok, creds
	}
	aPub, aJWT, credsA := account("A", &jwt.JetStreamLimits{MemoryStorage: 1000, DiskStorage: 5000, Streams: 1, Consumer: 2, MaxAckPending: 9, MemoryMaxStreamBytes: 0, DiskMaxStreamBytes: 4000}, nil)
	bPub, bJWT, credsB := account("B", nil, nil)
	tPub, tJWT, credsT := account("T", nil, jwt.JetStreamTieredLimits{"R1": {MemoryStorage: 2000, DiskStorage: 8000, Streams: 1, Consumer: 3, MaxAckPending: 7}})
	tmpl = fmt.Sprintf(`listen: 127.0.0.1:%%d
http: 127.0.0.1:%%d
jetstream { store_dir: %%q }
operator: %s
system_account: %s
resolver: MEMORY
resolver_preload: {
  %s: %s
  %s: %s
  %s: %s
  %s: %s
}
`, opFile, sysPub, sysPub, sysJWT, aPub, aJWT, bPub, bJWT, tPub, tJWT)
	return tmpl, credsA, credsB, credsT
}

// TestJetStreamOperatorSideBySide: in operator mode the account JWT's
// jetstream limits enable and limit an account, and an account whose JWT
// has none answers 10039, on Murmur as on nats-server.
func TestJetStreamOperatorSideBySide(t *testing.T) {
	tmpl, credsA, credsB, credsT := jsOperatorConf(t)
	procs := []*jsProc{
		startJSProc(t, testutil.BrokerBinary(t), tmpl, "--gossip_port", "0"),
		startJSProc(t, testutil.NatsServer(t), tmpl),
	}
	steps := []struct{ who, subject, body string }{
		{"b", "$JS.API.INFO", ""},
		{"a", "$JS.API.STREAM.CREATE.X", `{"name":"X","subjects":["x"],"max_bytes":4001}`},
		{"a", "$JS.API.STREAM.CREATE.X", `{"name":"X","subjects":["x"],"max_bytes":4000}`},
		{"a", "$JS.API.STREAM.CREATE.Y", `{"name":"Y","subjects":["y"]}`},
		{"a", "$JS.API.CONSUMER.CREATE.X.c", `{"stream_name":"X","config":{"name":"c","ack_policy":"explicit","max_ack_pending":10}}`},
		{"a", "$JS.API.CONSUMER.CREATE.X.c", `{"stream_name":"X","config":{"name":"c","ack_policy":"explicit"}}`},
		// T's limits are tier R1's: an R1 stream counts against them.
		{"t", "$JS.API.STREAM.CREATE.T1", `{"name":"T1","subjects":["t1"],"max_bytes":1000}`},
		{"t", "$JS.API.STREAM.CREATE.T2", `{"name":"T2","subjects":["t2"]}`},
		{"t", "$JS.API.CONSUMER.CREATE.T1.c", `{"stream_name":"T1","config":{"name":"c","ack_policy":"explicit","max_ack_pending":8}}`},
	}
	var codes [2][]int
	var infos, tinfos [2]map[string]any
	for i, p := range procs {
		conns := map[string]*nats.Conn{}
		for who, creds := range map[string]string{"a": credsA, "b": credsB, "t": credsT} {
			nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", p.port), nats.UserCredentials(creds))
			if err != nil {
				t.Fatalf("%s: %s: %v", p.name, who, err)
			}
			defer nc.Close()
			conns[who] = nc
		}
		for _, s := range steps {
			c, _ := answer(t, conns[s.who], s.subject, s.body)
			codes[i] = append(codes[i], c)
		}
		_, infos[i] = answer(t, conns["a"], "$JS.API.INFO", "")
		_, tinfos[i] = answer(t, conns["t"], "$JS.API.INFO", "")
	}
	for i, s := range steps {
		if codes[0][i] != codes[1][i] {
			t.Errorf("%s %s %s: err_code %d, nats-server %d", s.who, s.subject, s.body, codes[0][i], codes[1][i])
		}
	}
	if codes[1][0] != 10039 || codes[1][3] != 10027 || codes[1][7] != 10027 {
		t.Errorf("nats-server's codes %v: the test's premises changed", codes[1])
	}
	for _, k := range []string{"limits", "streams", "consumers", "reserved_storage"} {
		if !reflect.DeepEqual(infos[0][k], infos[1][k]) {
			t.Errorf("A's $JS.API.INFO %s: murmur %v, nats-server %v", k, infos[0][k], infos[1][k])
		}
	}
	for _, k := range []string{"limits", "streams", "consumers", "tiers"} {
		if !reflect.DeepEqual(tinfos[0][k], tinfos[1][k]) {
			t.Errorf("T's $JS.API.INFO %s: murmur %v, nats-server %v", k, tinfos[0][k], tinfos[1][k])
		}
	}
}
