package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// A remote with a .creds file binds the leaf to the account its user JWT
// belongs to on an operator-mode hub: ours, and nats-server's.
func TestLeafCredentials(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	acc := tr.account("EDGE", nil, nil)
	leafCreds := tr.user(acc, "leaf", nil, nil)
	clientCreds := tr.user(acc, "client", nil, nil)

	// Our operator-mode hub.
	o := testOptions()
	o.Auth = &broker.AuthOptions{Operator: &broker.OperatorOptions{Operators: []string{tr.opJWT}, Resolver: tr.resolver}, SystemAccount: sys.pub}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	hub := startServer(t, o, nil)
	leaf := startLeafOf(t, leafURL(hub), func(r *broker.RemoteLeaf) { r.Credentials = leafCreds })
	waitLeafs(t, hub, 1)
	if l := hub.Leafs(false)[0]; l.Account != acc.pub {
		t.Fatalf("bound to %q, want %q", l.Account, acc.pub)
	}
	exercise(t, mustCreds(t, hub, clientCreds), connectTCP(t, leaf), ourInterest(t, hub), ourInterest(t, leaf))

	// A nats-server hub in operator mode, MEMORY resolver.
	theirHub, theirURL := startNatsOperatorHub(t, tr, sys, acc)
	ours := startLeafOf(t, theirURL, func(r *broker.RemoteLeaf) { r.Credentials = leafCreds })
	waitLeafs(t, ours, 1)
	if l := ours.Leafs(false)[0]; l.Remote != acc.pub {
		t.Fatalf("the nats-server hub bound us to %q, want %q", l.Remote, acc.pub)
	}
	exercise(t, theirHub.connect(nats.UserCredentials(clientCreds)), connectTCP(t, ours), theirHub.waitInterest, ourInterest(t, ours))
}

// startNatsOperatorHub runs nats-server in operator mode (MEMORY resolver
// preloaded with sys and acc) with a leaf node listener, and returns it
// and that listener's URL.
func startNatsOperatorHub(t *testing.T, tr *trust, sys, acc *testAccount) (*natsProc, string) {
	t.Helper()
	opFile := filepath.Join(t.TempDir(), "op.jwt")
	if err := os.WriteFile(opFile, []byte(tr.opJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	lp := testutil.FreePort(t)
	hub := startNatsConf(t, fmt.Sprintf(`operator: %q
system_account: %s
resolver: MEMORY
resolver_preload: { %s: %q, %s: %q }
leafnodes { listen: "127.0.0.1:%d" }`, opFile, sys.pub, sys.pub, tr.signed(sys), acc.pub, tr.signed(acc), lp))
	return hub, fmt.Sprintf("nats://127.0.0.1:%d", lp)
}
