package monitor

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// cpuSampler computes the process CPU use (percent of one core, as ps and
// nats-server report it) from the CPU time consumed between two reads at
// least a second apart; reads in between return the last value.
type cpuSampler struct {
	mu       sync.Mutex
	lastWall time.Time
	lastCPU  time.Duration
	value    float64

	rssAt  time.Time
	rssVal int64
}

func (c *cpuSampler) percent(now time.Time) float64 {
	cpu, ok := processCPU()
	if !ok {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastWall.IsZero() {
		c.lastWall, c.lastCPU = now, cpu
		return 0
	}
	wall := now.Sub(c.lastWall)
	if wall < time.Second {
		return c.value
	}
	pct := float64(cpu-c.lastCPU) / float64(wall) * 100
	// Round to one decimal, as nats-server does.
	c.value = float64(int64(pct*10+0.5)) / 10
	c.lastWall, c.lastCPU = now, cpu
	return c.value
}

// rss is the resident set size in bytes (Linux), or the Go runtime's
// obtained memory elsewhere, read at most every 250ms so a busy scraper
// costs no more than a polite one.
func (c *cpuSampler) rss(now time.Time) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.rssAt) >= 250*time.Millisecond {
		c.rssAt, c.rssVal = now, readRSS()
	}
	return c.rssVal
}

func readRSS() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := bytes.Fields(b); len(f) > 1 {
			if pages, err := strconv.ParseInt(string(f[1]), 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys)
}
