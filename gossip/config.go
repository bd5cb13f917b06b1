package gossip

import (
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"
)

// DefaultPort is the suggested gossip port (UDP and TCP).
const DefaultPort = 4248

// Profiles select memberlist's timing defaults (docs/gossip.md has the table).
const (
	ProfileLAN   = "lan"   // memberlist.DefaultLANConfig: the default
	ProfileWAN   = "wan"   // memberlist.DefaultWANConfig: slower, for high latency
	ProfileLocal = "local" // memberlist.DefaultLocalConfig: loopback and tests
)

// Config configures one gossip node. Build it with DefaultConfig, change
// fields, then pass it to New, which calls Validate.
type Config struct {
	// Cluster is the cluster name. Nodes only talk to nodes with the same
	// name: it is memberlist's Label, and members whose Meta.Cluster
	// differs are refused.
	Cluster string

	// Name is this node's memberlist name, unique in the cluster. Empty
	// means Meta.ID.
	Name string

	// BindAddr is the IP to listen on, UDP and TCP. "0.0.0.0" binds all
	// interfaces and advertises a private IP.
	BindAddr string
	// BindPort is the port to listen on; 0 picks a free one (see
	// Gossip.Port for the real one).
	BindPort int

	// AdvertiseAddr and AdvertisePort are what other nodes use to reach
	// this one, for NAT or containers. Empty / 0 mean the bound values.
	AdvertiseAddr string
	AdvertisePort int

	// Seeds are "host:port" addresses of nodes to join through. Empty means
	// this node starts a cluster alone and waits to be joined.
	Seeds []string

	// SecretKey is the base64 form of the gossip encryption key (16, 24 or
	// 32 bytes after decoding: AES-128/192/256). SecretKeyRaw is the same as
	// raw bytes. Set at most one; with neither, gossip is not encrypted.
	SecretKey    string
	SecretKeyRaw []byte
	// ExtraKeys are more base64 keys accepted for decrypting (never used to
	// send): the middle step of a rotation without downtime.
	ExtraKeys []string

	// Profile is ProfileLAN, ProfileWAN or ProfileLocal; empty means LAN.
	Profile string

	// Timing overrides single timings of the profile; zero fields keep the
	// profile's value.
	Timing Timing

	// RejoinInterval is how often the node re-joins its seeds and the
	// addresses of recently dead members, so that a partition heals after
	// memberlist has given up on the other side. Zero means 30 s; negative
	// disables re-joining.
	RejoinInterval time.Duration
	// DeadRetention is how long a dead or departed member stays in Members
	// and (if dead) in the re-join list. Zero means one hour.
	DeadRetention time.Duration

	// JoinBackoffMin and JoinBackoffMax bound the retry delay of the first
	// join, which doubles from min to max until a seed answers. Zero means
	// 250 ms and 30 s.
	JoinBackoffMin time.Duration
	JoinBackoffMax time.Duration

	// Logger receives gossip's own logs; memberlist's log lines are routed
	// into it at debug level. Nil means zap.NewNop().
	Logger *zap.Logger

	// Meta is the local node's metadata, gossiped to all members. Its
	// encoding must fit in MaxMetaSize bytes.
	Meta Meta

	// Faults, when set, lets a test cut all of this node's gossip traffic
	// (see Faults). Leave nil in production.
	Faults *Faults

	// noLabel disables the memberlist label so tests can reach the
	// Meta.Cluster check behind it.
	noLabel bool
}

// Timing holds optional overrides of memberlist timings. Zero keeps the
// profile default.
type Timing struct {
	// ProbeInterval is the failure-detector probe period.
	ProbeInterval time.Duration
	// ProbeTimeout is how long to wait for a probe's ack.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect node has to refute before
	// it is declared dead (in probe intervals, times log10 of cluster size).
	SuspicionMult int
	// GossipInterval is the period of the UDP gossip rounds.
	GossipInterval time.Duration
	// PushPullInterval is the period of the TCP full state exchange.
	PushPullInterval time.Duration
	// GossipToTheDeadTime is how long dead nodes still receive gossip
	// before memberlist forgets about them.
	GossipToTheDeadTime time.Duration
	// TCPTimeout bounds TCP push/pull and fallback probes.
	TCPTimeout time.Duration
	// DeadNodeReclaimTime lets a dead node's name be reused from another
	// address after this long; memberlist's default 0 means never.
	DeadNodeReclaimTime time.Duration
}

