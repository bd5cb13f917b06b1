//go:build !unix

package main

import (
	"errors"
	"os"
)

// ldmSignals is empty: there is no SIGUSR2 here.
var ldmSignals []os.Signal

// reopenSignals is empty: there is no SIGUSR1 here.
var reopenSignals []os.Signal

func sendSignal(string) error {
	return errors.New("signal: --signal is not supported on this platform")
}
