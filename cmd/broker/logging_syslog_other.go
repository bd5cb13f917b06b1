//go:build windows || plan9

package main

import (
	"errors"

	"go.uber.org/zap/zapcore"
)

// syslogCore is not available here: there is no log/syslog.
type syslogCore struct{ zapcore.Core }

func openSyslog(string, zapcore.Encoder, zapcore.LevelEnabler) (*syslogCore, error) {
	return nil, errors.New("syslog is not supported on this platform")
}

func (c *syslogCore) Close() error { return nil }
