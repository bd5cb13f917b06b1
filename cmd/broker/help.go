package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// helpGroups lays out --help as nats-server's: each flag once, with its
// aliases, in groups. Every registered flag must be here (a test fails on
// one that would land in "Other Options"), so a new flag gets a place.
var helpGroups = []struct {
	title string
	flags [][]string // alias sets, as typed on the command line
}{
	{"Server", [][]string{
		{"-a", "--addr", "--net"}, {"-p", "--port"}, {"-n", "--name", "--server_name"},
		{"-P", "--pid"}, {"-c", "--config"}, {"-t"}, {"-sl", "--signal"},
		{"--client_advertise"}, {"--ports_file_dir"},
		{"--max_payload"}, {"--max_control_line"}, {"--max_pending"}, {"--max_connections"},
		{"--max_subscriptions"}, {"--ping_interval"}, {"--ping_max"}, {"--write_deadline"},
	}},
	{"Logging", [][]string{
		{"-l", "--log"}, {"-T", "--logtime"}, {"--logtime_utc"}, {"-s", "--syslog"},
		{"-r", "--remote_syslog"}, {"-D", "--debug"}, {"-V", "--trace"}, {"-VV"}, {"-DV"}, {"-DVV"},
		{"--log_size_limit"}, {"--max_traced_msg_len"}, {"--log_format"},
	}},
	{"JetStream", [][]string{{"-js", "--jetstream"}, {"-sd", "--store_dir"}}},
	{"Authorization", [][]string{
		{"--user"}, {"--pass"}, {"--auth"}, {"--system_user"}, {"--system_password"},
	}},
	{"TLS", [][]string{{"--tls"}, {"--tlscert"}, {"--tlskey"}, {"--tlsverify"}, {"--tlscacert"}}},
	{"Cluster", [][]string{
		{"--routes"}, {"--cluster", "--cluster_listen"}, {"--cluster_name"}, {"--no_advertise"},
		{"--cluster_advertise"}, {"--connect_retries"}, {"--route_credential"}, {"--route_compression"},
	}},
	{"Gossip", [][]string{
		{"--gossip_addr"}, {"--gossip_port"}, {"--gossip_advertise"}, {"--gossip_seeds"},
		{"--gossip_key"}, {"--gossip_keygen"}, {"--gossip_profile"}, {"--gossip_probe_interval"},
	}},
	{"QUIC", [][]string{{"--quic_port"}, {"--quic_addr"}, {"--quic_cert"}, {"--quic_key"}}},
	{"WebSocket", [][]string{{"--websocket_port"}, {"--websocket_host"}}},
	{"Monitoring", [][]string{
		{"-m", "--http_port"}, {"-ms", "--https_port"}, {"--http_addr"}, {"--stats_interval"}, {"--healthcheck"},
		{"--http_user"}, {"--http_password"}, {"--http_token"},
		{"--profile", "--prof_port"}, {"--cpuprofile"},
	}},
	{"Common", [][]string{{"-h", "--help"}, {"-v", "--version"}}},
}

// helpEntry is one line of --help: a flag's names and its text.
type helpEntry struct {
	names, usage string
}

// printHelp writes the grouped flag list; flags missing from helpGroups
// come last under "Other Options".
func printHelp(w io.Writer, fs *flag.FlagSet) {
	type group struct {
		title   string
		entries []helpEntry
	}
	var groups []group
	width := 0
	add := func(g *group, names []string, f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if r, ok := f.Value.(refusedFlag); ok {
			arg = r.arg
		}
		label := strings.Join(names, ", ")
		if arg != "" {
			label += " <" + arg + ">"
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
			usage += " (default: " + f.DefValue + ")"
		}
		width = max(width, len(label))
		g.entries = append(g.entries, helpEntry{label, usage})
	}
	for _, hg := range helpGroups {
		g := group{title: hg.title}
		for _, set := range hg.flags {
			name := strings.TrimLeft(set[0], "-")
			if name == "h" {
				g.entries = append(g.entries, helpEntry{strings.Join(set, ", "), "show this message"})
				continue
			}
			if f := fs.Lookup(name); f != nil {
				add(&g, set, f)
			}
		}
		groups = append(groups, g)
	}
	other := group{title: "Other"}
	for _, name := range unplacedFlags(fs) {
		add(&other, []string{"--" + name}, fs.Lookup(name))
	}
	if len(other.entries) > 0 {
		groups = append(groups, other)
	}
	fmt.Fprintln(w, "Usage: broker [options]")
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s Options:\n", g.title)
		for _, e := range g.entries {
			fmt.Fprintf(w, "    %-*s  %s\n", width, e.names, e.usage)
		}
	}
}

// unplacedFlags are the registered flags helpGroups does not list.
func unplacedFlags(fs *flag.FlagSet) []string {
	placed := make(map[string]bool)
	for _, hg := range helpGroups {
		for _, set := range hg.flags {
			for _, n := range set {
				placed[strings.TrimLeft(n, "-")] = true
			}
		}
	}
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		if !placed[f.Name] {
			out = append(out, f.Name)
		}
	})
	return out
}
