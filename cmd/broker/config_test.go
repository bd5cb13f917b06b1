package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// writeConf writes a config file into a temp dir and returns its path.
func writeConf(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "murmur.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// selfSigned writes a self-signed certificate and key for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// Every key of the file lands in the options.
func TestConfigEveryKey(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	text := `# every key
ALICE_PASS: "a-secret"
server_name: murmur-test
listen: 127.0.0.2:4333
http: 127.0.0.1:8333
max_payload: 512KB
max_pending: 32MB
max_control_line: 2kb
max_connections: 100
max_subscriptions: 50
ping_interval: "30s"
ping_max: 3
write_deadline: 5
logfile: "DIR/broker.log"
debug: true
trace: on
pid_file: "DIR/broker.pid"
stats_interval: "1m"
subject_sampling: false
lame_duck_duration: "30s"
lame_duck_grace_period: 2
authorization {
  users: [
    {user: alice, password: $ALICE_PASS, permissions: {publish: "orders.>", subscribe: ["_INBOX.>", "orders.*"]}}
    {user: bob, password: $2a$11$abcdefghijklmnopqrstuv}
    {user: carol, password: c, permissions: {publish: {allow: ["a.>"], deny: "a.secret"}, subscribe: {deny: [x]}}}
  ]
  timeout: 0.5
}
tls {
  cert_file: "CERT"
  key_file: "KEY"
  ca_file: "CERT"
  verify: true
  handshake_first: true
  timeout: "3s"
}
quic { port: 4224, host: 127.0.0.3, cert_file: "CERT", key_file: "KEY" }
cluster { listen: 127.0.0.1:6333, name: blue, advertise: "10.0.0.1:6333", credential: s3cret, compression: false }
gossip {
  listen: 127.0.0.1:4999
  advertise: "10.0.0.1:4998"
  seeds: [127.0.0.1:5000, "127.0.0.1:5001"]
  key: "MDEyMzQ1Njc4OWFiY2RlZg=="
  extra_keys: ["ZmVkY2JhOTg3NjU0MzIxMA=="]
  profile: wan
  cluster_name: blue
  probe_interval: "2s"
}
system_account { user: sys, password: pw }
`
	text = strings.NewReplacer("DIR", dir, "CERT", cert, "KEY", key).Replace(text)
	cfg, err := parseFlags([]string{"-c", writeConf(t, dir, text)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opts
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("server_name", o.Name, "murmur-test")
	check("listen", o.Host+" "+itoa(o.Port), "127.0.0.2 4333")
	check("http", cfg.monitor.httpAddr+" "+itoa(cfg.monitor.httpPort), "127.0.0.1 8333")
	check("max_payload", o.MaxPayload, 512<<10)
	check("max_pending", o.MaxPending, 32<<20)
	check("max_control_line", o.MaxControlLine, 2048)
	check("max_connections", o.MaxConnections, 100)
	check("max_subscriptions", o.MaxSubscriptions, 50)
	check("ping_interval", o.PingInterval, 30*time.Second)
	check("ping_max", o.PingMax, 3)
	check("write_deadline", o.WriteDeadline, 5*time.Second)
	check("logfile", cfg.log.file, filepath.Join(dir, "broker.log"))
	check("debug/trace", [2]bool{cfg.log.debug, cfg.log.trace}, [2]bool{true, true})
	check("pid_file", cfg.cli.pidFile, filepath.Join(dir, "broker.pid"))
	check("stats_interval", cfg.monitor.statsInterval, time.Minute)
	check("subject_sampling", o.NoSubjectSampling, true)
	check("lame_duck", o.LameDuck, broker.LameDuckOptions{Duration: 30 * time.Second, GracePeriod: 2 * time.Second})
	check("system_account", cfg.monitor.sysUser+"/"+cfg.monitor.sysPassword, "sys/pw")

	// The system_account user becomes the broker's system login (which
	// keeps every other user out of $SYS.>); the users stay as written.
	wantUsers := []broker.User{
		{Name: "alice", Password: "a-secret", Permissions: &broker.Permissions{
			Publish:   broker.SubjectRules{Allow: []string{"orders.>"}},
			Subscribe: broker.SubjectRules{Allow: []string{"_INBOX.>", "orders.*"}}}},
		{Name: "bob", Password: "$2a$11$abcdefghijklmnopqrstuv"},
		{Name: "carol", Password: "c", Permissions: &broker.Permissions{
			Publish: broker.SubjectRules{Allow: []string{"a.>"}, Deny: []string{"a.secret"}}, Subscribe: broker.SubjectRules{Deny: []string{"x"}}}},
	}
	check("system_account user", o.Auth.System, &broker.User{Name: "sys", Password: "pw"})
	check("authorization.users", o.Auth.Users, wantUsers)
	check("authorization.timeout", o.Auth.Timeout, 500*time.Millisecond)

	if o.TLS == nil || o.TLS.Config == nil {
		t.Fatal("tls: not applied")
	}
	check("tls.cert_file", len(o.TLS.Config.Certificates), 1)
	check("tls.verify", o.TLS.Config.ClientAuth, tls.RequireAndVerifyClientCert)
	check("tls.ca_file", o.TLS.Config.ClientCAs != nil, true)
	check("tls.handshake_first", o.TLS.HandshakeFirst, true)
	check("tls.timeout", o.TLS.Timeout, 3*time.Second)

	if cfg.quic == nil || len(o.Listeners) != 2 {
		t.Fatalf("quic: not applied: %+v", o.Listeners)
	}
	check("quic.host/port", o.Listeners[1].Addr, "127.0.0.3:4224")
	check("quic tcp listener", o.Listeners[0].Addr, "127.0.0.2:4333")
	check("quic.cert_file", cfg.quic.SelfSigned(), false)

	c := o.Cluster
	if c == nil || cfg.gossip == nil {
		t.Fatal("cluster/gossip: not applied")
	}
	check("cluster", []any{c.Listen.Addr, c.Name, c.Advertise, c.Credential, c.Compression}, []any{"127.0.0.1:6333", "blue", "10.0.0.1:6333", "s3cret", false})
	g := cfg.gossip
	check("gossip.listen", g.BindAddr+" "+itoa(g.BindPort), "127.0.0.1 4999")
	check("gossip.advertise", g.AdvertiseAddr+" "+itoa(g.AdvertisePort), "10.0.0.1 4998")
	check("gossip.seeds", g.Seeds, []string{"127.0.0.1:5000", "127.0.0.1:5001"})
	check("gossip.key", g.SecretKey, "MDEyMzQ1Njc4OWFiY2RlZg==")
	check("gossip.extra_keys", g.ExtraKeys, []string{"ZmVkY2JhOTg3NjU0MzIxMA=="})
	check("gossip.profile", g.Profile, "wan")
	check("gossip.cluster_name", g.Cluster, "blue")
	check("gossip.probe_interval", g.Timing.ProbeInterval, 2*time.Second)
}

func itoa(n int) string { return strconv.Itoa(n) }

// Aliases and the other forms of a key.
func TestConfigAliasesAndForms(t *testing.T) {
	cases := []struct {
		text  string
		check func(c *config) bool
	}{
		{"net: 10.1.1.1", func(c *config) bool { return c.opts.Host == "10.1.1.1" }},
		{"host: 10.1.1.1\nport: 5000", func(c *config) bool { return c.opts.Host == "10.1.1.1" && c.opts.Port == 5000 }},
		{"listen: 4555", func(c *config) bool { return c.opts.Host == "0.0.0.0" && c.opts.Port == 4555 }},
		{"monitor_port: 9000", func(c *config) bool { return c.monitor.httpPort == 9000 }},
		{"http_port: 0", func(c *config) bool { return c.monitor.httpPort == 0 }},
		{"http: 9001", func(c *config) bool { return c.monitor.httpPort == 9001 && c.monitor.httpAddr == "127.0.0.1" }},
		{"log_file: /tmp/x.log", func(c *config) bool { return c.log.file == "/tmp/x.log" }},
		{"max_conn: 5\nmax_subs: 6", func(c *config) bool { return c.opts.MaxConnections == 5 && c.opts.MaxSubscriptions == 6 }},
		{"MAX_PAYLOAD: 2KB", func(c *config) bool { return c.opts.MaxPayload == 2048 }},
		{"ping_interval: 2m", func(c *config) bool { return c.opts.PingInterval == 2*time.Minute }},
		{"ping_interval: 90", func(c *config) bool { return c.opts.PingInterval == 90*time.Second }},
		{"authorization { token: abc, timeout: 3 }", func(c *config) bool {
			return c.opts.Auth.Token == "abc" && c.opts.Auth.Timeout == 3*time.Second
		}},
		{"authorization { user: u, password: p }", func(c *config) bool {
			return reflect.DeepEqual(c.opts.Auth.Users, []broker.User{{Name: "u", Password: "p"}})
		}},
		{"authorization { users: [{username: u, pass: p, permissions: {pub: a, sub: [b]}}] }", func(c *config) bool {
			u := c.opts.Auth.Users[0]
			return u.Name == "u" && u.Password == "p" && u.Permissions.Publish.Allow[0] == "a" && u.Permissions.Subscribe.Allow[0] == "b"
		}},
		{"authorization { users: [{user: s, permissions: {subscribe: [\"svc.>\", \"q.x q1\"], allow_responses: true}}] }", func(c *config) bool {
			p := c.opts.Auth.Users[0].Permissions
			return p.Subscribe.Allow[1] == "q.x q1" && *p.Response == broker.ResponsePermission{MaxMsgs: 1, Expires: 2 * time.Minute}
		}},
		{"authorization { users: [{user: s, permissions: {allow_responses: {max: 5, expires: \"1m\"}}}] }", func(c *config) bool {
			return *c.opts.Auth.Users[0].Permissions.Response == broker.ResponsePermission{MaxMsgs: 5, Expires: time.Minute}
		}},
		{"authorization { users: [{user: s, permissions: {allow_responses: false}}] }", func(c *config) bool {
			return c.opts.Auth.Users[0].Permissions.Response == nil
		}},
		{"PORT: 4999\nport: $PORT", func(c *config) bool { return c.opts.Port == 4999 }},
		{"cluster { listen: 127.0.0.1:6222 }\ngossip { listen: 4300, advertise: 10.0.0.9 }", func(c *config) bool {
			return c.gossip.BindAddr == "127.0.0.1" && c.gossip.BindPort == 4300 && c.gossip.AdvertiseAddr == "10.0.0.9" && c.gossip.AdvertisePort == 0
		}},
		{"cluster { listen: 127.0.0.1:6222, name: x }\ngossip { cluster_name: x, seeds: 127.0.0.1:1 }", func(c *config) bool {
			return c.gossip.Cluster == "x" && c.opts.Cluster.Name == "x" && len(c.gossip.Seeds) == 1
		}},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		cfg, err := parseFlags([]string{"--config", writeConf(t, dir, tc.text)}, io.Discard)
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if !tc.check(cfg) {
			t.Errorf("%q: not applied: %+v", tc.text, cfg.opts)
		}
	}
}

// An unknown key or a wrong type stops the broker with file:line: key.
func TestConfigErrorsNamed(t *testing.T) {
	cases := []struct{ text, want string }{
		{"bogus: 1", ":1: bogus: unknown key"},
		{"X: 5", ":1: X: unknown key"},
		{"port: \"abc\"", ":1: port: want an integer, got a string"},
		{"\nmax_payload: true", ":2: max_payload: want an integer, got a boolean"},
		{"port: 70000", ":1: port: 70000 out of range -1..65535"},
		{"debug: 1", ":1: debug: want a boolean, got an integer"},
		{"ping_interval: \"soon\"", `:1: ping_interval: "soon" is not a duration`},
		{"ping_interval: \"-1s\"", ":1: ping_interval: duration -1s is negative"},
		{"listen: nohost", `:1: listen: "nohost" is not host:port`},
		{"system_account: sys", `:1: system_account: "sys" is not a defined account`},
		{"system_account: 5", ":1: system_account: want an account name (or a block with user and password), got an integer"},
		{"quic {\n  port: 1\n  bogus: 2\n}", ":3: quic.bogus: unknown key"},
		{"authorization {\n users: [\n  {user: a, pw: b}\n ]\n}", ":3: authorization.users[0].pw: unknown key"},
		{"authorization { users: [ {password: b} ] }", ":1: authorization.users[0]: user is required"},
		{"authorization { users: [ {user: a}\n {user: a} ] }", ":2: authorization.users[1].user: user \"a\" appears twice"},
		{"authorization { users: a }", ":1: authorization.users: want an array, got a string"},
		{"authorization {\n password: p }", ":2: authorization.password: password without user"},
		{"authorization { token: t, user: u }", ":1: authorization: set token or users, not both"},
		{"authorization { users: [ {user: a, permissions: {publish: {allow: 'a..b'}}} ] }", `authorization.users[0].permissions.publish.allow: invalid subject "a..b"`},
		{"authorization { users: [ {user: a, permissions: {publish: 5}} ] }", "authorization.users[0].permissions.publish: want a subject, a list of subjects or {allow, deny}, got an integer"},
		{"authorization { users: [ {user: a, permissions: {publish: 'foo q1'}} ] }", `authorization.users[0].permissions.publish: invalid subject "foo q1"`},
		{"authorization { users: [ {user: a, permissions: {subscribe: 'foo q1 extra'}} ] }", `authorization.users[0].permissions.subscribe: invalid subject "foo q1 extra"`},
		{"authorization { users: [ {user: a, permissions: {allow_responses: {max: x}}} ] }", `authorization.users[0].permissions.allow_responses.max: want an integer`},
		{"authorization { users: [ {user: a, permissions: {allow_responses: {bogus: 1}}} ] }", `authorization.users[0].permissions.allow_responses.bogus: unknown key`},
		{"tls { cert_file: nope.pem, key_file: nope.pem }", ":1: tls.cert_file: loading the key pair"},
		{"tls { verify: true }", ":1: tls: cert_file and key_file are required"},
		{"gossip { seeds: [1, 2] }", ":1: gossip.seeds[0]: want a string, got an integer"},
		{"gossip { advertise: host }", `:1: gossip.advertise: "host": want an IP or IP:port`},
		{"cluster { name: a }\ngossip { cluster_name: b }", `:2: gossip.cluster_name: "b" differs from cluster.name "a"`},
		{"cluster { listen: x }", `:1: cluster.listen: "x" is not host:port`},
		{"cluster { listen: 127.0.0.1:6222 }\ngossip { extra_keys: [\"MDEyMzQ1Njc4OWFiY2RlZg==\"] }", "ExtraKeys need a SecretKey"},
		{"port: $NOPE", ":1: port: variable $NOPE is not defined"},
		{"max_payload: 100MB", "max_payload: 104857600 exceeds the 64 MB limit"},
		{"accounts { A: { users: [ {user: a, password: x} ] }\n bogus: 5 }", ":2: accounts.bogus: want a block of users, exports and imports, got an integer"},
		{"accounts { A: { users: [], extra: 1 } }", ":1: accounts.A.extra: unknown key"},
		{"accounts { $G: {} }", ":1: accounts.$G: $G is the global account"},
		{"accounts { A: { users: [ {nkey: UNOTAKEY} ] } }", `:1: accounts.A.users[0].nkey: "UNOTAKEY" is not a valid public user nkey`},
		{"accounts { A: { users: [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4, password: p} ] } }", `:1: accounts.A.users[0].nkey: an nkey user has no password`},
		{"accounts { A: { users: [ {user: a} ] }, B: { users: [ {user: a} ] } }", `accounts.B: user "a" is already a user of another account`},
		{"authorization { users: [ {user: a} ] }\naccounts { B: { users: [ {user: a} ] } }", `accounts.B: user "a" is already a user of another account`},
		{"accounts {\n A: { exports: [ {stream: a.>, accounts: [B]} ] }\n B: {}\n C: { imports: [ {stream: {account: A, subject: a.x}} ] }\n}", `:4: accounts.C.imports[0]: account "A" does not export stream "a.x" to account "C"`},
		{"accounts { A: { exports: [ {accounts: [B]} ] } }", ":1: accounts.A.exports[0]: set stream or service"},
		{"accounts { A: { imports: [ {stream: {subject: x}} ] } }", ":1: accounts.A.imports[0]: the import names no account"},
		{"accounts { A: { imports: [ {stream: {account: B, subject: x, bogus: 1}} ] } }", ":1: accounts.A.imports[0].stream.bogus: unknown key"},
		{"accounts {\n A: { exports: [ {stream: \"a.*.*\"} ] }\n B: { imports: [ {stream: {account: A, subject: \"a.*.*\"},\n  to: \"b.*\"} ] }\n}", `:4: accounts.B.imports[0].to: failed to create mapping transform for stream import subject from "a.*.*" to "b.*": invalid mapping destination: not using all of the token wildcard(s) in b.$1`},
		{"accounts {\n A: { exports: [ {stream: \"a.*\"} ] }\n B: { imports: [ {stream: {account: A, subject: \"a.*\"}, prefix: p,\n  to: \"b.*\"} ] }\n}", `:4: accounts.B.imports[0].to: stream import can not have a 'prefix' and a 'to' property`},
		{"accounts {\n A: { exports: [ {service: \"s.*.*\"} ] }\n B: { imports: [\n {service: {account: A, subject: \"s.*.*\"}, to: \"l.$3.*\"} ] }\n}", `:4: accounts.B.imports[0].to: failed to create mapping transform for service import subject from "l.$3.*" to "s.*.*": invalid mapping destination: wildcard index out of range in $3: [3]`},
		{"accounts {\n A: { exports: [ {stream: \"a.*\"} ] }\n B: { imports: [ {stream: {account: A, subject: \"a.*\"},\n prefix: \"p.*\"} ] }\n}", `:4: accounts.B.imports[0].prefix: "p.*" must be a literal subject on a stream import`},
		{"accounts { A: { users: [ {user: a} ] } }\nno_auth_user: zed", `:2: no_auth_user: "zed" not present as user or nkey in authorization block or account configuration`},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		path := writeConf(t, dir, tc.text)
		_, err := parseFlags([]string{"-c", path}, io.Discard)
		if err == nil {
			t.Errorf("%q: accepted", tc.text)
			continue
		}
		want := tc.want
		if strings.HasPrefix(want, ":") {
			want = path + want
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q:\n error %v\n want %q", tc.text, err, want)
		}
	}
	if _, err := parseFlags([]string{"-c", "/nonexistent/murmur.conf"}, io.Discard); err == nil || !strings.Contains(err.Error(), "/nonexistent/murmur.conf") {
		t.Errorf("missing file: %v", err)
	}
}

// TestConfigAccounts: accounts with user and nkey users, no_auth_user,
// and authorization's users kept in $G beside them.
func TestConfigAccounts(t *testing.T) {
	path := writeConf(t, t.TempDir(), `
authorization { users: [ {user: gus, password: g} ] }
accounts {
  A: {
    users: [ {user: alice, password: a, permissions: {publish: "a.>"}}, {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4} ]
    exports: [ {stream: "a.events.>"}, {service: "a.svc", accounts: [B], response_type: stream, response_threshold: "10s"} ]
  }
  B {
    users = [ {user: bob, password: b} ]
    imports = [ {stream: {account: A, subject: "a.events.>"}, prefix: from_a}, {service: {account: A, subject: a.svc}, to: svc.a} ]
  }
  C: {}
}
no_auth_user: bob
`)
	cfg, err := parseFlags([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.opts.Auth
	want := []broker.Account{
		{Name: "A", Users: []broker.User{
			{Name: "alice", Password: "a", Permissions: &broker.Permissions{Publish: broker.SubjectRules{Allow: []string{"a.>"}}}},
			{Nkey: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"}},
			Exports: []broker.Export{{Stream: "a.events.>"},
				{Service: "a.svc", Accounts: []string{"B"}, ResponseType: "stream", ResponseThreshold: 10 * time.Second}}},
		{Name: "B", Users: []broker.User{{Name: "bob", Password: "b"}}, Imports: []broker.Import{
			{Account: "A", Stream: "a.events.>", Prefix: "from_a"}, {Account: "A", Service: "a.svc", To: "svc.a"}}},
		{Name: "C"},
	}
	if !reflect.DeepEqual(a.Accounts, want) {
		t.Errorf("accounts %+v\nwant %+v", a.Accounts, want)
	}
	if a.NoAuthUser != "bob" || len(a.Users) != 1 || a.Users[0].Name != "gus" {
		t.Errorf("no_auth_user %q, users %+v", a.NoAuthUser, a.Users)
	}
}

// Flags given on the command line beat the file, even when they give the
// default value; flags not given leave the file's values alone.
func TestFlagsOverrideFile(t *testing.T) {
	path := writeConf(t, t.TempDir(), "port: 4333\nmax_payload: 1KB\nserver_name: from-file\nping_interval: \"1m\"\ncluster { listen: 127.0.0.1:6222, name: file }")
	cfg, err := parseFlags([]string{"-c", path, "-p", "4222", "--max_payload", "2048", "--cluster_name", "flag"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opts
	if o.Port != 4222 || o.MaxPayload != 2048 || o.Name != "from-file" || o.PingInterval != time.Minute {
		t.Fatalf("port %d max_payload %d name %q ping %v", o.Port, o.MaxPayload, o.Name, o.PingInterval)
	}
	if o.Cluster.Name != "flag" || cfg.gossip.Cluster != "flag" || o.Cluster.Listen.Addr != "127.0.0.1:6222" {
		t.Fatalf("cluster %+v gossip %q", o.Cluster, cfg.gossip.Cluster)
	}
	slices.Sort(cfg.cli.overrides)
	if want := []string{"cluster_name", "max_payload", "p"}; !reflect.DeepEqual(cfg.cli.overrides, want) {
		t.Fatalf("overrides %v, want %v", cfg.cli.overrides, want)
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out strings.Builder
	if _, err := parseFlags([]string{"--help"}, &out); err == nil {
		t.Fatal("--help did not stop")
	}
	for _, f := range []string{"-c,", "-config", "-signal", "-sl", "-P,", "-pid", "-p,", "-max_payload", "-gossip_seeds", "-quic_port", "-http_port", "-system_user"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help does not list %s", f)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
