package proto

import "bytes"

// Handler receives parsed operations. Byte slices point into the parser's
// input or its carry buffers and are valid only during the call: copy what
// must outlive it. A non-nil error stops parsing and is returned by Parse.
type Handler interface {
	Connect(arg []byte) error
	// Pub delivers a PUB (hdrLen < 0) or HPUB (hdrLen = header bytes at the
	// start of msg). msg excludes the trailing CRLF.
	Pub(subject, reply []byte, hdrLen int, msg []byte) error
	Sub(subject, queue, sid []byte) error
	// Unsub carries max = 0 when no maximum was given, and -1 when the
	// maximum is not a number (nats-server then removes the subscription).
	Unsub(sid []byte, max int) error
	Ping() error
	Pong() error
	Info(arg []byte) error
	OK() error
	Err(arg []byte) error
}

type state uint8

const (
	stStart   state = iota
	stWord          // matching the rest of an op name in p.word
	stNeedSep       // op name done, a space or tab must follow (PUB, SUB, ...)
	stSkipSep       // skipping blanks before the arguments
	stArgs          // collecting the control line up to '\n'
	stSkipEOL       // ignoring the rest of the line (PING, PONG, +OK)
	stPayload       // collecting size+2 payload bytes
)

// ops, indexed by opcode.
type opcode uint8

const (
	opPub opcode = iota
	opHPub
	opSub
	opUnsub
	opConnect
	opInfo
	opPing
	opPong
	opOK
	opErr
)

var opWords = [...]string{
	opPub: "PUB", opHPub: "HPUB", opSub: "SUB", opUnsub: "UNSUB", opConnect: "CONNECT",
	opInfo: "INFO", opPing: "PING", opPong: "PONG", opOK: "+OK", opErr: "-ERR",
}

// Parser is the client-protocol state machine. It keeps state between calls
// so ops may be split anywhere across reads. It allocates only when an op
// straddles two reads.
type Parser struct {
	// MaxControlLine bounds a control line (op and arguments), as nats-server's
	// max_control_line. 0 means 4096.
	MaxControlLine int
	// MaxPayload bounds PUB/HPUB sizes, checked on the control line. 0 means 1 MB.
	MaxPayload int
	// RequireConnect makes any first op other than CONNECT an
	// ErrAuthViolation (authentication is required), as nats-server.
	RequireConnect bool
	// NoHeaders refuses HPUB (a client that did not negotiate headers): a
	// ViolationError, closing without -ERR as nats-server does.
	NoHeaders bool

	state  state
	op     opcode
	pos    int    // next byte of opWords[op] to match in stWord
	carry  []byte // control line or payload straddling reads
	subj   []byte // PUB args, valid while in stPayload
	reply  []byte
	hdr    int
	size   int
	argBuf [4][]byte
}

func (p *Parser) maxLine() int {
	if p.MaxControlLine > 0 {
		return p.MaxControlLine
	}
	return 4096
}

func (p *Parser) maxPayload() int {
	if p.MaxPayload > 0 {
		return p.MaxPayload
	}
	return 1 << 20
}

