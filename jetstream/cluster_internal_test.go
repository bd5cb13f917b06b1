package jetstream

import "testing"

// apiScope decides where a request goes: the owner of the stream it
// names, every broker, or the local engine.
func TestAPIScope(t *testing.T) {
	for _, c := range []struct {
		op      string
		stream  string
		account bool
	}{
		{"INFO", "", true},
		{"STREAM.NAMES", "", true},
		{"STREAM.LIST", "", true},
		{"STREAM.CREATE.S", "S", false},
		{"STREAM.UPDATE.S", "S", false},
		{"STREAM.INFO.S", "S", false},
		{"STREAM.DELETE.S", "S", false},
		{"STREAM.PURGE.S", "S", false},
		{"STREAM.MSG.GET.S", "S", false},
		{"STREAM.MSG.DELETE.S", "S", false},
		{"STREAM.LEADER.STEPDOWN.S", "S", false},
		{"DIRECT.GET.S", "S", false},
		{"DIRECT.GET.S.a.b", "S", false},
		{"CONSUMER.CREATE.S", "S", false},
		{"CONSUMER.CREATE.S.C.f.>", "S", false},
		{"CONSUMER.DURABLE.CREATE.S.C", "S", false},
		{"CONSUMER.INFO.S.C", "S", false},
		{"CONSUMER.DELETE.S.C", "S", false},
		{"CONSUMER.NAMES.S", "S", false},
		{"CONSUMER.LIST.S", "S", false},
		{"CONSUMER.MSG.NEXT.S.C", "S", false},
		{"CONSUMER.PAUSE.S.C", "S", false},
		{"ACCOUNT.PURGE.X", "", false},
		{"INFO.X", "", false},
		{"STREAM.NAMES.X", "", false}, // not the names request: the local engine refuses it
		{"", "", false},
	} {
		s, acc := apiScope(c.op)
		if s != c.stream || acc != c.account {
			t.Errorf("apiScope(%q) = %q %v, want %q %v", c.op, s, acc, c.stream, c.account)
		}
	}
}
