package monitor_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/monitor"
)

// BenchmarkPublishWhileScraped measures publish throughput of 4 nats.go
// publishers (each to its own subscriber, 128-byte messages) without a
// scraper, with one polling /varz and /connz?subs=1 100 times a second
// each, and with one hammering them as fast as it can. Compare msgs/s:
//
//	go test -run '^$' -bench PublishWhileScraped -benchtime 2000000x -count 5 ./monitor/
//
// The unbounded scraper runs in the same process, so on a machine with few
// cores it mostly measures the CPU it takes from the publishers.
func BenchmarkPublishWhileScraped(b *testing.B) {
	for _, tc := range []struct {
		name   string
		scrape bool
		every  time.Duration // pause between requests per endpoint; 0 = none
	}{
		{"quiet", false, 0},
		{"scraped-100hz", true, 10 * time.Millisecond},
		{"scraped-unbounded", true, 0},
	} {
		b.Run(tc.name, func(b *testing.B) { benchPublish(b, tc.scrape, tc.every) })
	}
}

func benchPublish(b *testing.B, scrape bool, every time.Duration) {
	const publishers, size = 4, 128
	srv := startBroker(b, "bench")
	m := startMonitor(b, srv, monitor.Config{})
	payload := bytes.Repeat([]byte("m"), size)

	pubs := make([]*nats.Conn, publishers)
	var received atomic.Int64
	for i := range pubs {
		pubs[i] = connect(b, srv)
		sc := connect(b, srv)
		sub, err := sc.Subscribe(fmt.Sprintf("bench.%d", i), func(*nats.Msg) { received.Add(1) })
		if err != nil {
			b.Fatal(err)
		}
		_ = sub.SetPendingLimits(-1, -1)
		if err := sc.Flush(); err != nil {
			b.Fatal(err)
		}
	}

	var scrapes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if scrape {
		c := client(b)
		for _, path := range []string{"/varz", "/connz?subs=1"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url := "http://" + m.Addr().String() + path
				var tick <-chan time.Time
				if every > 0 {
					t := time.NewTicker(every)
					defer t.Stop()
					tick = t.C
				}
				for {
					if tick != nil {
						select {
						case <-stop:
							return
						case <-tick:
						}
					}
					select {
					case <-stop:
						return
					default:
					}
					resp, err := c.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("%s: %d", path, resp.StatusCode)
						return
					}
					scrapes.Add(1)
				}
			}()
		}
	}

	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	var pw sync.WaitGroup
	for i, nc := range pubs {
		n := b.N / publishers
		if i == 0 {
			n += b.N % publishers
		}
		subject := fmt.Sprintf("bench.%d", i)
		pw.Add(1)
		go func() {
			defer pw.Done()
			for range n {
				if err := nc.Publish(subject, payload); err != nil {
					b.Error(err)
					return
				}
			}
			if err := nc.Flush(); err != nil {
				b.Error(err)
			}
		}()
	}
	pw.Wait()
	eventually(b, time.Minute, "every message delivered", func() bool { return received.Load() == int64(b.N) })
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if scrape {
		b.ReportMetric(float64(scrapes.Load())/elapsed.Seconds(), "scrapes/s")
	}
}
