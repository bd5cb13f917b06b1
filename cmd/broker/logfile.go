package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// logPerms are the log file's permissions, as nats-server's.
const logPerms = 0o640

// backupStamp is the suffix nats-server gives a rotated log file:
// <file>.2026.12.02.03.04.05.123456789.
const backupStamp = "2006.01.02.15.04.05.000000000"

// logFile is the log file (log_file). With a size limit
// (logfile_size_limit) it rotates as nats-server's does: once a write
// takes it past the limit, the file is renamed to <file>.<backupStamp>
// and a fresh one opened at the path; with logfile_max_num it then keeps
// that many files, the current one included, removing the oldest
// backups. Reopen (SIGUSR1) closes the file and opens the path again, for
// logrotate, which has renamed it. Writes are serialized by mu.
type logFile struct {
	path   string
	limit  int64 // 0: no rotation
	maxNum int   // files kept, the current one included (0: all)
	// note formats a line the file writes about itself (rotation, purge):
	// the logger cannot be called from inside its own write.
	note func(lvl zapcore.Level, msg string) []byte

	mu     sync.Mutex
	f      *os.File
	size   int64
	closed bool
}

func openLogFile(path string, limit int64, maxNum int, note func(zapcore.Level, string) []byte) (*logFile, error) {
	l := &logFile{path: path, limit: limit, maxNum: maxNum, note: note}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// open opens the path for appending and learns its size. Caller holds mu
// (or owns l alone).
func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, logPerms)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write writes one encoded entry, then rotates if the file has passed
// the limit.
func (l *logFile) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, os.ErrClosed
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err == nil && l.limit > 0 && l.size > l.limit {
		l.rotate()
	}
	return n, err
}

// rotate renames the full file and opens a fresh one at the path. The
// old file is written to until the new one is open, so a failure loses
// nothing: it is reported in the old file and tried again next write.
// Caller holds mu.
func (l *logFile) rotate() {
	bak := l.path + "." + time.Now().Format(backupStamp)
	if err := os.Rename(l.path, bak); err != nil {
		l.writeNote(zapcore.ErrorLevel, fmt.Sprintf("Unable to rename logfile for rotation (%v), will attempt next rotation", err))
		return
	}
	old := l.f
	if err := l.open(); err != nil {
		l.f = old
		l.writeNote(zapcore.ErrorLevel, fmt.Sprintf("Unable to open a new logfile %q after rotation (%v); still writing to %q", l.path, err, bak))
		return
	}
	old.Close()
	l.writeNote(zapcore.InfoLevel, fmt.Sprintf("Rotated log, backup saved as %q", bak))
	if l.maxNum > 0 {
		l.purge()
	}
}

// purge removes the oldest backups beyond maxNum-1 (the current file is
// the maxNum-th). Only names of the rotation's own form count. Caller
// holds mu.
func (l *logFile) purge() {
	dir, base := filepath.Dir(l.path), filepath.Base(l.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		l.writeNote(zapcore.ErrorLevel, fmt.Sprintf("Unable to read directory %q for log purge (%v), will attempt next rotation", dir, err))
		return
	}
	var backups []string
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || e.IsDir() {
			continue
		}
		if _, err := time.Parse(backupStamp, stamp); err == nil {
			backups = append(backups, e.Name())
		}
	}
	sort.Strings(backups) // the stamp sorts oldest first
	for len(backups) > l.maxNum-1 {
		if err := os.Remove(filepath.Join(dir, backups[0])); err != nil {
			l.writeNote(zapcore.ErrorLevel, fmt.Sprintf("Unable to remove backup log file %q (%v), will attempt next rotation", backups[0], err))
			return
		}
		l.writeNote(zapcore.InfoLevel, fmt.Sprintf("Purged log file %q", backups[0]))
		backups = backups[1:]
	}
}

// writeNote writes a line of the file's own into the current file.
// Caller holds mu.
func (l *logFile) writeNote(lvl zapcore.Level, msg string) {
	b := l.note(lvl, msg)
	n, _ := l.f.Write(b)
	l.size += int64(n)
}

// Reopen closes the file and opens its path again: after logrotate
// renamed it, the broker writes to a fresh file at the original path.
func (l *logFile) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return os.ErrClosed
	}
	old := l.f
	if err := l.open(); err != nil {
		l.f = old
		return err
	}
	old.Close()
	return nil
}

// Sync flushes the file to disk.
func (l *logFile) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	return l.f.Sync()
}

// Close closes the file; later writes fail.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.f.Close()
}
