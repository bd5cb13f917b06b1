package main

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
)

// operatorKeys are nats-server's operator-mode keys: operator (JWTs or
// files holding them), resolver and resolver_preload.
type operatorKeys struct {
	dir       string // the config file's directory, for relative paths
	operators []string
	opValue   *conf.Value
	resolver  *conf.Value
	preload   *conf.Value
}

func (k *operatorKeys) register(ks keys) {
	ks["operator"] = func(v *conf.Value) error {
		vals := []*conf.Value{v}
		if v.Kind == conf.Array {
			vals = v.Array
		}
		for _, e := range vals {
			s, err := e.AsString()
			if err != nil {
				return err
			}
			tok, err := k.operatorJWT(s)
			if err != nil {
				return e.Errorf("%v", err)
			}
			k.operators = append(k.operators, tok)
		}
		k.opValue = v
		return nil
	}
	for _, alias := range []string{"trusted_operators", "operators", "roots", "root", "root_operators", "root_operator"} {
		ks[alias] = ks["operator"] // nats-server's names for it
	}
	ks["resolver"] = func(v *conf.Value) error { k.resolver = v; return nil }
	ks["account_resolver"], ks["accounts_resolver"] = ks["resolver"], ks["resolver"]
	ks["resolver_preload"] = func(v *conf.Value) error {
		if _, err := v.AsMap(); err != nil {
			return err
		}
		k.preload = v
		return nil
	}
}

// operatorJWT is s itself when it is a JWT, else the JWT in the file s
// names, decorated as nsc writes it or not. A relative path is taken from
// the working directory, as nats-server does, else from the config
// file's directory.
func (k *operatorKeys) operatorJWT(s string) (string, error) {
	if strings.HasPrefix(s, "eyJ") {
		return s, nil
	}
	b, err := os.ReadFile(s)
	if err != nil && !filepath.IsAbs(s) {
		if b2, err2 := os.ReadFile(filepath.Join(k.dir, s)); err2 == nil {
			b, err = b2, nil
		}
	}
	if err != nil {
		return "", err
	}
	return jwt.ParseDecoratedJWT(b)
}

// apply turns operator mode on in o.Auth when an operator is configured.
// systemAccount is the top-level system_account, if any.
func (k *operatorKeys) apply(o *broker.Options, systemAccount *conf.Value) error {
	if k.opValue == nil {
		if k.resolver != nil {
			return k.resolver.Errorf("a resolver needs an operator")
		}
		return nil
	}
	if k.resolver == nil {
		return k.opValue.Errorf("operator mode needs a resolver (resolver: MEMORY with resolver_preload)")
	}
	r, interval, err := k.buildResolver()
	if err != nil {
		return err
	}
	a := &broker.AuthOptions{}
	if o.Auth != nil {
		if o.Auth.Required() {
			return k.opValue.Errorf("authorization, accounts and no_auth_user cannot be set with an operator (users and accounts are JWTs)")
		}
		c := *o.Auth
		a = &c
	}
	a.Operator = &broker.OperatorOptions{Operators: k.operators, Resolver: r, SyncInterval: interval}
	if v := systemAccount; v != nil {
		if !nkeys.IsValidPublicAccountKey(v.Str) {
			return v.Errorf("%q is not an account public key (operator mode names accounts by key)", v.Str)
		}
		a.SystemAccount = v.Str
	}
	o.Auth = a
	return nil
}

func (k *operatorKeys) buildResolver() (broker.AccountResolver, time.Duration, error) {
	v := k.resolver
	if v.Kind == conf.Block {
		r, interval, err := k.fullResolver(v)
		if err != nil {
			return nil, 0, err
		}
		return r, interval, k.preloadInto(r)
	}
	s, err := v.AsString()
	if err != nil {
		return nil, 0, v.Errorf("want MEMORY or a block { type: full, dir: ... }")
	}
	if u, ok := strings.CutPrefix(s, "URL("); ok && strings.HasSuffix(u, ")") {
		u = strings.Trim(strings.TrimSuffix(u, ")"), `"' `)
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, 0, v.Errorf("%q: want URL(http://...) or URL(https://...)", s)
		}
		r := broker.NewURLResolver(u, 0)
		return r, 0, k.preloadInto(r)
	}
	if !strings.EqualFold(s, "MEMORY") {
		return nil, 0, v.Errorf("%q: want MEMORY, URL(<account server>) or { type: full, dir: ... }", s)
	}
	r := broker.NewMemoryResolver(nil)
	return r, 0, k.preloadInto(r)
}

// fullResolver is `resolver { type: full, dir, allow_delete, interval, limit, timeout }`.
func (k *operatorKeys) fullResolver(v *conf.Value) (broker.UpdatableResolver, time.Duration, error) {
	var typ, dir string
	var interval time.Duration
	var allowDelete bool
	err := decode(v.Map, keys{
		"type":         str(&typ),
		"dir":          str(&dir),
		"allow_delete": func(v *conf.Value) (err error) { allowDelete, err = v.AsBool(); return err },
		"interval":     func(v *conf.Value) (err error) { interval, err = v.AsDuration(); return err },
		"limit":        func(v *conf.Value) error { _, err := v.AsInt(); return err },
		"timeout":      func(v *conf.Value) error { _, err := v.AsDuration(); return err },
	})
	if err != nil {
		return nil, 0, err
	}
	switch {
	case !strings.EqualFold(typ, "full"):
		return nil, 0, v.Errorf("type: %q: want full (the cache resolver is not supported yet)", typ)
	case dir == "":
		return nil, 0, v.Errorf("dir: the full resolver needs a directory")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(k.dir, dir)
	}
	r, err := broker.NewDirResolver(dir, allowDelete)
	if err != nil {
		return nil, 0, v.Errorf("dir: %v", err)
	}
	return r, interval, nil
}

// preloadInto stores resolver_preload's JWTs in r.
func (k *operatorKeys) preloadInto(r broker.UpdatableResolver) error {
	if p := k.preload; p != nil {
		for _, f := range p.Map.Fields {
			tok, err := f.Value.AsString()
			if err != nil {
				return err
			}
			ac, err := jwt.DecodeAccountClaims(tok)
			switch {
			case err != nil:
				return f.Value.Errorf("not an account JWT: %v", err)
			case ac.Subject != f.Key:
				return f.Value.Errorf("the JWT is for account %s", ac.Subject)
			}
			if _, err := r.Store(f.Key, tok); err != nil {
				return f.Value.Errorf("%v", err)
			}
		}
	}
	return nil
}
