package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// A user JWT's allowed_connection_types holds for leaf logins as
// nats-server's: LEAFNODE admits a leaf, STANDARD alone does not. Our
// hub and nats-server's, our leaf dialing both.
func TestLeafAllowedConnectionTypes(t *testing.T) {
	tr := newTrust(t)
	sys := tr.account("SYS", nil, nil)
	acc := tr.account("EDGE", nil, nil)
	leafOK := tr.user(acc, "leaf", nil, func(uc *jwt.UserClaims) { uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeLeafnode) })
	leafNo := tr.user(acc, "client", nil, func(uc *jwt.UserClaims) { uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard) })

	o := testOptions()
	o.Auth = &broker.AuthOptions{Operator: &broker.OperatorOptions{Operators: []string{tr.opJWT}, Resolver: tr.resolver}, SystemAccount: sys.pub}
	o.LeafNode = &broker.LeafNodeOptions{Addr: "127.0.0.1:0"}
	ours := startServer(t, o, nil)

	opFile := filepath.Join(t.TempDir(), "op.jwt")
	if err := os.WriteFile(opFile, []byte(tr.opJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	lp := testutil.FreePort(t)
	startNatsConf(t, fmt.Sprintf(`operator: %q
system_account: %s
resolver: MEMORY
resolver_preload: { %s: %q, %s: %q }
leafnodes { listen: "127.0.0.1:%d" }`, opFile, sys.pub, sys.pub, tr.signed(sys), acc.pub, tr.signed(acc), lp))

	for _, hub := range []string{leafURL(ours), fmt.Sprintf("nats://127.0.0.1:%d", lp)} {
		lo := testOptions()
		logs := observed(&lo)
		lo.LeafNode = &broker.LeafNodeOptions{Remotes: []broker.RemoteLeaf{{URLs: []string{hub}, Credentials: leafNo}}, Reconnect: 200 * time.Millisecond}
		no := startServer(t, lo, nil)
		testutil.Eventually(t, 10*time.Second, hub+" refuses the STANDARD user", func() bool { return logged(logs, "Authorization Violation") })
		if no.NumLeafs() != 0 {
			t.Fatalf("%s admitted a leaf whose user allows STANDARD only", hub)
		}
		ok := startLeafOf(t, hub, func(r *broker.RemoteLeaf) { r.Credentials = leafOK })
		waitLeafs(t, ok, 1)
		if ok.Leafs(false)[0].Remote != acc.pub {
			t.Fatalf("bound to %q", ok.Leafs(false)[0].Remote)
		}
	}
}
