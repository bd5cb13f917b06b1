package netem

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNamespace runs fn on an OS thread that has entered the network
// namespace at path, then returns the thread to the process's namespace.
// What fn creates there (a socket, a TUN descriptor) stays in that
// namespace for its whole life; fn must not start goroutines that create
// any. Go never clones new threads from a locked thread (Go 1.10+), so the
// runtime's other threads stay where they were.
func inNamespace(path string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return err
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", path, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: never let it run other Go
		// code (a second LockOSThread without its Unlock ends the thread
		// with this goroutine).
		runtime.LockOSThread()
		return errors.Join(ferr, fmt.Errorf("setns back: %w", err))
	}
	return ferr
}

// openTUN creates the TUN device name (IFF_TUN|IFF_NO_PI: whole IP
// packets, no extra header) inside the namespace at path and returns its
// descriptor as a non-blocking *os.File, so reads park on the runtime's
// poller and Close wakes them.
func openTUN(path, name string) (*os.File, error) {
	var f *os.File
	err := inNamespace(path, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %s: %w", name, err)
		}
		// No IPv6 on the link (no router solicitations or MLD reports
		// among the packets a test counts); absent when IPv6 is off.
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
		return nil
	})
	return f, err
}
