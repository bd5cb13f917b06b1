package gossip

import (
	"strings"
	"testing"
	"time"
)

func TestValidateNamesTheField(t *testing.T) {
	for field, mutate := range map[string]func(*Config){
		"Cluster":       func(c *Config) { c.Cluster = "" },
		"Cluster ":      func(c *Config) { c.Cluster = "a b" },
		"Name":          func(c *Config) { c.Name, c.Meta.ID = "", "" },
		"BindAddr":      func(c *Config) { c.BindAddr = "localhost" },
		"BindPort":      func(c *Config) { c.BindPort = 70000 },
		"AdvertiseAddr": func(c *Config) { c.AdvertiseAddr = "nope" },
		"AdvertisePort": func(c *Config) { c.AdvertisePort = -1 },
		"Seeds[1]":      func(c *Config) { c.Seeds = []string{"10.0.0.1:4248", "10.0.0.2"} },
		"SecretKey":     func(c *Config) { c.SecretKey = "c2hvcnQ=" },
		"SecretKey ":    func(c *Config) { c.SecretKey = "!!!" },
		"SecretKeyRaw":  func(c *Config) { c.SecretKeyRaw = []byte("0123456789") },
		"or SecretKeyRaw": func(c *Config) {
			c.SecretKey, c.SecretKeyRaw = "AAECAwQFBgcICQoLDA0ODw==", []byte("0123456789abcdef")
		},
		"Profile":                func(c *Config) { c.Profile = "fast" },
		"Timing.ProbeInterval":   func(c *Config) { c.Timing.ProbeInterval = -time.Second },
		"Timing.SuspicionMult":   func(c *Config) { c.Timing.SuspicionMult = -1 },
		"JoinBackoffMin":         func(c *Config) { c.JoinBackoffMin, c.JoinBackoffMax = time.Minute, time.Second },
		"Meta.Cluster":           func(c *Config) { c.Meta.Cluster = "other" },
		"Meta.RouteURL":          func(c *Config) { c.Meta.RouteURL = "10.0.0.1:6222" },
		"Meta.ClientURLs":        func(c *Config) { c.Meta.ClientURLs = []string{"x"} },
		"Meta: gossip: metadata": func(c *Config) { c.Meta.Version = strings.Repeat("v", 600) },
	} {
		c := testConfig("x")
		mutate(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: no error", field)
			continue
		}
		if !strings.Contains(err.Error(), strings.TrimSpace(field)) {
			t.Errorf("%s: error %q does not name the field", field, err)
		}
	}
	c := testConfig("x")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	d.Meta.ID = "srv1"
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultConfig with an ID: %v", err)
	}
}

func TestDecodeKey(t *testing.T) {
	for _, s := range []string{
		"AAECAwQFBgcICQoLDA0ODw==", "AAECAwQFBgcICQoLDA0ODw", " AAECAwQFBgcICQoLDA0ODw==\n",
		"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3", // 24 bytes
		"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	} {
		if _, err := DecodeKey(s); err != nil {
			t.Errorf("DecodeKey(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "c2hvcnQ=", "%%%"} {
		if _, err := DecodeKey(s); err == nil {
			t.Errorf("DecodeKey(%q) accepted", s)
		}
	}
}

func TestPortZeroReportsRealPortAndNameDefaultsToID(t *testing.T) {
	cfg := testConfig("")
	cfg.Meta.ID = "srv-42"
	n := start(t, cfg)
	if n.Port() == 0 || n.AdvertiseAddr() != joinHostPort("127.0.0.1", n.Port()) {
		t.Errorf("Port %d, AdvertiseAddr %q", n.Port(), n.AdvertiseAddr())
	}
	if n.Name() != "srv-42" || n.LocalMember().Meta.Name != "srv-42" || !n.LocalMember().Local {
		t.Errorf("name %q, local %+v", n.Name(), n.LocalMember())
	}
	select {
	case <-n.Joined(): // no seeds: first node
	default:
		t.Error("Joined not closed without seeds")
	}

	cfg = testConfig("adv")
	cfg.AdvertiseAddr, cfg.AdvertisePort = "10.1.2.3", 7000
	a := start(t, cfg)
	if a.AdvertiseAddr() != "10.1.2.3:7000" || a.LocalMember().GossipAddr() != "10.1.2.3:7000" {
		t.Errorf("advertise %q, member %q", a.AdvertiseAddr(), a.LocalMember().GossipAddr())
	}
}
