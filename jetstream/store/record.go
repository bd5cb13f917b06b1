package store

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A record is one entry of a segment file (docs/jetstream.md):
//
//	u32  body length n (little endian)
//	body: u8 type | u64 seq | i64 time | u16 subject length | subject |
//	      u32 header length | header | data
//	u32  CRC-32C of the body
//
// Types: recMsg stores a message at seq; recDelete removes message seq;
// recFirst says no message below seq exists and the next sequence is at
// least seq (every segment starts with one, a purge writes one);
// recSkip assigns every sequence up to seq to no message (skip.go);
// recBareMsg is recMsg for a message without headers, whose body has no
// header length (4 bytes less on disk for the common message).
const (
	recMsg     = 1
	recDelete  = 2
	recFirst   = 3
	recSkip    = 4
	recBareMsg = 5

	recFrame   = 8                 // length and CRC
	recFixed   = 1 + 8 + 8 + 2 + 4 // the body's fixed fields
	recMinBody = recFixed - 4      // a recBareMsg body has no header length
	maxRecBody = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Errors of DecodeRecord. errShort means the buffer ends inside the
// record (a torn write at a file's tail).
var (
	errShort   = errors.New("store: record truncated")
	errCorrupt = errors.New("store: record corrupt")
)

// record is one decoded or to-be-encoded record. appendRecord writes subj;
// decodeRecord sets subjRaw (aliasing its input, so recovery can intern
// the subject without allocating) and leaves subj empty.
type record struct {
	typ       byte
	seq       uint64
	ts        int64
	subj      string
	subjRaw   []byte
	hdr, data []byte
}

// appendRecord encodes r onto b. A recBareMsg must have no header.
func appendRecord(b []byte, r *record) []byte {
	n := recFixed + len(r.subj) + len(r.hdr) + len(r.data)
	if r.typ == recBareMsg {
		n -= 4
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	start := len(b)
	b = append(b, r.typ)
	b = binary.LittleEndian.AppendUint64(b, r.seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.ts))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r.subj)))
	b = append(b, r.subj...)
	if r.typ != recBareMsg {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.hdr)))
		b = append(b, r.hdr...)
	}
	b = append(b, r.data...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable))
}

// decodeRecord decodes the record at the start of b and returns it with
// its encoded length. subjRaw, hdr and data alias b.
func decodeRecord(b []byte) (record, int, error) {
	var r record
	if len(b) < 4 {
		return r, 0, errShort
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < recMinBody || n > maxRecBody {
		return r, 0, errCorrupt
	}
	if len(b) < 4+n+4 {
		return r, 0, errShort
	}
	body := b[4 : 4+n]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(b[4+n:]) {
		return r, 0, errCorrupt
	}
	r.typ = body[0]
	if r.typ < recMsg || r.typ > recBareMsg {
		return r, 0, errCorrupt
	}
	r.seq = binary.LittleEndian.Uint64(body[1:])
	r.ts = int64(binary.LittleEndian.Uint64(body[9:]))
	sl := int(binary.LittleEndian.Uint16(body[17:]))
	p := 19
	if r.typ == recBareMsg {
		if p+sl > n {
			return r, 0, errCorrupt
		}
		r.subjRaw = body[p : p+sl : p+sl]
		if p += sl; p < n {
			r.data = body[p:n]
		}
		return r, 4 + n + 4, nil
	}
	if p+sl+4 > n {
		return r, 0, errCorrupt
	}
	r.subjRaw = body[p : p+sl : p+sl]
	p += sl
	hl := int(binary.LittleEndian.Uint32(body[p:]))
	p += 4
	if hl > n-p {
		return r, 0, errCorrupt
	}
	if hl > 0 {
		r.hdr = body[p : p+hl]
	}
	p += hl
	if p < n {
		r.data = body[p:n]
	}
	return r, 4 + n + 4, nil
}
