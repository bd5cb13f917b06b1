//go:build !windows && !plan9

package main

import (
	"log/syslog"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap/zapcore"
)

// syslogCore writes entries to syslog, each at the priority of its level
// as nats-server's syslog logger does (trace at notice). The line carries
// no time, pid or level tag: syslog records those itself.
type syslogCore struct {
	zapcore.LevelEnabler
	enc zapcore.Encoder
	w   *syslog.Writer
}

// openSyslog connects to the local syslog (remote == "") or to the
// remote_syslog URL, tagged with the program's name as nats-server tags.
func openSyslog(remote string, enc zapcore.Encoder, lvl zapcore.LevelEnabler) (*syslogCore, error) {
	tag := filepath.Base(os.Args[0])
	var w *syslog.Writer
	var err error
	if remote == "" {
		w, err = syslog.New(syslog.LOG_DAEMON|syslog.LOG_NOTICE, tag)
	} else {
		network, addr, perr := parseRemoteSyslog(remote)
		if perr != nil {
			return nil, perr
		}
		w, err = syslog.Dial(network, addr, syslog.LOG_DAEMON|syslog.LOG_NOTICE, tag)
	}
	if err != nil {
		return nil, err
	}
	return &syslogCore{LevelEnabler: lvl, enc: enc, w: w}, nil
}

func (c *syslogCore) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &syslogCore{LevelEnabler: c.LevelEnabler, enc: enc, w: c.w}
}

func (c *syslogCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *syslogCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	b, err := c.enc.EncodeEntry(ent, fields)
	if err != nil {
		return err
	}
	msg := strings.TrimSuffix(b.String(), "\n")
	b.Free()
	switch {
	case ent.Level <= zapcore.DebugLevel-1:
		return c.w.Notice(msg)
	case ent.Level == zapcore.DebugLevel:
		return c.w.Debug(msg)
	case ent.Level == zapcore.InfoLevel:
		return c.w.Notice(msg)
	case ent.Level == zapcore.WarnLevel:
		return c.w.Warning(msg)
	case ent.Level == zapcore.ErrorLevel:
		return c.w.Err(msg)
	default:
		return c.w.Crit(msg)
	}
}

func (c *syslogCore) Sync() error  { return nil }
func (c *syslogCore) Close() error { return c.w.Close() }