// DefaultConfig returns a Config with the defaults: LAN profile, port 4248
// on all interfaces, cluster "murmur".
func DefaultConfig() Config {
	return Config{
		Cluster:        "murmur",
		BindAddr:       "0.0.0.0",
		BindPort:       DefaultPort,
		Profile:        ProfileLAN,
		RejoinInterval: 30 * time.Second,
		DeadRetention:  time.Hour,
		JoinBackoffMin: 250 * time.Millisecond,
		JoinBackoffMax: 30 * time.Second,
	}
}

// Validate checks the configuration and returns an error naming the first
// bad field. It does not modify c.
func (c *Config) Validate() error {
	if c.Cluster == "" {
		return fmt.Errorf("gossip: Cluster is required")
	}
	if len(c.Cluster) > memberlist.LabelMaxSize {
		return fmt.Errorf("gossip: Cluster is %d bytes, at most %d", len(c.Cluster), memberlist.LabelMaxSize)
	}
	if strings.ContainsFunc(c.Cluster, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("gossip: Cluster %q contains white space or control characters", c.Cluster)
	}
	if c.Meta.Cluster != "" && c.Meta.Cluster != c.Cluster {
		return fmt.Errorf("gossip: Meta.Cluster %q differs from Cluster %q", c.Meta.Cluster, c.Cluster)
	}
	if c.nodeName() == "" {
		return fmt.Errorf("gossip: Name is required (or set Meta.ID)")
	}
	if c.BindAddr == "" || net.ParseIP(c.BindAddr) == nil {
		return fmt.Errorf("gossip: BindAddr %q is not an IP address", c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		return fmt.Errorf("gossip: BindPort %d out of range 0-65535", c.BindPort)
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		return fmt.Errorf("gossip: AdvertiseAddr %q is not an IP address", c.AdvertiseAddr)
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return fmt.Errorf("gossip: AdvertisePort %d out of range 0-65535", c.AdvertisePort)
	}
	if err := validateSeeds(c.Seeds); err != nil {
		return err
	}
	key, err := c.secretKey()
	if err != nil {
		return err
	}
	for i, k := range c.ExtraKeys {
		if key == nil {
			return fmt.Errorf("gossip: ExtraKeys need a SecretKey")
		}
		if _, err := DecodeKey(k); err != nil {
			return fmt.Errorf("gossip: ExtraKeys[%d]: %w", i, err)
		}
	}
	if _, err := profileConfig(c.Profile); err != nil {
		return err
	}
	if err := c.Timing.validate(); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DeadRetention", c.DeadRetention}, {"JoinBackoffMin", c.JoinBackoffMin}, {"JoinBackoffMax", c.JoinBackoffMax}} {
		if d.v < 0 {
			return fmt.Errorf("gossip: %s %v is negative", d.name, d.v)
		}
	}
	if c.JoinBackoffMax != 0 && c.JoinBackoffMin > c.JoinBackoffMax {
		return fmt.Errorf("gossip: JoinBackoffMin %v exceeds JoinBackoffMax %v", c.JoinBackoffMin, c.JoinBackoffMax)
	}
	if err := validateMeta("Meta", c.Meta); err != nil {
		return err
	}
	if _, err := encodeMeta(wireMeta{Meta: c.localMeta()}); err != nil {
		return fmt.Errorf("gossip: Meta: %w", err)
	}
	return nil
}

func (t Timing) validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Timing.ProbeInterval", t.ProbeInterval}, {"Timing.ProbeTimeout", t.ProbeTimeout},
		{"Timing.GossipInterval", t.GossipInterval}, {"Timing.PushPullInterval", t.PushPullInterval},
		{"Timing.GossipToTheDeadTime", t.GossipToTheDeadTime}, {"Timing.TCPTimeout", t.TCPTimeout},
		{"Timing.DeadNodeReclaimTime", t.DeadNodeReclaimTime},
	} {
		if d.v < 0 {
			return fmt.Errorf("gossip: %s %v is negative", d.name, d.v)
		}
	}
	if t.SuspicionMult < 0 {
		return fmt.Errorf("gossip: Timing.SuspicionMult %d is negative", t.SuspicionMult)
	}
	return nil
}

