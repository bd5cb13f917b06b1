package monitor

import (
	"encoding/json"
	"sync/atomic"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Paths served. Like nats-server, /subscriptionsz is an alias of /subsz.
const (
	pathRoot    = "/"
	pathVarz    = "/varz"
	pathConnz   = "/connz"
	pathSubsz   = "/subsz"
	pathSubsz2  = "/subscriptionsz"
	pathRoutez  = "/routez"
	pathGossipz = "/gossipz"
	pathHealthz = "/healthz"
	pathMetrics = "/metrics"
	pathGatewz  = "/gatewayz"
	pathLeafz   = "/leafz"
	pathAccz    = "/accountz"
	pathAccStz  = "/accstatz"
)

// reqCounters count requests per path (varz http_req_stats). The set of
// paths is fixed, so the map is read-only after init.
type reqCounters struct {
	m map[string]*atomic.Uint64
}

func (r *reqCounters) init() {
	r.m = make(map[string]*atomic.Uint64)
	for _, p := range []string{pathRoot, pathVarz, pathConnz, pathSubsz, pathRoutez, pathGossipz, pathHealthz, pathMetrics, pathGatewz, pathLeafz, pathAccz, pathAccStz, pathSubjz, pathStacksz, pathJsz} {
		r.m[p] = new(atomic.Uint64)
	}
}

func (r *reqCounters) inc(path string) {
	if c := r.m[path]; c != nil {
		c.Add(1)
	}
}

func (r *reqCounters) snapshot() map[string]uint64 {
	out := make(map[string]uint64, len(r.m))
	for p, c := range r.m {
		out[p] = c.Load()
	}
	return out
}

// handle routes one request.
func (m *Server) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if path == pathSubsz2 {
		path = pathSubsz
	}
	m.reqs.inc(path)
	ctx.Response.Header.Set("Access-Control-Allow-Origin", "*")
	if !ctx.IsGet() && !ctx.IsHead() {
		writeText(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if a := m.cfg.Auth; !openPath(path) && !a.Allow(string(ctx.Request.Header.Peek("Authorization"))) {
		ctx.Response.Header.Set("WWW-Authenticate", a.Challenge())
		writeText(ctx, fasthttp.StatusUnauthorized, "unauthorized")
		return
	}
	args := ctx.QueryArgs()
	switch path {
	case pathRoot, "/index.html":
		m.servePage(ctx)
	case pathVarz:
		m.writeJSON(ctx, 200, m.Varz())
	case pathConnz:
		opts, err := connzOptions(args)
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		cz, err := m.Connz(opts)
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		m.writeJSON(ctx, 200, cz)
	case pathSubsz:
		opts, err := subszOptions(args)
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		sz, err := m.Subsz(opts)
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		m.writeJSON(ctx, 200, sz)
	case pathRoutez:
		subs, err := decodeSubs(args)
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		m.writeJSON(ctx, 200, m.Routez(subs))
	case pathGossipz:
		m.writeJSON(ctx, 200, m.Gossipz())
	case pathSubjz:
		m.serveSubjz(ctx)
	case pathHealthz:
		bad, err := healthzQuery(args)
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		if bad != nil {
			m.writeJSON(ctx, fasthttp.StatusBadRequest, bad)
			return
		}
		h, code := m.Health()
		m.writeJSON(ctx, code, h)
	case pathAccz:
		az, err := m.Accountz(string(args.Peek("acc")))
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		m.writeJSON(ctx, 200, az)
	case pathAccStz:
		opts, err := accountStatzOptions(args)
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		m.writeJSON(ctx, 200, m.AccountStatz(opts))
	case pathStacksz:
		m.serveStacks(ctx)
	case pathJsz:
		m.serveJsz(ctx)
	case pathMetrics:
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		ctx.SetBody(m.Metrics())
	case pathGatewz:
		if _, err := decodeSubs(args); err != nil {
			m.writeError(ctx, err)
			return
		}
		if err := decodeBools(args, "accs"); err != nil {
			m.writeError(ctx, err)
			return
		}
		m.writeJSON(ctx, 200, m.emptyShell("outbound_gateways", "inbound_gateways"))
	case pathLeafz:
		subs, err := decodeBool(args, "subs")
		if err != nil {
			m.writeError(ctx, err)
			return
		}
		m.writeJSON(ctx, 200, m.Leafz(subs, string(args.Peek("acc"))))
	default:
		writeText(ctx, fasthttp.StatusNotFound, "not found")
	}
}

// emptyShell answers endpoints of nats-server features Murmur lacks, so
// tools that probe them get a well-formed empty document.
func (m *Server) emptyShell(lists ...string) map[string]any {
	doc := map[string]any{"server_id": m.b.ID(), "now": nowUTC()}
	for _, l := range lists {
		if l == "leafs" {
			doc["leafnodes"] = 0
			doc[l] = []any{}
		} else {
			doc[l] = map[string]any{}
		}
	}
	return doc
}

// writeJSON writes v indented, as nats-server does.
func (m *Server) writeJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		m.log.Warn("monitor response not encodable", zap.String("path", string(ctx.Path())), zap.Error(err))
		writeText(ctx, fasthttp.StatusInternalServerError, "internal error")
		return
	}
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// writeError reports a bad request with nats-server's plain-text reason
// (see params.go).
func (m *Server) writeError(ctx *fasthttp.RequestCtx, err error) {
	writeText(ctx, fasthttp.StatusBadRequest, err.Error())
}

// writeText writes a plain-text answer. (Not ctx.Error: it resets the
// response header, which turns the default Date header back on and with it
// fasthttp's process-wide clock goroutine.)
func writeText(ctx *fasthttp.RequestCtx, code int, text string) {
	ctx.SetStatusCode(code)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(text)
}
