package monitor

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// indexHTML is the live page: plain HTML and JavaScript, no build step. It
// polls /varz each second and draws message and byte rates on a canvas,
// and polls /gossipz and /routez for the cluster view. The charts carry
// data-points (points drawn) for tests and scripts.
//
//go:embed page/index.html
var indexHTML []byte

func (m *Server) servePage(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(indexHTML)
}
