package broker_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
)

// BenchmarkPubSampling is BenchmarkPubOnly16 with the top-subjects
// sampler on and off, publishing to one subject and to a new subject
// each time (as replies to requests are), to show what sampling costs:
//
//	go test -run='^$' -bench=PubSampling -count=5 ./broker/
func BenchmarkPubSampling(b *testing.B) {
	for _, sampling := range []bool{true, false} {
		for _, unique := range []bool{false, true} {
			name := "on"
			if !sampling {
				name = "off"
			}
			if unique {
				name += "/unique"
			} else {
				name += "/one"
			}
			b.Run(name, func(b *testing.B) {
				o := testOptions()
				o.NoSubjectSampling = !sampling
				srv, err := broker.New(o)
				if err != nil {
					b.Fatal(err)
				}
				if err := srv.Start(); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { srv.Close() })
				nc := benchConnect(b, srv)
				payload := bytes.Repeat([]byte("x"), 16)
				subj := []byte("bench.pub.")
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					s := "bench.pub"
					if unique {
						s = string(strconv.AppendInt(subj[:len(subj):len(subj)], int64(i), 10))
						i++
					}
					if err := nc.Publish(s, payload); err != nil {
						b.Fatal(err)
					}
				}
				if err := nc.FlushTimeout(30 * time.Second); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
