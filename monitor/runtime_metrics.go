package monitor

import (
	"bytes"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// runtimeRegistry holds Prometheus's standard Go runtime and process
// collectors (go_goroutines, go_memstats_*, go_gc_duration_seconds,
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_start_time_seconds, ...), so dashboards and
// alerts written for any Go service work on a broker unchanged. They
// describe the process, not one Server, so one registry serves every
// monitor in the process. Their samples carry no server label: Prometheus
// adds instance and job when it scrapes.
var runtimeRegistry = func() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}()

// writeRuntimeMetrics appends the go_* and process_* families to buf in
// the text format. A collector that fails (a /proc file unreadable in a
// sandbox) costs only its own families; the error is written as a comment
// so a scrape still parses.
func writeRuntimeMetrics(buf *bytes.Buffer) {
	fams, err := runtimeRegistry.Gather()
	for _, f := range fams {
		if _, werr := expfmt.MetricFamilyToText(buf, f); werr != nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(buf, "# runtime collectors: %s\n", escapeHelp(err.Error()))
	}
}
