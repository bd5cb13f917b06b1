package monitor

import (
	"runtime"

	"github.com/valyala/fasthttp"
)

// pathStacksz serves every goroutine's stack as text, as nats-server's
// /stacksz: the first thing to look at when a broker hangs.
const pathStacksz = "/stacksz"

// Stacks returns the stacks of all goroutines in runtime.Stack's text
// format. It takes no lock, so it answers even if the broker is deadlocked.
func Stacks() []byte {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

func (m *Server) serveStacks(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(Stacks())
}
