package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// File is a store in append-only segment files under one directory
// (docs/jetstream.md). The index lives in memory and is rebuilt from the
// segments when the store opens. The active segment is also held in
// memory in full: appends encode into it, Flush hands the new bytes to
// the operating system in one write, and reads of recent messages never
// touch the file. One older segment at a time is held too, as a read
// cache for a consumer working through the stream (segcache.go).
type File struct {
	dir    string
	maxSeg int64
	x      *index
	segs   []*segment // oldest first; the last is the one appended to
	cache  *segment   // an older segment whose data is held (segcache.go)
	missed *segment   // the segment of the last read from the file
	// Recovered describes what opening repaired ("" when nothing).
	Recovered string
}

type segment struct {
	id      uint64
	path    string
	f       *os.File
	size    int64  // bytes written, unflushed ones included
	flushed int64  // bytes handed to the operating system
	live    int    // messages in the index whose record is here
	data    []byte // the whole segment, when held (always for the active one)
}

// DefaultSegmentSize is when a segment is closed and the next begun.
const DefaultSegmentSize = 8 << 20

// maxSegmentSize bounds the segment size OpenFile takes.
const maxSegmentSize = 1 << 30

// OpenFile opens (or creates) the file store in dir, recovering it: a
// record cut short or failing its checksum ends its segment, which is
// truncated there.
func OpenFile(dir string, segmentSize int64) (*File, error) {
	if segmentSize <= 0 {
		segmentSize = DefaultSegmentSize
	}
	// An entry's offset is 32 bits: a segment passes the size by at most
	// one record (< 64 MiB).
	segmentSize = min(segmentSize, maxSegmentSize)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	fs := &File{dir: dir, maxSeg: segmentSize, x: newIndex(false)}
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, n := range names {
		id, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".seg"), 10, 64)
		if err == nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var scratch []byte
	for i, id := range ids {
		last := i == len(ids)-1
		if scratch, err = fs.recover(id, last, scratch); err != nil {
			fs.Close()
			return nil, err
		}
		if i == 0 && len(ids) > 1 {
			fs.reserve(len(ids))
		}
	}
	if len(fs.segs) == 0 {
		if err := fs.roll(); err != nil {
			return nil, err
		}
	}
	fs.dropEmptyFront()
	return fs, nil
}

func (fs *File) segPath(id uint64) string { return filepath.Join(fs.dir, fmt.Sprintf("%020d.seg", id)) }

// reserve grows the index for about segs segments like the first, so
// recovering a million messages does not copy the index twenty times.
func (fs *File) reserve(segs int) {
	first := fs.segs[0]
	if first.size == 0 || fs.x.msgs == 0 {
		return
	}
	perSeg := fs.x.msgs * uint64(fs.maxSeg) / uint64(first.size)
	if want := int(perSeg) * segs; want > cap(fs.x.ents) {
		fs.x.ents = append(makeHuge[entry](0, want), fs.x.ents...)
	}
}

// recover reads segment id into the index. The last segment's bytes stay
// held (it is the active one); the others are read into scratch, which is
// returned for the next.
func (fs *File) recover(id uint64, last bool, scratch []byte) ([]byte, error) {
	path := fs.segPath(id)
	f, err := os.OpenFile(path, os.O_RDWR, 0o640)
	if err != nil {
		return scratch, err
	}
	seg := &segment{id: id, path: path, f: f}
	fs.segs = append(fs.segs, seg)
	info, err := f.Stat()
	if err != nil {
		return scratch, err
	}
	var b []byte
	if last {
		b = makeHuge[byte](int(info.Size()), max(int(info.Size()), 64<<10))
	} else {
		if int64(cap(scratch)) < info.Size() {
			scratch = makeHuge[byte](int(info.Size()), int(info.Size()))
		}
		b = scratch[:info.Size()]
	}
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, info.Size()), b); err != nil {
		return scratch, fmt.Errorf("store: read %s: %w", path, err)
	}
	off := 0
	for off < len(b) {
		r, n, err := decodeRecord(b[off:])
		if err != nil {
			fs.Recovered += fmt.Sprintf("%s: %v at offset %d, %d bytes dropped; ", filepath.Base(path), err, off, len(b)-off)
			if err := f.Truncate(int64(off)); err != nil {
				return scratch, err
			}
			break
		}
		fs.apply(&r, seg, int64(off), uint32(n))
		off += n
	}
	seg.size, seg.flushed = int64(off), int64(off)
	if last {
		seg.data = b[:off]
	}
	return scratch, nil
}

