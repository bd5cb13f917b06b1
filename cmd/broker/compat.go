package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
)

// natsFlags are nats-server's command-line flags that are not Murmur's own
// settings elsewhere: credentials, version, config test, the combined log
// switches, TLS, and the ones Murmur refuses by name (issue 19 tracks the
// rest).
type natsFlags struct {
	user, pass, auth string
	version, test    bool
	dv, vv, dvv      bool
	tls, tlsVerify   bool
	tlsCert, tlsKey  string
	tlsCA            string
	logtime          bool
	logtimeUTC       bool
}

// errVersion and errTested end the command successfully after -v or -t.
var (
	errVersion = errors.New("version printed")
	errTested  = errors.New("") // wrapped after the message main prints
)

func (nf *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&nf.user, "user", "", "`user` required for connections")
	fs.StringVar(&nf.pass, "pass", "", "`password` required for connections")
	fs.StringVar(&nf.auth, "auth", "", "authorization `token` required for connections")
	for _, n := range []string{"v", "version"} {
		fs.BoolVar(&nf.version, n, false, "print the version and exit")
	}
	fs.BoolVar(&nf.test, "t", false, "test the configuration and exit")
	fs.BoolVar(&nf.dv, "DV", false, "debug and trace logging")
	fs.BoolVar(&nf.vv, "VV", false, "verbose trace (as -V)")
	fs.BoolVar(&nf.dvv, "DVV", false, "debug and verbose trace")
	fs.BoolVar(&nf.tls, "tls", false, "enable TLS (needs --tlscert and --tlskey)")
	fs.StringVar(&nf.tlsCert, "tlscert", "", "server certificate `file`")
	fs.StringVar(&nf.tlsKey, "tlskey", "", "private key `file` of the server certificate")
	fs.BoolVar(&nf.tlsVerify, "tlsverify", false, "require and verify client certificates (implies --tls)")
	fs.StringVar(&nf.tlsCA, "tlscacert", "", "client certificate CA `file` (with --tlsverify)")
	for _, n := range []string{"T", "logtime"} {
		fs.BoolVar(&nf.logtime, n, true, "timestamp log entries")
	}
	fs.BoolVar(&nf.logtimeUTC, "logtime_utc", false, "log timestamps in UTC")
	for name, why := range map[string]string{
		"cluster_listen":  "use --cluster",
		"connect_retries": "routes are redialed by the gossip layer", "no_advertise": "", "client_advertise": "",
		"ports_file_dir": "", "ms": "HTTPS monitoring", "https_port": "HTTPS monitoring",
		"s": "syslog", "syslog": "syslog", "r": "remote syslog", "remote_syslog": "remote syslog",
		"log_size_limit": "log rotation", "max_traced_msg_len": "", "js": "JetStream", "jetstream": "JetStream",
		"sd": "JetStream", "store_dir": "JetStream",
	} {
		fs.Var(refusedFlag{name: name, why: why, boolean: isBoolRefused(name)}, name, "not supported by Murmur yet")
	}
}

// isBoolRefused tells the refused flags that take no value.
func isBoolRefused(name string) bool {
	switch name {
	case "no_advertise", "s", "syslog", "js", "jetstream":
		return true
	}
	return false
}

// refusedFlag is a nats-server flag Murmur does not implement: using it
// is one clear error, not "flag provided but not defined" and the usage.
type refusedFlag struct {
	name, why string
	boolean   bool
}

func (f refusedFlag) String() string { return "" }
func (f refusedFlag) Set(string) error {
	if f.why != "" {
		return fmt.Errorf("not supported by Murmur yet (%s)", f.why)
	}
	return errors.New("not supported by Murmur yet")
}
func (f refusedFlag) IsBoolFlag() bool { return f.boolean }

// apply puts the credential, log and TLS flags over what the file set.
func (nf *natsFlags) apply(cfg *config) error {
	if nf.dv || nf.dvv {
		cfg.debug, cfg.trace = true, true
	}
	if nf.vv {
		cfg.trace = true
	}
	o := &cfg.opts
	if nf.user != "" || nf.auth != "" {
		a := broker.AuthOptions{}
		if o.Auth != nil {
			a = *o.Auth
		}
		if nf.auth != "" {
			a.Token = nf.auth
		}
		if nf.user != "" {
			users := []broker.User{{Name: nf.user, Password: nf.pass}}
			for _, u := range a.Users {
				if u.Name != nf.user {
					users = append(users, u)
				}
			}
			a.Users = users
		}
		o.Auth = &a
	} else if nf.pass != "" {
		return errors.New("--pass: set without --user")
	}
	if nf.tls || nf.tlsVerify || nf.tlsCert != "" || nf.tlsKey != "" {
		if nf.tlsCert == "" || nf.tlsKey == "" {
			return errors.New("--tls: needs --tlscert and --tlskey")
		}
		tc, err := serverTLS(nf.tlsCert, nf.tlsKey, nf.tlsCA, nf.tlsVerify)
		if err != nil {
			return fmt.Errorf("--tlscert/--tlskey: %v", err)
		}
		t := broker.TLSOptions{}
		if o.TLS != nil {
			t = *o.TLS
		}
		t.Config = tc
		o.TLS = &t
	}
	return nil
}

// buildCommit, when set at build time (-ldflags "-X main.buildCommit=<sha>"),
// names the commit; otherwise the Go build's VCS stamp does.
var buildCommit string

// printVersion writes the Murmur version, the commit it was built from
// (when the build recorded one) and the Go version.
func printVersion(w io.Writer) {
	commit, modified := "unknown", false
	if buildCommit != "" {
		commit = buildCommit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified, _ = strconv.ParseBool(s.Value)
			}
		}
	}
	if modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "murmur version %s, commit %s, %s\n", broker.Version, commit, runtime.Version())
}

// sizeFlag is an integer flag that takes nats-server's size suffixes
// ("--max_payload 2MB"), as the config file does.
type sizeFlag struct{ dst *int }

func (f sizeFlag) String() string {
	if f.dst == nil {
		return "0"
	}
	return strconv.Itoa(*f.dst)
}

func (f sizeFlag) Set(s string) error {
	n, err := conf.ParseSize(s)
	if err != nil {
		return err
	}
	*f.dst = int(n)
	return nil
}
