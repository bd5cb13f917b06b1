//go:build !linux

package store

import "unsafe"

// adviseHuge does nothing where there is no MADV_HUGEPAGE.
func adviseHuge(unsafe.Pointer, uintptr) {}
