package main

import (
	"errors"
	"flag"
	"fmt"
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

// refusedFlags are the nats-server flags Murmur refuses: why, and the
// argument nats-server takes ("" for a switch). The logging ones are being
// implemented beside this (issue 19).
var refusedFlags = map[string]struct{ why, arg string }{
	"ms":         {"no HTTPS monitoring; put a TLS proxy in front of --http_port", "port"},
	"https_port": {"no HTTPS monitoring; put a TLS proxy in front of --http_port", "port"},
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
	fs.BoolVar(&nf.vv, "VV", false, "verbose trace (-V, and the broker's internal system traffic)")
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
	for name, r := range refusedFlags {
		usage := "not supported by Murmur yet"
		if r.why != "" {
			usage += " (" + r.why + ")"
		}
		fs.Var(refusedFlag{name: name, why: r.why, arg: r.arg}, name, usage)
	}
}

// refusedFlag is a nats-server flag Murmur does not implement: using it
// is one clear error, not "flag provided but not defined" and the usage.
type refusedFlag struct {
	name, why, arg string // arg "": a switch
}

func (f refusedFlag) String() string { return "" }
func (f refusedFlag) Set(string) error {
	if f.why != "" {
		return fmt.Errorf("not supported by Murmur yet (%s)", f.why)
	}
	return errors.New("not supported by Murmur yet")
}
func (f refusedFlag) IsBoolFlag() bool { return f.arg == "" }

// apply puts the credential, log and TLS flags over what the file set.
func (nf *natsFlags) apply(cfg *config) error {
	if nf.dv || nf.dvv {
		cfg.log.debug, cfg.log.trace = true, true
	}
	if nf.vv || nf.dvv {
		cfg.log.trace, cfg.log.traceVerbose = true, true
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
