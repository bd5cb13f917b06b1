package broker

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/pubsub"
)

// jwtAccount returns the account of ac, creating it on first use and
// applying ac when it is newer than the claims the account holds. The
// accounts ac imports from are resolved and registered too, so its
// imports install.
func (s *Server) jwtAccount(ac *jwt.AccountClaims) *account {
	acc, changed := s.registerClaims(ac)
	// Only an account that imports or exports changes what is installed
	// (an import of it was skipped while it was unknown, and is installed
	// when its importer registers, which resolves it).
	if changed && (len(ac.Imports) > 0 || len(ac.Exports) > 0) {
		s.resolveImported(ac, map[string]bool{ac.Subject: true})
		s.refreshImports()
	}
	return acc
}

// registerClaims makes sure ac's account exists and holds ac (or newer).
// It reports whether the account's claims changed.
func (s *Server) registerClaims(ac *jwt.AccountClaims) (*account, bool) {
	acc := s.ensureAccount(ac.Subject)
	for {
		cur := acc.claims.Load()
		if cur != nil && (cur == ac || cur.IssuedAt > ac.IssuedAt || sameClaims(cur, ac)) {
			return acc, false
		}
		if acc.claims.CompareAndSwap(cur, ac) {
			break
		}
	}
	acc.maxConns.Store(ac.Limits.Conn)
	s.installClaimMappings(acc)
	s.armAccountExpiry(acc, ac)
	if ac.HasExternalAuthorization() {
		if _, err := s.calloutsFor(acc); err != nil { // its callout's replies, ahead of the first login
			s.log.Warn("auth callout replies", zap.String("account", acc.name), zap.Error(err))
		}
	}
	s.claimsRegistered(acc.name)
	return acc, true
}

// armAccountExpiry (re)sets the timer that closes acc's clients when its
// account JWT expires, as nats-server ('Account Authentication Expired').
func (s *Server) armAccountExpiry(acc *account, ac *jwt.AccountClaims) {
	acc.expiryMu.Lock()
	defer acc.expiryMu.Unlock()
	if acc.expiry != nil {
		acc.expiry.Stop()
		acc.expiry = nil
	}
	if ac == nil || ac.Expires <= 0 {
		return
	}
	acc.expiry = time.AfterFunc(time.Until(time.Unix(ac.Expires, 0)), func() {
		if acc.claims.Load() != ac {
			return // replaced meanwhile
		}
		s.log.Info("account JWT expired", zap.String("account", acc.name))
		acc.maxConns.Store(0)
		for _, c := range s.clientsOf(acc) {
			c.sendErr(proto.ErrTextAccountExpired)
			c.close(AuthenticationExpired)
		}
	})
}

// stopAccountExpiries stops every account's expiry timer (at Close).
func (s *Server) stopAccountExpiries() {
	for _, acc := range s.accountList() {
		s.armAccountExpiry(acc, nil)
	}
}

// clientsOf is a snapshot of acc's clients.
func (s *Server) clientsOf(acc *account) []*client {
	var out []*client
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		if c.acc.Load() == acc {
			out = append(out, c)
		}
	}
	return out
}

// sameClaims reports whether two account JWTs say the same. (A JWT's
// ID hashes its standard claims only, so two JWTs issued within one
// second share it whatever they grant.)
func sameClaims(a, b *jwt.AccountClaims) bool {
	if a.IssuedAt != b.IssuedAt || a.Expires != b.Expires || a.Issuer != b.Issuer {
		return false
	}
	x, errX := json.Marshal(&a.Account)
	y, errY := json.Marshal(&b.Account)
	return errX == nil && errY == nil && bytes.Equal(x, y)
}

