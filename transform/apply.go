package transform

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"unicode/utf8"
)

// maxStackTokens is how many subject tokens Append splits without
// allocating.
const maxStackTokens = 32

// Append appends the mapping of subject, which must match the source, to
// dst and returns the extended slice. It allocates only when dst is short
// or the subject has more than 32 tokens. A subject that does not match
// gives some subject, never a panic.
func (t *Transform) Append(dst, subject []byte) []byte {
	var stack [maxStackTokens][]byte
	return t.apply(dst, tokenize(stack[:0], subject))
}

// tokenize appends the tokens of subject to toks.
func tokenize(toks [][]byte, subject []byte) [][]byte {
	for start, i := 0, 0; i <= len(subject); i++ {
		if i == len(subject) || subject[i] == '.' {
			toks = append(toks, subject[start:i])
			start = i + 1
		}
	}
	return toks
}

// apply builds the destination from the subject's tokens, token by
// token as nats-server does (including what its functions do with a
// token too short for them: they leave it whole).
func (t *Transform) apply(dst []byte, toks [][]byte) []byte {
	tok := func(i int) []byte {
		if i < len(toks) {
			return toks[i]
		}
		return nil
	}
	last := len(t.dtoks) - 1
	for i, d := range t.dtoks {
		if d.fn == fnTail {
			break
		}
		switch d.fn {
		case fnLiteral:
			dst = append(dst, d.lit...)
		case fnWildcard:
			dst = append(dst, tok(d.from[0])...)
		case fnPartition:
			dst = appendPartition(dst, toks, d.from, d.n)
		case fnRandom:
			dst = appendRandom(dst, d.n)
		case fnSplit:
			dst = appendSplit(dst, tok(d.from[0]), []byte(d.lit))
		default:
			dst = appendCut(dst, d.fn, tok(d.from[0]), int(d.n))
		}
		if i < last {
			dst = append(dst, '.')
		}
	}
	if t.tail {
		for j := t.nsrc - 1; j < len(toks); j++ {
			if j > t.nsrc-1 {
				dst = append(dst, '.')
			}
			dst = append(dst, toks[j]...)
		}
	}
	return dst
}

// appendPartition appends the partition, 0 to n-1, of the named tokens
// (concatenated), or of the whole subject when none are named: the
// 32-bit FNV-1a hash modulo n, as nats-server, so both place a key in
// the same partition. A negative n is taken as nats-server takes it,
// as an unsigned 32-bit number.
func appendPartition(dst []byte, toks [][]byte, from []int, n int32) []byte {
	if n == 0 {
		return append(dst, '0')
	}
	const offset, prime = 2166136261, 16777619
	h := uint32(offset)
	add := func(b []byte) {
		for _, c := range b {
			h ^= uint32(c)
			h *= prime
		}
	}
	if len(from) > 0 {
		for _, i := range from {
			if i < len(toks) {
				add(toks[i])
			}
		}
	} else {
		for i, tk := range toks {
			if i > 0 {
				add([]byte{'.'})
			}
			add(tk)
		}
	}
	return strconv.AppendUint(dst, uint64(h%uint32(n)), 10)
}

// appendRandom appends a random number from 0 to |n|-1 (0 for n = 0).
func appendRandom(dst []byte, n int32) []byte {
	if n == 0 {
		return append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(rand.Int32())%int64(n), 10)
}

// appendSplit appends tok split at each delimiter into tokens, empty
// pieces dropped ("-a--b-" by "-" is "a.b"). An empty delimiter splits
// between every character (UTF-8 sequence).
func appendSplit(dst, tok, delim []byte) []byte {
	var pieces [][]byte
	if len(delim) == 0 {
		for i := 0; i < len(tok); {
			_, size := utf8.DecodeRune(tok[i:])
			pieces = append(pieces, tok[i:i+size])
			i += size
		}
	} else {
		pieces = bytes.Split(tok, delim)
	}
	for j, p := range pieces {
		dst = append(dst, p...)
		if j < len(pieces)-1 && len(pieces[j+1]) > 0 && !(j == 0 && len(p) == 0) {
			dst = append(dst, '.')
		}
	}
	return dst
}

// appendCut appends what splitFromLeft/Right, sliceFromLeft/Right,
// left and right make of tok with their argument n. Each leaves tok
// whole when n is not between 0 and its length, exclusive.
func appendCut(dst []byte, f fn, tok []byte, n int) []byte {
	l := len(tok)
	if n <= 0 || n >= l {
		return append(dst, tok...)
	}
	switch f {
	case fnSplitFromLeft:
		dst = append(append(append(dst, tok[:n]...), '.'), tok[n:]...)
	case fnSplitFromRight:
		dst = append(append(append(dst, tok[:l-n]...), '.'), tok[l-n:]...)
	case fnSliceFromLeft:
		// Slices of n from the left, the rest last.
		for i := 0; i < l; i += n {
			if i > 0 {
				dst = append(dst, '.')
			}
			dst = append(dst, tok[i:min(i+n, l)]...)
		}
	case fnSliceFromRight:
		// Slices of n from the right, the rest first.
		r := l % n
		if r > 0 {
			dst = append(append(dst, tok[:r]...), '.')
		}
		for i := r; i < l; i += n {
			if i > r {
				dst = append(dst, '.')
			}
			dst = append(dst, tok[i:i+n]...)
		}
	case fnLeft:
		dst = append(dst, tok[:n]...)
	case fnRight:
		dst = append(dst, tok[l-n:]...)
	}
	return dst
}