// apply replays one record into the index.
func (fs *File) apply(r *record, seg *segment, off int64, n uint32) {
	switch r.typ {
	case recMsg, recBareMsg:
		if r.seq <= fs.x.last {
			return // out of order: not ours to trust
		}
		size := uint32(len(r.subjRaw) + len(r.hdr) + len(r.data) + 16) // Size
		fs.x.add(r.seq, fs.x.stateBytes(r.subjRaw), entry{ts: r.ts, size: size, seg: uint32(seg.id), off: uint32(off), n: n}, nil)
		seg.live++
	case recDelete:
		if e, ok := fs.x.remove(r.seq); ok {
			fs.seg(e.seg).live--
		}
	case recFirst:
		fs.removeBelow(r.seq)
		if r.seq > 0 {
			fs.x.setFirst(r.seq)
		}
	case recSkip:
		fs.x.skipTo(r.seq)
	}
}

func (fs *File) removeBelow(seq uint64) {
	for len(fs.x.ents) > 0 && fs.x.first < seq {
		if e, ok := fs.x.remove(fs.x.first); ok {
			fs.seg(e.seg).live--
		}
	}
}

func (fs *File) active() *segment { return fs.segs[len(fs.segs)-1] }

// seg returns the segment with id (as an entry holds it). Ids grow by one
// from segment to segment and only the oldest are removed, so it is an
// offset into segs; a directory with a gap falls back to a search.
func (fs *File) seg(id uint32) *segment {
	if i := int(id) - int(uint32(fs.segs[0].id)); i >= 0 && i < len(fs.segs) && uint32(fs.segs[i].id) == id {
		return fs.segs[i]
	}
	i := sort.Search(len(fs.segs), func(i int) bool { return uint32(fs.segs[i].id) >= id })
	return fs.segs[i]
}

// roll starts a new segment, which begins with a recFirst record so the
// sequence survives older segments being removed. The segment it ends is
// flushed, synced and kept as the read cache.
func (fs *File) roll() error {
	var id uint64 = 1
	reserve := 64 << 10
	if len(fs.segs) > 0 {
		old := fs.active()
		if err := fs.Sync(); err != nil {
			return err
		}
		id = old.id + 1
		fs.hold(old)
		// A stream that filled a segment will likely fill the next:
		// reserve all of it at once instead of doubling up to it.
		reserve = int(fs.maxSeg) + 64<<10
	}
	path := fs.segPath(id)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	fs.segs = append(fs.segs, &segment{id: id, path: path, f: f, data: makeHuge[byte](0, reserve)})
	st := fs.x.summary()
	_, _, err = fs.write(&record{typ: recFirst, seq: st.FirstSeq})
	return err
}

// write appends r to the active segment (in memory; Flush writes it out)
// and returns where it went.
func (fs *File) write(r *record) (int64, uint32, error) {
	seg := fs.active()
	off := int64(len(seg.data))
	if need := len(seg.data) + recFrame + recFixed + len(r.subj) + len(r.hdr) + len(r.data); need > cap(seg.data) {
		// Double (append's growth is 1.25× for large slices: an 8 MiB
		// segment would be copied some twenty times).
		grown := makeHuge[byte](len(seg.data), max(2*cap(seg.data), need, 64<<10))
		copy(grown, seg.data)
		seg.data = grown
	}
	seg.data = appendRecord(seg.data, r)
	seg.size = int64(len(seg.data))
	return off, uint32(seg.size - off), nil
}

// dropEmptyFront removes the oldest segments that hold no live message.
// The records that emptied them (deletes, a purge's first) are synced
// first: removed before they are written, a kill would lose the older
// segments' messages and sequences with nothing on disk to say so.
func (fs *File) dropEmptyFront() {
	if len(fs.segs) > 1 && fs.segs[0].live == 0 {
		if err := fs.Sync(); err != nil {
			return // keep the segments; the next removal tries again
		}
	}
	for len(fs.segs) > 1 && fs.segs[0].live == 0 {
		s := fs.segs[0]
		s.f.Close()
		os.Remove(s.path)
		fs.forget(s)
		fs.segs = fs.segs[1:]
	}
}

var _ Store = (*File)(nil)