// Parse consumes buf, calling h for each complete op.
func (p *Parser) Parse(buf []byte, h Handler) error {
	i := 0
	for i < len(buf) {
		b := buf[i]
		switch p.state {
		case stStart:
			if !p.startOp(b) {
				if p.RequireConnect {
					return ErrAuthViolation
				}
				return ErrUnknownOp
			}
			i++
		case stWord:
			w := opWords[p.op]
			if p.pos == 1 && (p.op == opPub || p.op == opPing || p.op == opPong) {
				// 'P' is shared by PUB, PING and PONG: the second letter decides.
				switch upper(b) {
				case 'U':
					p.op = opPub
				case 'I':
					p.op = opPing
				case 'O':
					p.op = opPong
				default:
					return ErrUnknownOp
				}
				w = opWords[p.op]
			} else if upper(b) != w[p.pos] {
				return ErrUnknownOp
			}
			p.pos++
			i++
			if p.pos == len(w) {
				p.wordDone()
			}
		case stNeedSep:
			if b != ' ' && b != '\t' {
				return ErrUnknownOp
			}
			p.state = stSkipSep
			i++
		case stSkipSep:
			if b == ' ' || b == '\t' {
				i++
				continue
			}
			p.state = stArgs
		case stSkipEOL:
			j := bytes.IndexByte(buf[i:], '\n')
			if j < 0 {
				return nil
			}
			i += j + 1
			p.state = stStart
			if err := p.simpleOp(h); err != nil {
				return err
			}
		case stArgs:
			j := bytes.IndexByte(buf[i:], '\n')
			if j < 0 {
				// +1: a trailing '\r' whose '\n' has not arrived yet is
				// not part of the line.
				if len(p.carry)+len(buf)-i > p.maxLine()+1 {
					return ErrMaxControlLine
				}
				p.carry = append(p.carry, buf[i:]...)
				return nil
			}
			line := buf[i : i+j]
			carried := len(p.carry) > 0
			if carried {
				p.carry = append(p.carry, line...)
				line = p.carry
			}
			i += j + 1
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) > p.maxLine() {
				return ErrMaxControlLine
			}
			if err := p.argsOp(line, h); err != nil {
				return err
			}
			switch {
			case p.state != stPayload:
				p.carry = p.carry[:0]
			case carried:
				p.stashArgs() // keep only subject and reply ahead of the payload
			}
		case stPayload:
			need := p.size + 2
			if len(p.carry) == 0 && len(buf)-i >= need {
				// Whole payload in this buffer: no copy.
				msg := buf[i : i+need]
				i += need
				if err := p.finishPub(msg, h); err != nil {
					return err
				}
				continue
			}
			// The payload straddles reads: gather it in carry, after the
			// subject and reply it belongs to.
			if len(p.carry) == 0 {
				p.stashArgs()
			}
			if want := p.payloadStart() + need; cap(p.carry) < want {
				// Size the carry for the whole payload once, instead of
				// regrowing (and recopying) it read by read.
				p.carry = append(make([]byte, 0, want), p.carry...)
				p.subj = p.carry[:len(p.subj):len(p.subj)]
				p.reply = p.carry[len(p.subj) : len(p.subj)+len(p.reply) : len(p.subj)+len(p.reply)]
			}
			n := min(need-(len(p.carry)-p.payloadStart()), len(buf)-i)
			p.carry = append(p.carry, buf[i:i+n]...)
			i += n
			if got := len(p.carry) - p.payloadStart(); got < need {
				// Reject a bad terminator as soon as its bytes arrive.
				body := p.carry[p.payloadStart():]
				if got > p.size && body[p.size] != '\r' {
					return ErrUnknownOp
				}
				return nil
			}
			if err := p.finishPub(p.carry[p.payloadStart():], h); err != nil {
				return err
			}
		}
	}
	// A control line split across reads must keep its args alive: they may
	// point into buf, which the caller reuses. Move them into carry.
	if p.state == stPayload && len(p.carry) == 0 {
		p.stashArgs()
	}
	return nil
}

// payloadStart is where the payload begins inside carry: after the stashed
// subject and reply.
func (p *Parser) payloadStart() int { return len(p.subj) + len(p.reply) }

// stashArgs copies subject and reply into carry so they survive buffer reuse.
func (p *Parser) stashArgs() {
	p.carry = append(p.carry[:0], p.subj...)
	p.carry = append(p.carry, p.reply...)
	p.subj = p.carry[:len(p.subj):len(p.subj)]
	p.reply = p.carry[len(p.subj) : len(p.subj)+len(p.reply) : len(p.subj)+len(p.reply)]
}

func (p *Parser) finishPub(msg []byte, h Handler) error {
	if msg[p.size] != '\r' || msg[p.size+1] != '\n' {
		return ErrUnknownOp
	}
	subj, reply, hdr := p.subj, p.reply, p.hdr
	p.state, p.subj, p.reply = stStart, nil, nil
	err := h.Pub(subj, reply, hdr, msg[:p.size])
	p.carry = p.carry[:0]
	if cap(p.carry) > 64*1024 {
		p.carry = nil // do not pin a large payload buffer
	}
	return err
}

