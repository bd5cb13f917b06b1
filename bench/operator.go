package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Operator-mode rows: both brokers read one config file that trusts an
// operator (its JWT inline), names a system account, and preloads the
// system account and one account A into a MEMORY resolver. Users of A log
// in with JWTs the harness mints, signing each connection's nonce.

// operatorFixture holds the keys and the config file, made on first use
// and shared by every run of the operator rows, so both sides see the same
// operator, account and users. Runs are sequential; the mutex is for
// safety, not speed.
type operatorFixture struct {
	mu      sync.Mutex
	conf    string
	account nkeys.KeyPair
	minted  []userLogin
}

// userLogin is one minted user of account A: its JWT and its key pair,
// whose seed signs the nonce.
type userLogin struct {
	jwt string
	kp  nkeys.KeyPair
}

// setup makes the operator, the system account, account A and the config
// file text, once.
func (f *operatorFixture) setup() error {
	if f.conf != "" {
		return nil
	}
	op, err := nkeys.CreateOperator()
	if err != nil {
		return err
	}
	opPub, _ := op.PublicKey()
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return err
	}
	sysPub, _ := sys.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(op)
	if err != nil {
		return fmt.Errorf("operator JWT: %w", err)
	}
	sysJWT, err := jwt.NewAccountClaims(sysPub).Encode(op)
	if err != nil {
		return fmt.Errorf("system account JWT: %w", err)
	}
	acc, err := nkeys.CreateAccount()
	if err != nil {
		return err
	}
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "A"
	accJWT, err := ac.Encode(op)
	if err != nil {
		return fmt.Errorf("account JWT: %w", err)
	}
	f.account = acc
	f.conf = fmt.Sprintf(`
operator: %s
system_account: %s
resolver: MEMORY
resolver_preload: {
  %s: %s
  %s: %s
}
`, opJWT, sysPub, sysPub, sysJWT, accPub, accJWT)
	return nil
}

// users returns the config file and n distinct users of A, minting the
// ones not minted yet.
func (f *operatorFixture) users(n int) (string, []userLogin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.setup(); err != nil {
		return "", nil, err
	}
	for len(f.minted) < n {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", nil, err
		}
		pub, _ := kp.PublicKey()
		uc := jwt.NewUserClaims(pub)
		uc.Name = fmt.Sprintf("u%d", len(f.minted))
		tok, err := uc.Encode(f.account)
		if err != nil {
			return "", nil, fmt.Errorf("user JWT: %w", err)
		}
		f.minted = append(f.minted, userLogin{jwt: tok, kp: kp})
	}
	return f.conf, f.minted[:n], nil
}

// credsConnect is the TCP connect row with a creds file: sequential
// nats.Connect calls with nats.UserCredentials, each timed from the dial
// through INFO, the signed CONNECT and the first PONG.
type credsConnect struct {
	fixture *operatorFixture
	count   int // connections at full scale
}

func (w credsConnect) run(ctx context.Context, env *Env) (Result, error) {
	conf, users, err := w.fixture.users(1)
	if err != nil {
		return Result{}, err
	}
	return withConfig(conf, func(ctx context.Context, env *Env, b *Broker) (Result, error) {
		dir, err := os.MkdirTemp("", "bench-creds-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
		seed, err := users[0].kp.Seed()
		if err != nil {
			return Result{}, err
		}
		creds, err := jwt.FormatUserConfig(users[0].jwt, seed)
		if err != nil {
			return Result{}, err
		}
		path := filepath.Join(dir, "user.creds")
		if err := os.WriteFile(path, creds, 0o600); err != nil {
			return Result{}, err
		}
		return sequentialConnects(ctx, b, b.URL, []nats.Option{nats.UserCredentials(path)}, env.scaled(w.count, 20))
	})(ctx, env)
}

// jwtBurst opens one raw connection per distinct user JWT, dialers at a
// time, and times from the first dial until every connection has had its
// first PONG. Minting is untimed; the connections stay open until all are
// up and are closed untimed. Value is in seconds.
type jwtBurst struct {
	fixture *operatorFixture
	users   int // connections (and users) at full scale
	dialers int // connections being set up at once
}

func (w jwtBurst) run(ctx context.Context, env *Env) (Result, error) {
	conf, users, err := w.fixture.users(env.scaled(w.users, 100))
	if err != nil {
		return Result{}, err
	}
	return withConfig(conf, func(ctx context.Context, env *Env, b *Broker) (Result, error) {
		n := len(users)
		conns := make([]net.Conn, n)
		defer func() {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
		}()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		d := &net.Dialer{Timeout: 10 * time.Second}
		var next atomic.Int64
		errs := make([]error, w.dialers)
		var wg sync.WaitGroup
		t0 := time.Now()
		for k := range w.dialers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= n || ctx.Err() != nil {
						return
					}
					c, _, err := rawConnectWith(ctx, d, b.Addr, users[i].hello)
					if err != nil {
						errs[k] = fmt.Errorf("connection %d of %d: %w", i+1, n, err)
						cancel()
						return
					}
					conns[i] = c
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(t0)
		if err := errors.Join(errs...); err != nil {
			return Result{}, withExits(err, []*Broker{b})
		}
		env.Progress("%d connections in %.2fs (%.0f/s)", n, elapsed.Seconds(), float64(n)/elapsed.Seconds())
		return Result{Value: elapsed.Seconds()}, nil
	})(ctx, env)
}

// userConnect is the CONNECT a JWT user sends: the nonce from INFO signed
// with the user's seed, base64url without padding as nats.go sends it.
type userConnect struct {
	Verbose  bool   `json:"verbose"`
	Pedantic bool   `json:"pedantic"`
	Protocol int    `json:"protocol"`
	Name     string `json:"name"`
	JWT      string `json:"jwt"`
	Sig      string `json:"sig"`
}

// hello answers the INFO line with the user's signed CONNECT and a PING.
func (u userLogin) hello(info string) (string, error) {
	var in struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(info), "INFO ")), &in); err != nil {
		return "", fmt.Errorf("INFO: %w", err)
	}
	if in.Nonce == "" {
		return "", errors.New("INFO carries no nonce")
	}
	sig, err := u.kp.Sign([]byte(in.Nonce))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(userConnect{
		Protocol: 1, Name: "murmur-bench-jwt", JWT: u.jwt,
		Sig: base64.RawURLEncoding.EncodeToString(sig),
	})
	if err != nil {
		return "", err
	}
	return "CONNECT " + string(b) + "\r\nPING\r\n", nil
}
