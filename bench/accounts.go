package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
)

// Cross-account rows: the same config file for both sides, two accounts,
// A exporting a stream and a service that B imports. The publisher and
// the responder log in to A, the subscriber and the requester to B.
const accountsConf = `
accounts {
  A: {
    users: [ {user: a, password: a} ]
    exports: [ {stream: "bench.>"}, {service: "svc.req"} ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [ {stream: {account: A, subject: "bench.>"}}, {service: {account: A, subject: "svc.req"}, to: "req"} ]
  }
}
`

var (
	loginA = nats.UserInfo("a", "a")
	loginB = nats.UserInfo("b", "b")
)

// withConfig runs body against one broker started with conf as its
// config file (-c), written to a temporary directory.
func withConfig(conf string, body func(ctx context.Context, env *Env, b *Broker) (Result, error)) func(context.Context, *Env) (Result, error) {
	return func(ctx context.Context, env *Env) (Result, error) {
		dir, err := os.MkdirTemp("", "bench-conf-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "accounts.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			return Result{}, err
		}
		return startedWith([]string{"-c", path}, body)(ctx, env)
	}
}

// streamImportFlow is f with the publishers in A and the subscribers in B.
func streamImportFlow(f flow) func(context.Context, *Env) (Result, error) {
	return withConfig(accountsConf, func(ctx context.Context, env *Env, b *Broker) (Result, error) {
		return f.runOn(ctx, env, endpoints{pub: b.URL, sub: b.URL,
			pubOpts: []nats.Option{loginA}, subOpts: []nats.Option{loginB}})
	})
}

// serviceImportRequests is w with the responder in A and the requester
// in B, asking through B's import.
func serviceImportRequests(w requestReply) func(context.Context, *Env) (Result, error) {
	w.respOpts, w.reqOpts = []nats.Option{loginA}, []nats.Option{loginB}
	// The responder answers on A's exported subject; the requester asks
	// on B's local name for it.
	w.respSubject, w.reqSubject = "svc.req", "req"
	return withConfig(accountsConf, w.run)
}

// manyAccountsConf is a config file with n accounts of one user each.
func manyAccountsConf(n int) string {
	var b strings.Builder
	b.WriteString("accounts {\n")
	for i := range n {
		fmt.Fprintf(&b, "  ACC%d: { users: [ {user: u%d, password: p} ] }\n", i, i)
	}
	b.WriteString("}\n")
	return b.String()
}

// accountLogin is the one user of account ACC<i> in manyAccountsConf.
func accountLogin(i int) nats.Option { return nats.UserInfo(fmt.Sprintf("u%d", i), "p") }

// inManyAccounts is f on a broker configured with n accounts of one user
// each, the publishers and subscribers all logged in as the last account's
// user.
func inManyAccounts(n int, f flow) func(context.Context, *Env) (Result, error) {
	return withConfig(manyAccountsConf(n), func(ctx context.Context, env *Env, b *Broker) (Result, error) {
		return f.runOn(ctx, env, endpoints{pub: b.URL, sub: b.URL, opts: []nats.Option{accountLogin(n - 1)}})
	})
}

// accountsOverOne is ours only: f with n accounts configured divided by f
// with one (the same flow, the same login form), each on a fresh broker
// stopped before the other starts. Which goes first alternates from run to
// run (runs are sequential), so neither always gets the colder machine.
func accountsOverOne(n int, f flow) func(context.Context, *Env) (Result, error) {
	runs := 0
	return func(ctx context.Context, env *Env) (Result, error) {
		if env.Side != sideOurs {
			return Result{}, ErrNotApplicable
		}
		counts := []int{1, n}
		if runs++; runs%2 == 0 {
			counts[0], counts[1] = n, 1
		}
		got := map[int]Result{}
		for _, c := range counts {
			r, err := inManyAccounts(c, f)(ctx, env)
			if serr := env.stopAll(); err == nil {
				err = serr
			}
			if err != nil {
				return Result{}, fmt.Errorf("%d account(s): %w", c, err)
			}
			got[c] = r
		}
		one, many := got[1], got[n]
		env.Progress("1 account %s, %d accounts %s msgs/s", formatValue(one.Value, "msgs/s"), n, formatValue(many.Value, "msgs/s"))
		r := Result{Value: many.Value / one.Value}
		if one.Note != "" {
			r.Note = "1 account: " + one.Note
		}
		if many.Note != "" {
			r.Note = joinNotes(r.Note, fmt.Sprintf("%d accounts: %s", n, many.Note))
		}
		return r, nil
	}
}

// manyAccounts measures the broker's settled RSS with n accounts of one
// user each configured and one client logged in to the last.
type manyAccounts struct{ count int }

func (w manyAccounts) run(ctx context.Context, env *Env) (Result, error) {
	n := env.scaled(w.count, 100)
	return withConfig(manyAccountsConf(n), func(ctx context.Context, env *Env, b *Broker) (Result, error) {
		nc, err := connect(b.URL, &firstError{}, accountLogin(n-1))
		if err != nil {
			return Result{}, err
		}
		defer nc.Close()
		if err := nc.Flush(); err != nil {
			return Result{}, err
		}
		return settledRSS(ctx, b)
	})(ctx, env)
}