// Append implements Store.
func (fs *File) Append(subject string, hdr, data []byte, ts int64) (uint64, error) {
	if fs.active().size >= fs.maxSeg {
		if err := fs.roll(); err != nil {
			return 0, err
		}
	}
	seq := fs.x.last + 1
	typ := byte(recMsg)
	if len(hdr) == 0 {
		typ, hdr = recBareMsg, nil
	}
	off, n, err := fs.write(&record{typ: typ, seq: seq, ts: ts, subj: subject, hdr: hdr, data: data})
	if err != nil {
		return 0, err
	}
	seg := fs.active()
	fs.x.add(seq, fs.x.state(subject), entry{ts: ts, size: uint32(Size(subject, hdr, data)), seg: uint32(seg.id), off: uint32(off), n: n}, nil)
	seg.live++
	return seq, nil
}

// msg loads the message at seq. Its Hdr and Data may alias a held
// segment, whose written bytes never change.
func (fs *File) msg(seq uint64) (*Msg, error) {
	e := fs.x.get(seq)
	if e == nil {
		return nil, ErrNotFound
	}
	seg := fs.seg(e.seg)
	b, err := fs.read(seg, int64(e.off), e.n)
	if err != nil {
		return nil, err
	}
	r, _, err := decodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("store: %s at %d: %w", seg.path, e.off, err)
	}
	return &Msg{Subject: fs.x.name(e), Hdr: r.hdr, Data: r.data, Seq: seq, Time: r.ts}, nil
}

// Load implements Store.
func (fs *File) Load(seq uint64) (*Msg, error) { return fs.msg(seq) }

// Next implements Store.
func (fs *File) Next(seq uint64, filter string) (*Msg, error) { return fs.msg(fs.x.next(seq, filter)) }

// Last implements Store.
func (fs *File) Last(filter string) (*Msg, error) { return fs.msg(fs.x.lastMatch(filter)) }

// Remove implements Store.
func (fs *File) Remove(seq uint64) (bool, error) {
	if fs.x.get(seq) == nil {
		return false, nil
	}
	if _, _, err := fs.write(&record{typ: recDelete, seq: seq}); err != nil {
		return false, err
	}
	e, _ := fs.x.remove(seq)
	fs.seg(e.seg).live--
	fs.dropEmptyFront()
	return true, nil
}

// Purge implements Store.
func (fs *File) Purge(subject string, upto, keep uint64) (uint64, error) {
	if matchAll(subject) && keep == 0 {
		st := fs.x.summary()
		first := st.LastSeq + 1
		if upto > 0 {
			first = upto
		}
		before := st.Msgs
		if _, _, err := fs.write(&record{typ: recFirst, seq: first}); err != nil {
			return 0, err
		}
		fs.removeBelow(first)
		fs.x.setFirst(first)
		fs.dropEmptyFront()
		return before - fs.x.msgs, nil
	}
	seqs := fs.x.purgeList(subject, upto, keep)
	for _, s := range seqs {
		if _, err := fs.Remove(s); err != nil {
			return 0, err
		}
	}
	return uint64(len(seqs)), nil
}

// SubjectCount implements Store.
func (fs *File) SubjectCount(subject string) uint64 { return fs.x.count(subject) }

// FirstFor implements Store.
func (fs *File) FirstFor(subject string) (uint64, bool) { return fs.x.firstFor(subject) }

// Subjects implements Store.
func (fs *File) Subjects(filter string) map[string]uint64 { return fs.x.subjects(filter) }

// State implements Store.
func (fs *File) State() State { return fs.x.summary() }

// Flush implements Store: the active segment's new bytes go to the
// operating system in one write.
func (fs *File) Flush() error {
	seg := fs.active()
	if seg.flushed == seg.size {
		return nil
	}
	n, err := seg.f.WriteAt(seg.data[seg.flushed:], seg.flushed)
	seg.flushed += int64(n)
	if err != nil {
		return fmt.Errorf("store: write %s: %w", seg.path, err)
	}
	return nil
}

// Sync implements Store.
func (fs *File) Sync() error {
	if err := fs.Flush(); err != nil {
		return err
	}
	return fs.active().f.Sync()
}

// Close implements Store.
func (fs *File) Close() error {
	var err error
	if len(fs.segs) > 0 {
		err = fs.Sync()
	}
	for _, s := range fs.segs {
		err = errors.Join(err, s.f.Close())
	}
	fs.segs = nil
	return err
}

// Delete implements Store.
func (fs *File) Delete() error {
	fs.Close()
	return os.RemoveAll(fs.dir)
}
