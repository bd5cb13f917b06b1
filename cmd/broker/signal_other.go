//go:build !unix

package main

import (
	"errors"
	"os"
)

// ldmSignals is empty: there is no SIGUSR2 here.
var ldmSignals []os.Signal

func sendSignal(string) error {
	return errors.New("signal: --signal is not supported on this platform")
}