func validateSeeds(seeds []string) error {
	for i, s := range seeds {
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" {
			return fmt.Errorf("gossip: Seeds[%d] %q: want host:port", i, s)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return fmt.Errorf("gossip: Seeds[%d] %q: bad port", i, s)
		}
	}
	return nil
}

// nodeName is Name, defaulting to the broker id.
func (c *Config) nodeName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Meta.ID
}

// localMeta is Meta with the fields gossip fills in.
func (c *Config) localMeta() Meta {
	m := c.Meta.clone()
	m.Cluster = c.Cluster
	if m.Name == "" {
		m.Name = c.nodeName()
	}
	return m
}

// secretKey returns the configured key, nil if none.
func (c *Config) secretKey() ([]byte, error) {
	switch {
	case c.SecretKey != "" && len(c.SecretKeyRaw) > 0:
		return nil, fmt.Errorf("gossip: set SecretKey or SecretKeyRaw, not both")
	case c.SecretKey != "":
		k, err := DecodeKey(c.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("gossip: SecretKey: %w", err)
		}
		return k, nil
	case len(c.SecretKeyRaw) > 0:
		if err := memberlist.ValidateKey(c.SecretKeyRaw); err != nil {
			return nil, fmt.Errorf("gossip: SecretKeyRaw is %d bytes: %w", len(c.SecretKeyRaw), err)
		}
		return c.SecretKeyRaw, nil
	}
	return nil, nil
}

// DecodeKey decodes a base64 gossip key (standard or URL alphabet, padded
// or not) and checks that it is 16, 24 or 32 bytes long.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var k []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if err := memberlist.ValidateKey(k); err != nil {
		return nil, fmt.Errorf("decodes to %d bytes: %w", len(k), err)
	}
	return k, nil
}

// profileConfig returns memberlist's defaults for a profile.
func profileConfig(p string) (*memberlist.Config, error) {
	switch strings.ToLower(p) {
	case "", ProfileLAN:
		return memberlist.DefaultLANConfig(), nil
	case ProfileWAN:
		return memberlist.DefaultWANConfig(), nil
	case ProfileLocal:
		return memberlist.DefaultLocalConfig(), nil
	}
	return nil, fmt.Errorf("gossip: Profile %q: want %q, %q or %q", p, ProfileLAN, ProfileWAN, ProfileLocal)
}

// apply copies the non-zero overrides onto mc.
func (t Timing) apply(mc *memberlist.Config) {
	set := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	set(&mc.ProbeInterval, t.ProbeInterval)
	set(&mc.ProbeTimeout, t.ProbeTimeout)
	set(&mc.GossipInterval, t.GossipInterval)
	set(&mc.PushPullInterval, t.PushPullInterval)
	set(&mc.GossipToTheDeadTime, t.GossipToTheDeadTime)
	set(&mc.TCPTimeout, t.TCPTimeout)
	set(&mc.DeadNodeReclaimTime, t.DeadNodeReclaimTime)
	if t.SuspicionMult > 0 {
		mc.SuspicionMult = t.SuspicionMult
	}
}

// withDefaults fills the zero durations of a validated config.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.RejoinInterval == 0 {
		c.RejoinInterval = d.RejoinInterval
	}
	if c.DeadRetention == 0 {
		c.DeadRetention = d.DeadRetention
	}
	if c.JoinBackoffMin == 0 {
		c.JoinBackoffMin = min(d.JoinBackoffMin, max(c.JoinBackoffMax, time.Millisecond))
	}
	if c.JoinBackoffMax == 0 {
		c.JoinBackoffMax = max(d.JoinBackoffMax, c.JoinBackoffMin)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	c.Seeds = append([]string(nil), c.Seeds...)
	return c
}