// resolveImported registers the accounts ac imports from (and theirs),
// so the exports its imports need are known. seen stops cycles.
func (s *Server) resolveImported(ac *jwt.AccountClaims, seen map[string]bool) {
	op := s.auth.Load().operator()
	if op == nil {
		return
	}
	for _, im := range ac.Imports {
		if im == nil || seen[im.Account] {
			continue
		}
		seen[im.Account] = true
		if s.account(im.Account) != nil && s.account(im.Account).claims.Load() != nil {
			continue
		}
		exp, err := op.account(im.Account)
		if err != nil {
			s.log.Warn("import from an account that does not resolve", zap.String("account", ac.Subject),
				zap.String("from", im.Account), zap.Error(err))
			continue
		}
		s.registerClaims(exp)
		s.resolveImported(exp, seen)
	}
}

// operator is operator mode's state, or nil.
func (st *authState) operator() *operatorAuth {
	if st == nil {
		return nil
	}
	return st.op
}

// refreshImports installs the imports of the configured accounts and of
// every JWT account.
func (s *Server) refreshImports() {
	a := s.o().Auth
	var accounts []Account
	if a != nil {
		accounts = append(accounts, a.Accounts...)
	}
	var jwtAccounts []*jwt.AccountClaims
	for _, acc := range s.accountList() {
		if ac := acc.claims.Load(); ac != nil {
			jwtAccounts = append(jwtAccounts, ac)
		}
	}
	accounts = append(accounts, jwtImportConfig(jwtAccounts, time.Now(), s.log)...)
	s.setImports(&AuthOptions{Accounts: accounts})
}

// jwtImportConfig converts account JWTs' exports and imports to the
// broker's, keeping only the imports their exporters allow: a public
// export, or one that requires a token and the import carries a valid
// activation token for it. Imports the claims do not allow are logged and
// skipped (a JWT account never stops the broker).
func jwtImportConfig(claims []*jwt.AccountClaims, now time.Time, log *zap.Logger) []Account {
	byPub := map[string]*jwt.AccountClaims{}
	for _, ac := range claims {
		byPub[ac.Subject] = ac
	}
	out := make([]Account, 0, len(claims))
	allowed := map[string]map[string][]string{} // exporter -> export subject -> importers with tokens
	for _, ac := range claims {
		acc := Account{Name: ac.Subject}
		for _, im := range ac.Imports {
			if im == nil {
				continue
			}
			exp := byPub[im.Account]
			e := matchingExport(exp, im)
			switch {
			case e != nil && !ownTokenAt(string(im.Subject), e.AccountTokenPosition, ac.Subject):
				log.Warn("JWT import skipped: the export's account token position must name the importer", zap.String("account", ac.Subject), zap.String("subject", string(im.Subject)), zap.String("from", im.Account))
				continue
			case exp == nil || e == nil:
				log.Warn("JWT import skipped: no such export", zap.String("account", ac.Subject), zap.String("subject", string(im.Subject)), zap.String("from", im.Account))
				continue
			case e.TokenReq && !validActivation(im, exp, ac.Subject, now):
				log.Warn("JWT import skipped: no valid activation token", zap.String("account", ac.Subject), zap.String("subject", string(im.Subject)), zap.String("from", im.Account))
				continue
			case e.TokenReq:
				if allowed[exp.Subject] == nil {
					allowed[exp.Subject] = map[string][]string{}
				}
				allowed[exp.Subject][string(e.Subject)] = append(allowed[exp.Subject][string(e.Subject)], ac.Subject)
			}
			acc.Imports = append(acc.Imports, brokerImport(im))
		}
		out = append(out, acc)
	}
	for i, ac := range claims {
		for _, e := range ac.Exports {
			if e == nil {
				continue
			}
			x := jwtExport(e)
			if e.TokenReq {
				// Only the importers whose activation checked out.
				x.Accounts = append([]string{}, allowed[ac.Subject][string(e.Subject)]...)
				if len(x.Accounts) == 0 {
					continue
				}
			}
			out[i].Exports = append(out[i].Exports, x)
		}
	}
	return out
}

// ownTokenAt reports whether subject carries the importer's public key
// at pos (1-based; 0: the export names no position), as nats-server
// requires of an export with account_token_position: an import may take
// only its own slice of it, never a wildcard there.
func ownTokenAt(subject string, pos uint, importer string) bool {
	if pos == 0 {
		return true
	}
	tokens := strings.Split(subject, ".")
	return int(pos) <= len(tokens) && tokens[pos-1] == importer
}