func upper(b byte) byte {
	if b >= 'a' && b <= 'z' {
		return b - 'a' + 'A'
	}
	return b
}

func (p *Parser) startOp(b byte) bool {
	if p.RequireConnect && upper(b) != 'C' {
		return false
	}
	switch upper(b) {
	case 'P':
		p.op = opPub // refined by the second letter
	case 'H':
		p.op = opHPub
	case 'S':
		p.op = opSub
	case 'U':
		p.op = opUnsub
	case 'C':
		p.op = opConnect
	case 'I':
		p.op = opInfo
	case '+':
		p.op = opOK
	case '-':
		p.op = opErr
	default:
		return false
	}
	p.pos, p.state = 1, stWord
	return true
}

func (p *Parser) wordDone() {
	switch p.op {
	case opPing, opPong, opOK:
		p.state = stSkipEOL
	case opConnect, opInfo:
		p.state = stSkipSep
	default:
		p.state = stNeedSep
	}
}

func (p *Parser) simpleOp(h Handler) error {
	switch p.op {
	case opPing:
		return h.Ping()
	case opPong:
		return h.Pong()
	default:
		return h.OK()
	}
}

// split breaks a control line into at most len(p.argBuf)+1 blank-separated
// fields; n > len(p.argBuf) means too many.
func (p *Parser) split(line []byte) ([][]byte, bool) {
	args := p.argBuf[:0]
	start := -1
	for i, b := range line {
		if b == ' ' || b == '\t' {
			if start >= 0 {
				if len(args) == cap(args) {
					return nil, false
				}
				args = append(args, line[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		if len(args) == cap(args) {
			return nil, false
		}
		args = append(args, line[start:])
	}
	return args, true
}

func (p *Parser) argsOp(line []byte, h Handler) error {
	op := p.op
	p.state = stStart
	switch op {
	case opConnect:
		return h.Connect(line)
	case opInfo:
		return h.Info(line)
	case opErr:
		return h.Err(line)
	}
	args, ok := p.split(line)
	if !ok {
		return violation(opWords[op], line)
	}
	switch op {
	case opPub:
		p.hdr = -1
		switch len(args) {
		case 2:
			p.subj, p.reply, p.size = args[0], nil, ParseSize(args[1])
		case 3:
			p.subj, p.reply, p.size = args[0], args[1], ParseSize(args[2])
		default:
			return violation("PUB", line)
		}
		if p.size < 0 {
			return violation("PUB", line)
		}
	case opHPub:
		if p.NoHeaders {
			return violation("HPUB", line)
		}
		switch len(args) {
		case 3:
			p.subj, p.reply, p.hdr, p.size = args[0], nil, ParseSize(args[1]), ParseSize(args[2])
		case 4:
			p.subj, p.reply, p.hdr, p.size = args[0], args[1], ParseSize(args[2]), ParseSize(args[3])
		default:
			return violation("HPUB", line)
		}
		if p.hdr < 0 || p.size < 0 || p.hdr > p.size {
			return violation("HPUB", line)
		}
	case opSub:
		switch len(args) {
		case 2:
			return h.Sub(args[0], nil, args[1])
		case 3:
			return h.Sub(args[0], args[1], args[2])
		}
		return violation("SUB", line)
	case opUnsub:
		switch len(args) {
		case 1:
			return h.Unsub(args[0], 0)
		case 2:
			return h.Unsub(args[0], ParseSize(args[1]))
		}
		return violation("UNSUB", line)
	}
	// PUB or HPUB: payload follows.
	if p.size > p.maxPayload() {
		return ErrMaxPayload
	}
	p.state = stPayload
	return nil
}

// ParseSize parses a non-negative decimal of at most 9 digits, as
// nats-server does; anything else is -1.
func ParseSize(d []byte) int {
	if len(d) == 0 || len(d) > 9 {
		return -1
	}
	n := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
