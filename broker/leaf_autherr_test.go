package broker_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// A leaf that fails to log in is reported on the hub's
// $SYS.SERVER.<id>.CLIENT.AUTH.ERR, as a client is: kind Leafnode, the
// user it tried, account N/A, "Authentication Failure". Our hub and nats-server's.
func TestLeafAuthErrorEvent(t *testing.T) {
	hubs := eventHubs(t)
	var got [2]string
	for i, h := range hubs {
		sub, _ := h.sys.SubscribeSync("$SYS.SERVER.*.CLIENT.AUTH.ERR")
		h.sys.Flush()
		startLeafOf(t, withUser(h.leafURL, "leafa", "wrong"), nil)
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: no AUTH.ERR event: %v", h.who, err)
		}
		var ev struct {
			Type   string `json:"type"`
			Client struct {
				Kind string `json:"kind"`
				Acc  string `json:"acc"`
				User string `json:"user"`
				Host string `json:"host"`
			} `json:"client"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		got[i] = fmt.Sprintf("%s %s %s %s %s %q", ev.Type, ev.Client.Kind, ev.Client.Acc, ev.Client.User, ev.Client.Host, ev.Reason)
		t.Logf("%s: %s", h.who, m.Data)
	}
	if got[0] != got[1] {
		t.Errorf("AUTH.ERR event of a leaf:\n  ours        %s\n  nats-server %s", got[0], got[1])
	}
}
