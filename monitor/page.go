package monitor

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// indexHTML is the live page: plain HTML and JavaScript, no build step. It
// polls /varz each second (message and byte rates on canvases,
// connections and subscriptions as sparklines, the last 120 polls kept in
// the browser), /murmur/subjz for the top subjects, and /healthz,
// /gossipz, /routez and /leafz for the cluster view, and /jsz for the
// JetStream section (hidden without JetStream). It shows server names,
// never ids. One pair of functions in it (memberConcern, assessHealth)
// decides what is an alarm. The charts carry data-points, the body
// data-level and its measured width, for tests and scripts.
//
//go:embed page/index.html
var indexHTML []byte

func (m *Server) servePage(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(indexHTML)
}
