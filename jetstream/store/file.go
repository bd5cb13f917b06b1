package store

import (
	"bufio"
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
// segments when the store opens; message bodies are read from the files.
type File struct {
	dir    string
	maxSeg int64
	x      *index
	segs   []*segment // oldest first; the last is the one appended to
	w      *bufio.Writer
	buf    []byte
	// Recovered describes what opening repaired ("" when nothing).
	Recovered string
}

type segment struct {
	id   uint64
	path string
	f    *os.File
	size int64 // bytes written, buffered ones included
	live int   // messages in the index whose record is here
}

// DefaultSegmentSize is when a segment is closed and the next begun.
const DefaultSegmentSize = 8 << 20

// OpenFile opens (or creates) the file store in dir, recovering it: a
// record cut short or failing its checksum ends its segment, which is
// truncated there.
func OpenFile(dir string, segmentSize int64) (*File, error) {
	if segmentSize <= 0 {
		segmentSize = DefaultSegmentSize
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	fs := &File{dir: dir, maxSeg: segmentSize, x: newIndex()}
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
	for _, id := range ids {
		if err := fs.recover(id); err != nil {
			fs.Close()
			return nil, err
		}
	}
	if len(fs.segs) == 0 {
		if err := fs.roll(); err != nil {
			return nil, err
		}
	} else {
		fs.w = bufio.NewWriterSize(fs.active().f, 64<<10)
	}
	fs.dropEmptyFront()
	return fs, nil
}

func (fs *File) segPath(id uint64) string { return filepath.Join(fs.dir, fmt.Sprintf("%020d.seg", id)) }

// recover reads segment id into the index.
func (fs *File) recover(id uint64) error {
	path := fs.segPath(id)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o640)
	if err != nil {
		return err
	}
	seg := &segment{id: id, path: path, f: f}
	fs.segs = append(fs.segs, seg)
	off := 0
	for off < len(b) {
		r, n, err := decodeRecord(b[off:])
		if err != nil {
			fs.Recovered += fmt.Sprintf("%s: %v at offset %d, %d bytes dropped; ", filepath.Base(path), err, off, len(b)-off)
			if err := f.Truncate(int64(off)); err != nil {
				return err
			}
			break
		}
		fs.apply(&r, seg, int64(off), uint32(n))
		off += n
	}
	seg.size = int64(off)
	_, err = f.Seek(seg.size, io.SeekStart)
	return err
}

// apply replays one record into the index.
func (fs *File) apply(r *record, seg *segment, off int64, n uint32) {
	switch r.typ {
	case recMsg:
		if r.seq <= fs.x.last {
			return // out of order: not ours to trust
		}
		fs.x.add(r.seq, &entry{subj: r.subj, ts: r.ts, size: Size(r.subj, r.hdr, r.data), seg: seg, off: off, rlen: n})
		seg.live++
	case recDelete:
		if e := fs.x.remove(r.seq); e != nil {
			e.seg.live--
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
		if e := fs.x.remove(fs.x.first); e != nil {
			e.seg.live--
		}
	}
}

func (fs *File) active() *segment { return fs.segs[len(fs.segs)-1] }

// roll starts a new segment, which begins with a recFirst record so the
// sequence survives older segments being removed.
func (fs *File) roll() error {
	var id uint64 = 1
	if len(fs.segs) > 0 {
		if err := fs.w.Flush(); err != nil {
			return err
		}
		if err := fs.active().f.Sync(); err != nil {
			return err
		}
		id = fs.active().id + 1
	}
	path := fs.segPath(id)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	fs.segs = append(fs.segs, &segment{id: id, path: path, f: f})
	fs.w = bufio.NewWriterSize(f, 64<<10)
	st := fs.x.state()
	_, _, err = fs.write(&record{typ: recFirst, seq: st.FirstSeq})
	return err
}

// write appends r to the active segment and returns where it went.
func (fs *File) write(r *record) (int64, uint32, error) {
	seg := fs.active()
	fs.buf = appendRecord(fs.buf[:0], r)
	if _, err := fs.w.Write(fs.buf); err != nil {
		return 0, 0, err
	}
	off := seg.size
	seg.size += int64(len(fs.buf))
	return off, uint32(len(fs.buf)), nil
}

// dropEmptyFront removes the oldest segments that hold no live message.
func (fs *File) dropEmptyFront() {
	for len(fs.segs) > 1 && fs.segs[0].live == 0 {
		s := fs.segs[0]
		s.f.Close()
		os.Remove(s.path)
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
	off, n, err := fs.write(&record{typ: recMsg, seq: seq, ts: ts, subj: subject, hdr: hdr, data: data})
	if err != nil {
		return 0, err
	}
	seg := fs.active()
	fs.x.add(seq, &entry{subj: subject, ts: ts, size: Size(subject, hdr, data), seg: seg, off: off, rlen: n})
	seg.live++
	return seq, nil
}

func (fs *File) msg(seq uint64) (*Msg, error) {
	e := fs.x.get(seq)
	if e == nil {
		return nil, ErrNotFound
	}
	if e.seg == fs.active() && fs.w.Buffered() > 0 {
		if err := fs.w.Flush(); err != nil {
			return nil, err
		}
	}
	b := make([]byte, e.rlen)
	if _, err := e.seg.f.ReadAt(b, e.off); err != nil {
		return nil, fmt.Errorf("store: read %s: %w", e.seg.path, err)
	}
	r, _, err := decodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("store: %s at %d: %w", e.seg.path, e.off, err)
	}
	return &Msg{Subject: r.subj, Hdr: r.hdr, Data: r.data, Seq: seq, Time: r.ts}, nil
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
	e := fs.x.remove(seq)
	e.seg.live--
	fs.dropEmptyFront()
	return true, nil
}

// Purge implements Store.
func (fs *File) Purge(subject string, upto, keep uint64) (uint64, error) {
	if matchAll(subject) && keep == 0 {
		st := fs.x.state()
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
func (fs *File) SubjectCount(subject string) uint64 {
	if ss := fs.x.subj[subject]; ss != nil {
		return ss.n
	}
	return 0
}

// FirstFor implements Store.
func (fs *File) FirstFor(subject string) (uint64, bool) {
	if ss := fs.x.subj[subject]; ss != nil {
		return ss.first, true
	}
	return 0, false
}

// Subjects implements Store.
func (fs *File) Subjects(filter string) map[string]uint64 { return fs.x.subjects(filter) }

// State implements Store.
func (fs *File) State() State { return fs.x.state() }

// Flush implements Store.
func (fs *File) Flush() error { return fs.w.Flush() }

// Sync implements Store.
func (fs *File) Sync() error {
	if err := fs.w.Flush(); err != nil {
		return err
	}
	return fs.active().f.Sync()
}

// Close implements Store.
func (fs *File) Close() error {
	var err error
	if fs.w != nil && len(fs.segs) > 0 {
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
