package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A broker's resources are sampled at every convergence point (the
// cluster whole again, every client connected), one series per broker
// incarnation: a restart starts a new process and a new series. Growth is
// judged within a series, from its first sample to its last few.
const (
	// perConnGoroutines is the allowance per client connection more at
	// the end than at the start: a connection owns a reader and a writer
	// (measured: exactly 2), and nats.go clients that failed over onto a
	// broker stay there.
	perConnGoroutines = 2
	// goroutineSlack is how many goroutines more than at the start (after
	// the connection allowance) still count as no growth: timers, a
	// route's goroutines still winding down, the monitor's handler.
	goroutineSlack = 25
	// rssSlack and the factor 2 bound RSS: the GC returns memory lazily,
	// so RSS is noisy; a leak of the traffic's size (tens of MiB a
	// minute) still shows.
	rssSlack = 64 << 20
	// tailSamples is how many of a series' last samples are looked at: the
	// lowest of them must be within the bound, so a passing peak is not
	// growth but a sustained rise is.
	tailSamples = 3
)

// resourceSample is one broker's resources at one convergence point.
type resourceSample struct {
	At         time.Duration `json:"at"` // offset from the run's start
	Goroutines int           `json:"goroutines"`
	RSS        int64         `json:"rss"`
	HeapInuse  int64         `json:"heap_inuse"`  // go_memstats_heap_inuse_bytes: what RSS holds that the GC cannot return
	Conns      int           `json:"connections"` // client connections (/varz)
}

// incarnation is one broker process's samples.
type incarnation struct {
	Broker  string           `json:"broker"`
	Start   int              `json:"start"` // 1 for the first process, +1 per restart
	Samples []resourceSample `json:"samples"`
}

// resourceVerdict is what the growth check found for one incarnation.
type resourceVerdict struct {
	Broker         string        `json:"broker"`
	Start          int           `json:"start"`
	Samples        int           `json:"samples"`
	Lived          time.Duration `json:"lived"` // first to last sample
	GoroutinesFrom int           `json:"goroutines_first"`
	GoroutinesTo   int           `json:"goroutines_last"` // lowest of the tail, after the connection allowance
	GoroutineBound int           `json:"goroutines_bound"`
	RSSFrom        int64         `json:"rss_first"`
	RSSTo          int64         `json:"rss_last"` // lowest of the tail
	RSSBound       int64         `json:"rss_bound"`
	HeapFrom       int64         `json:"heap_inuse_first"`
	HeapTo         int64         `json:"heap_inuse_last"` // the last sample's
	Grew           string        `json:"grew,omitempty"`
}

// sampleResources records every running broker's goroutines, RSS and
// client connections into its current incarnation's series. A broker
// whose monitor does not answer is skipped this time.
func (r *runner) sampleResources() {
	at := r.since()
	for i, b := range r.cluster.brokers {
		start := r.cluster.startCount(i)
		s, err := r.cluster.resources(i)
		if err != nil {
			continue
		}
		s.At = at
		var inc *incarnation
		for _, x := range r.incarnations {
			if x.Broker == b.name && x.Start == start {
				inc = x
			}
		}
		if inc == nil {
			inc = &incarnation{Broker: b.name, Start: start}
			r.incarnations = append(r.incarnations, inc)
		}
		inc.Samples = append(inc.Samples, s)
	}
}

// verdict judges one series: the goroutines at its end (the lowest of the
// last tailSamples, each less the allowance for client connections more
// than at its first sample) within goroutineSlack of its first sample;
// the lowest RSS of the tail below twice the first plus rssSlack.
func (inc *incarnation) verdict() resourceVerdict {
	s := inc.Samples
	v := resourceVerdict{Broker: inc.Broker, Start: inc.Start, Samples: len(s)}
	if len(s) == 0 {
		return v
	}
	first := s[0]
	v.Lived = s[len(s)-1].At - first.At
	v.GoroutinesFrom, v.RSSFrom = first.Goroutines, first.RSS
	v.HeapFrom, v.HeapTo = first.HeapInuse, s[len(s)-1].HeapInuse
	v.GoroutineBound = first.Goroutines + goroutineSlack
	v.RSSBound = 2*first.RSS + rssSlack
	tail := s[max(1, len(s)-tailSamples):]
	if len(s) == 1 {
		tail = s
	}
	v.GoroutinesTo, v.RSSTo = -1, -1
	for _, t := range tail {
		g := t.Goroutines - perConnGoroutines*max(0, t.Conns-first.Conns)
		if v.GoroutinesTo < 0 || g < v.GoroutinesTo {
			v.GoroutinesTo = g
		}
		if v.RSSTo < 0 || t.RSS < v.RSSTo {
			v.RSSTo = t.RSS
		}
	}
	var grew []string
	if v.GoroutinesTo > v.GoroutineBound {
		grew = append(grew, fmt.Sprintf("goroutines %d → %d (bound %d)", v.GoroutinesFrom, v.GoroutinesTo, v.GoroutineBound))
	}
	if v.RSSTo > v.RSSBound {
		grew = append(grew, fmt.Sprintf("rss %d → %d MiB (bound %d MiB)", v.RSSFrom>>20, v.RSSTo>>20, v.RSSBound>>20))
	}
	v.Grew = strings.Join(grew, ", ")
	return v
}

// resources reads broker i's go_goroutines and process_resident_memory_bytes
// from /metrics and its client connections from /varz.
func (c *cluster) resources(i int) (resourceSample, error) {
	var s resourceSample
	var v varz
	if err := c.monitor(i, "/varz", &v); err != nil {
		return s, err
	}
	s.Conns = v.Connections
	resp, err := c.http.Get(fmt.Sprintf("http://%s:%d/metrics", c.brokers[i].ip, monitorPort))
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/metrics: %s", resp.Status)
	}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "go_goroutines":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return s, fmt.Errorf("/metrics go_goroutines %q: %v", val, err)
			}
			s.Goroutines = int(f)
			found++
		case "process_resident_memory_bytes":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return s, fmt.Errorf("/metrics process_resident_memory_bytes %q: %v", val, err)
			}
			s.RSS = int64(f)
			found++
		case "go_memstats_heap_inuse_bytes":
			if f, err := strconv.ParseFloat(val, 64); err == nil {
				s.HeapInuse = int64(f)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if found < 2 {
		return s, fmt.Errorf("/metrics lacks go_goroutines or process_resident_memory_bytes")
	}
	return s, nil
}

// startCount is how many times broker i has been started: its current
// incarnation's number.
func (c *cluster) startCount(i int) int {
	b := c.brokers[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.starts
}
