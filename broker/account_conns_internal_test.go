package broker

import "testing"

// Changes of more accounts than any queue would hold, while the responder
// is busy, are each reported once: none is dropped.
func TestDirtyAccountsKeepEvery(t *testing.T) {
	d := dirtyAccounts{wake: make(chan struct{}, 1)}
	accs := make([]*account, 1000)
	for i := range accs {
		accs[i] = &account{}
		d.mark(accs[i])
		d.mark(accs[i]) // twice: reported once
	}
	select {
	case <-d.wake:
	default:
		t.Fatal("no wake-up for the marked accounts")
	}
	got := d.take()
	if len(got) != len(accs) {
		t.Fatalf("took %d accounts, want %d", len(got), len(accs))
	}
	if again := d.take(); len(again) != 0 {
		t.Fatalf("took %d more after the set was emptied", len(again))
	}
}
