package gossip

import "testing"

// TestNewKey: a new key decodes as a 32-byte key, validates in a Config,
// and is not the same twice.
func TestNewKey(t *testing.T) {
	a, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKey()
	k, err := DecodeKey(a)
	if err != nil || len(k) != 32 {
		t.Fatalf("DecodeKey(%q): %d bytes, %v", a, len(k), err)
	}
	if a == b {
		t.Fatalf("two keys alike: %s", a)
	}
	c := DefaultConfig()
	c.Name, c.SecretKey = "n", a
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate with a new key: %v", err)
	}
}
