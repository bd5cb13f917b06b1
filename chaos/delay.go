package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// delay200 is the delay the degrade fault adds to a broker's outbound
// packets.
const delay200 = 200 * time.Millisecond

// delayer holds the packets an iptables NFQUEUE rule hands it for a fixed
// delay, then accepts them: tc netem's "delay" for kernels built without
// sch_netem. It speaks the nfnetlink_queue protocol directly (queue
// config, packet notifications, batch verdicts) on a netlink socket made
// inside the broker's namespace. The delay is the same for every packet,
// so packets leave in the order they came (as with netem's plain delay);
// the rule's --queue-bypass and the queue's fail-open flag accept packets
// when the harness is gone or the queue is full, so a stuck harness never
// blackholes a broker.
type delayer struct {
	fd    int
	queue uint16
	delay time.Duration
	logf  func(string, ...any)

	wg       sync.WaitGroup
	stopOnce sync.Once
	done     chan struct{}
	held     chan heldPacket
}

type heldPacket struct {
	id      uint32
	release time.Time
}

// Netlink constants of nfnetlink_queue (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue     = 3
	nfqnlMsgPacket      = 0
	nfqnlMsgVerdict     = 1
	nfqnlMsgConfig      = 2
	nfqnlMsgVerdictBat  = 3
	nfqaPacketHdr       = 1
	nfqaVerdictHdr      = 2
	nfqaCfgCmd          = 1
	nfqaCfgParams       = 2
	nfqaCfgQueueMaxlen  = 3
	nfqaCfgMask         = 4
	nfqaCfgFlags        = 5
	nfqnlCfgCmdBind     = 1
	nfqnlCopyMeta       = 1
	nfqaCfgFFailOpen    = 1
	nfAccept            = 1
	nfqueueMaxHeld      = 16384
	netlinkRecvBufBytes = 4 << 20
)

// startDelayer binds queue in namespace ns and starts holding its packets.
func startDelayer(ns string, queue uint16, delay time.Duration, logf func(string, ...any)) (*delayer, error) {
	fd, err := socketInNamespace("/run/netns/" + ns)
	if err != nil {
		return nil, fmt.Errorf("nfqueue in %s: %w", ns, err)
	}
	d := &delayer{fd: fd, queue: queue, delay: delay, logf: logf, done: make(chan struct{}), held: make(chan heldPacket, nfqueueMaxHeld)}
	cmd := make([]byte, 4)
	cmd[0] = nfqnlCfgCmdBind
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, 0xffff)
	params[4] = nfqnlCopyMeta
	maxlen := binary.BigEndian.AppendUint32(nil, nfqueueMaxHeld)
	flags := binary.BigEndian.AppendUint32(nil, nfqaCfgFFailOpen)
	for _, a := range [][]byte{
		attr(nfqaCfgCmd, cmd),
		append(append(attr(nfqaCfgParams, params), attr(nfqaCfgQueueMaxlen, maxlen)...), append(attr(nfqaCfgMask, flags), attr(nfqaCfgFlags, flags)...)...),
	} {
		if err := d.send(nfqnlMsgConfig, a, true); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("nfqueue %d config: %w", queue, err)
		}
	}
	d.wg.Add(2)
	go d.readLoop()
	go d.releaseLoop()
	return d, nil
}

// socketInNamespace opens a NETLINK_NETFILTER socket inside the namespace
// at path: a socket belongs to the namespace it was made in, so the thread
// enters it for the socket call and returns.
func socketInNamespace(path string) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return -1, err
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return -1, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return -1, fmt.Errorf("setns: %w", err)
	}
	fd, serr := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: never let it run Go code
		// again (LockOSThread without Unlock ends the thread with the
		// goroutine).
		runtime.LockOSThread()
		if serr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("setns back: %w", err)
	}
	if serr != nil {
		return -1, serr
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, netlinkRecvBufBytes)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func attr(typ uint16, data []byte) []byte {
	n := 4 + len(data)
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint16(b, uint16(n))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], data)
	return b
}