// jwtExport converts one JWT export (who may import it aside).
func jwtExport(e *jwt.Export) Export {
	x := Export{ResponseType: strings.ToLower(string(e.ResponseType)), ResponseThreshold: e.ResponseThreshold}
	if e.IsService() {
		x.Service = string(e.Subject)
	} else {
		x.Stream, x.ResponseType, x.ResponseThreshold = string(e.Subject), "", 0
	}
	return x
}

// matchingExport is exp's export that covers im (same kind, subject a
// subset of the export's), or nil.
func matchingExport(exp *jwt.AccountClaims, im *jwt.Import) *jwt.Export {
	if exp == nil {
		return nil
	}
	for _, e := range exp.Exports {
		if e != nil && e.Type == im.Type && pubsub.SubjectIsSubset(string(im.Subject), string(e.Subject)) {
			return e
		}
	}
	return nil
}

// validActivation checks im's activation token: issued by the exporter
// (or one of its signing keys) to importer, for a subject covering the
// import's, not expired, not revoked by the export.
func validActivation(im *jwt.Import, exp *jwt.AccountClaims, importer string, now time.Time) bool {
	if im.Token == "" {
		return false
	}
	act, err := jwt.DecodeActivationClaims(im.Token)
	if err != nil {
		return false
	}
	vr := jwt.CreateValidationResults()
	act.Validate(vr)
	if vr.IsBlocking(true) || act.Subject != importer || !exp.DidSign(act) {
		return false
	}
	if act.Expires > 0 && now.Unix() >= act.Expires {
		return false
	}
	if !pubsub.SubjectIsSubset(string(im.Subject), string(act.ImportSubject)) {
		return false
	}
	if e := matchingExport(exp, im); e != nil && e.Revocations.IsRevoked(importer, time.Unix(act.IssuedAt, 0)) {
		return false
	}
	return true
}

// brokerImport converts one JWT import. A stream's local_subject maps
// its subjects (to); the older `to` of a stream is a prefix.
func brokerImport(im *jwt.Import) Import {
	x := Import{Account: im.Account}
	local := string(im.LocalSubject)
	if im.IsService() {
		x.Service = string(im.Subject)
		x.To = local
		if x.To == "" {
			x.To = string(im.To)
		}
		return x
	}
	x.Stream = string(im.Subject)
	switch {
	case local != "":
		x.To = local
	case im.To != "":
		x.Prefix = string(im.To)
	}
	return x
}

// applyGrant sets a JWT user's connection limits and expiry on c (at
// CONNECT, on its reader).
func (c *client) applyGrant(g *jwtGrant) {
	c.setGrantLimits(g)
	c.parser.MaxPayload = c.srv.o().MaxPayload
	if mp := int(c.maxPayload.Load()) - 1; mp >= 0 && mp < c.parser.MaxPayload {
		c.parser.MaxPayload = mp
	}
	c.expireAt(g.expires) // zero: none (and a previous login's is stopped)
}

// setGrantLimits records g's limits; the reader applies a payload limit at
// its next reload check (Server.gen), SUB reads the subscription limit.
func (c *client) setGrantLimits(g *jwtGrant) {
	c.maxSubs.Store(max(g.maxSubs, -1) + 1)
	c.maxPayload.Store(max(g.maxPayload, -1) + 1)
}

// ensureAccount returns the account named name, creating it (with the
// system imports every account gets) when it is new.
func (s *Server) ensureAccount(name string) *account {
	if acc := s.account(name); acc != nil {
		return acc
	}
	s.mu.Lock()
	s.addAccountsLocked([]string{name})
	acc := s.account(name)
	s.mu.Unlock()
	if sys := s.sys.Load(); sys != nil {
		if err := sys.syncAccount(acc); err != nil {
			s.log.Warn("system imports for a new account", zap.String("account", name), zap.Error(err))
		}
	}
	return acc
}
