package store

import "fmt"

// The file store's reads. The active segment is always held in memory;
// of the older ones, one at a time is held as a read cache. A read from a
// segment that is not held goes to the file for that record alone (a
// random get costs one pread), but a second read in a row from the same
// segment loads the whole segment (a consumer working through the stream
// costs one read per segment, not one per message).

// read returns the n bytes at off in seg.
func (fs *File) read(seg *segment, off int64, n uint32) ([]byte, error) {
	if seg.data == nil && fs.missed == seg {
		if err := fs.load(seg); err != nil {
			return nil, err
		}
	}
	if seg.data != nil {
		if off+int64(n) > int64(len(seg.data)) {
			return nil, fmt.Errorf("store: %s: record at %d beyond the segment", seg.path, off)
		}
		return seg.data[off : off+int64(n) : off+int64(n)], nil
	}
	fs.missed = seg
	b := make([]byte, n)
	if _, err := seg.f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("store: read %s: %w", seg.path, err)
	}
	return b, nil
}

// load reads all of seg and makes it the held older segment.
func (fs *File) load(seg *segment) error {
	b := makeHuge[byte](int(seg.size), int(seg.size))
	if _, err := seg.f.ReadAt(b, 0); err != nil {
		return fmt.Errorf("store: read %s: %w", seg.path, err)
	}
	fs.hold(seg)
	seg.data = b
	return nil
}

// hold makes seg (which has stopped being the active segment, or is
// being loaded) the held older segment, releasing the previous one.
func (fs *File) hold(seg *segment) {
	if fs.cache != nil && fs.cache != seg {
		fs.cache.data = nil
	}
	fs.cache = seg
	fs.missed = nil
}

// forget drops the references the read path has to a removed segment.
func (fs *File) forget(seg *segment) {
	if fs.cache == seg {
		fs.cache = nil
	}
	if fs.missed == seg {
		fs.missed = nil
	}
	seg.data = nil
}
