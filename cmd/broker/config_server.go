package main

import (
	"net"
	"strings"

	conf "github.com/murmurmq/murmur/config"
)

// serverFile is what the file sets about the process beyond broker
// options: the ports file, and nats-server keys Murmur accepts for
// compatibility whose value changes nothing (docs/config.md says why).
type serverFile struct {
	portsFileDir string
	// connectErrorReports and reconnectErrorReports are accepted: Murmur
	// logs every failed route dial at debug level and each route that comes
	// up or goes down at info, so there is no count to tune.
	connectErrorReports, reconnectErrorReports int
	// noSublistCache is accepted: the match cache is bounded (1,024
	// subjects) and invalidated by generation, with nothing to switch off.
	noSublistCache bool
}

// serverKeys adds the top-level keys about the server's identity, its
// process files and its bookkeeping.
func serverKeys(c *config, ks keys) {
	o, sf := &c.opts, &c.server
	ks["client_advertise"] = func(v *conf.Value) error {
		s, err := v.AsString()
		if err != nil {
			return err
		}
		if h, _, err := net.SplitHostPort(s); err == nil {
			if _, _, err := splitHostPort(v, s); err != nil || h == "" {
				return v.Errorf("%q: want host or host:port", s)
			}
		} else if s == "" || strings.ContainsAny(s, "/ ") {
			return v.Errorf("%q: want host or host:port", s)
		}
		o.ClientAdvertise = s
		return nil
	}
	ks["ports_file_dir"] = str(&sf.portsFileDir)
	ks["max_closed_clients"] = integer(&o.MaxClosedClients, 0, maxInt)
	ks["server_tags"] = stringSlice(&o.Tags)
	ks["server_metadata"] = func(v *conf.Value) error {
		m, err := v.AsMap()
		if err != nil {
			return err
		}
		o.Metadata = map[string]string{}
		for _, f := range m.Fields {
			s, err := f.Value.AsString()
			if err != nil {
				return err
			}
			o.Metadata[f.Key] = s
		}
		return nil
	}
	ks["connect_error_reports"] = integer(&sf.connectErrorReports, 0, maxInt)
	ks["reconnect_error_reports"] = integer(&sf.reconnectErrorReports, 0, maxInt)
	ks["disable_sublist_cache"] = boolean(&sf.noSublistCache)
	ks["no_system_account"] = boolean(&c.monitor.noSystem)
	ks["write_timeout"] = func(v *conf.Value) error {
		s, err := v.AsString()
		if err != nil {
			return err
		}
		switch strings.ToLower(s) {
		case "default", "close":
			return nil // a client past write_deadline is closed as a slow consumer
		case "retry":
			return v.Errorf("not supported by Murmur (a write past write_deadline always closes the client)")
		}
		return v.Errorf("%q: want default, close or retry", s)
	}
	for alias, key := range map[string]string{
		"pidfile": "pid_file", "no_sublist_cache": "disable_sublist_cache",
		"no_system": "no_system_account", "no_sys_acc": "no_system_account",
	} {
		ks[alias] = ks[key]
	}
}