// send writes one nfnetlink message for the queue; with ack it waits for
// the kernel's answer.
func (d *delayer) send(msgType uint16, attrs []byte, ack bool) error {
	flags := uint16(unix.NLM_F_REQUEST)
	if ack {
		flags |= unix.NLM_F_ACK
	}
	b := make([]byte, 16+4, 20+len(attrs))
	binary.NativeEndian.PutUint32(b, uint32(20+len(attrs)))
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|msgType)
	binary.NativeEndian.PutUint16(b[6:], flags)
	b[16] = unix.AF_UNSPEC
	b[17] = 0 // NFNETLINK_V0
	binary.BigEndian.PutUint16(b[18:], d.queue)
	b = append(b, attrs...)
	if err := unix.Sendto(d.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	if !ack {
		return nil
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(d.fd, buf, 0)
	if err != nil {
		return err
	}
	if n >= 20 && binary.NativeEndian.Uint16(buf[4:]) == unix.NLMSG_ERROR {
		if code := int32(binary.NativeEndian.Uint32(buf[16:])); code != 0 {
			return unix.Errno(-code)
		}
	}
	return nil
}

// readLoop takes packet notifications and queues each packet's release.
func (d *delayer) readLoop() {
	defer d.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		select {
		case <-d.done:
			return
		default:
		}
		n, _, err := unix.Recvfrom(d.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.ENOBUFS) {
				// Notifications were lost; their packets wait in the kernel
				// until the next batch verdict covers their ids.
				continue
			}
			d.logf("nfqueue %d: read: %v", d.queue, err)
			return
		}
		now := time.Now()
		for b := buf[:n]; len(b) >= 16; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < 16 || l > len(b) {
				break
			}
			if binary.NativeEndian.Uint16(b[4:]) == nfnlSubsysQueue<<8|nfqnlMsgPacket && l >= 20 {
				if id, ok := packetID(b[20:l]); ok {
					select {
					case d.held <- heldPacket{id: id, release: now.Add(d.delay)}:
					default: // full: fail-open accepts past the queue's limit anyway
					}
				}
			}
			b = b[(l+3)&^3:]
		}
	}
}

func packetID(attrs []byte) (uint32, bool) {
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs))
		typ := binary.NativeEndian.Uint16(attrs[2:]) & 0x3fff
		if l < 4 || l > len(attrs) {
			return 0, false
		}
		if typ == nfqaPacketHdr && l >= 8 {
			return binary.BigEndian.Uint32(attrs[4:]), true
		}
		attrs = attrs[(l+3)&^3:]
	}
	return 0, false
}

// releaseLoop accepts held packets when their time comes, with one batch
// verdict for all the packets due (ids grow, so "up to id" covers them).
func (d *delayer) releaseLoop() {
	defer d.wg.Done()
	var last uint32
	flush := func() {
		if last == 0 {
			return
		}
		v := make([]byte, 8)
		binary.BigEndian.PutUint32(v, nfAccept)
		binary.BigEndian.PutUint32(v[4:], last)
		_ = d.send(nfqnlMsgVerdictBat, attr(nfqaVerdictHdr, v), false)
		last = 0
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var p heldPacket
		select {
		case <-d.done:
			// Let everything still queued in the kernel go.
			for {
				select {
				case p = <-d.held:
					last = p.id
				default:
					flush()
					return
				}
			}
		case p = <-d.held:
		}
		if w := time.Until(p.release); w > 0 {
			flush() // what was due before waits no longer
			timer.Reset(w)
			select {
			case <-timer.C:
			case <-d.done:
			}
		}
		last = p.id
		if len(d.held) == 0 {
			flush()
		}
	}
}

// stop releases every held packet and closes the socket.
func (d *delayer) stop() {
	d.stopOnce.Do(func() {
		close(d.done)
		d.wg.Wait()
		unix.Close(d.fd)
	})
}
