package proto

import (
	"slices"
	"testing"
)

// FuzzParser feeds any input whole, split in two at a fuzzer-chosen point,
// and byte by byte. The parser must not panic, and all three runs must make
// the same callbacks and end in the same class of error: how bytes arrive
// over a socket must not change what they mean.
//
// small selects tight limits (MaxControlLine 32, MaxPayload 64) so the limit
// checks are reached by short inputs; otherwise the defaults apply.
//
// The seed corpus is in testdata/fuzz/FuzzParser; run
//
//	go test -fuzz=FuzzParser -fuzztime=60s ./internal/proto/
func FuzzParser(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in), uint16(len(tc.in)/2), tc.limit.MaxControlLine != 0 || tc.limit.MaxPayload != 0)
	}
	f.Fuzz(func(t *testing.T, in []byte, at uint16, small bool) {
		var p Parser
		if small {
			p.MaxControlLine, p.MaxPayload = 32, 64
		}
		k := int(at) % (len(in) + 1)
		bytewise := make([][]byte, len(in))
		for i := range in {
			bytewise[i] = in[i : i+1]
		}

		want, werr := run(p, [][]byte{in}, "")
		for _, w := range []struct {
			name   string
			chunks [][]byte
		}{
			{"split", [][]byte{in[:k], in[k:]}},
			{"bytewise", bytewise},
		} {
			got, err := run(p, w.chunks, "")
			if !slices.Equal(got, want) {
				t.Fatalf("%s (at %d): callbacks differ\nwhole: %q\n%s: %q", w.name, k, want, w.name, got)
			}
			if errClass(err) != errClass(werr) {
				t.Fatalf("%s (at %d): error %v, whole gave %v", w.name, k, err, werr)
			}
		}
	})
}
