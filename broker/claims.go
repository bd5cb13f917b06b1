package broker

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/mux"
)

// Account JWT distribution in operator mode, answered by the system
// responder in the system account (nats-server's full resolver):
//
//	$SYS.REQ.CLAIMS.UPDATE              body: account JWT   (nsc push)
//	$SYS.REQ.ACCOUNT.<pub>.CLAIMS.UPDATE body: account JWT   (and the older $SYS.ACCOUNT.<pub>.CLAIMS.UPDATE)
//	$SYS.REQ.ACCOUNT.<pub>.CLAIMS.LOOKUP -> the JWT held, or an empty message
//	$SYS.REQ.CLAIMS.LIST                -> {"server":..,"data":[pub, ...]}
//
// An update is decoded and checked (valid, signed by a trusted operator,
// about the account its subject names), stored when newer than the one
// held, and applied at once to the account's connected clients: revoked
// users and users whose signing key went away are closed, a lowered conn
// limit closes the newest connections beyond it, imports follow the new
// exports. It answers {"data":{"account","code":200,"message":"jwt updated"}}
// or {"error":{"account","code":500,"description":..}} as nats-server.
//
// Every broker of a cluster subscribes, so a push reaches all of them.
// To catch up on pushes a broker missed (it was down), each broker sends
// $SYS.REQ.CLAIMS.PACK with the hex digest of what it holds at start and
// every sync interval; a broker holding something else answers with every
// JWT it holds, one per message, to $SYS._MURMUR.CLAIMS.PACK.<server id>,
// and the asker keeps the newer of each (Murmur's own; docs/operator.md).
const (
	claimsUpdate       = "$SYS.REQ.CLAIMS.UPDATE"
	claimsUpdateAcc    = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE"
	claimsUpdateOld    = "$SYS.ACCOUNT.*.CLAIMS.UPDATE"
	claimsLookup       = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"
	claimsList         = "$SYS.REQ.CLAIMS.LIST"
	claimsPack         = "$SYS.REQ.CLAIMS.PACK"
	claimsDelete       = "$SYS.REQ.CLAIMS.DELETE"
	claimsPackReplyFmt = "$SYS._MURMUR.CLAIMS.PACK.%s"
)

// claimsSubjects are the responder's subscriptions in operator mode.
func (s *Server) claimsSubjects() []string {
	if s.auth.Load().operator() == nil {
		return nil
	}
	return []string{claimsUpdate, claimsUpdateAcc, claimsUpdateOld, claimsLookup, claimsList, claimsPack, claimsDelete,
		fmt.Sprintf(claimsPackReplyFmt, s.id)}
}

type claimStatus struct {
	Account string `json:"account,omitempty"`
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type claimError struct {
	Account     string `json:"account,omitempty"`
	Code        int    `json:"code"`
	Description string `json:"description,omitempty"`
}

type claimResponse struct {
	Server *ServerInfo  `json:"server"`
	Data   *claimStatus `json:"data,omitempty"`
	Error  *claimError  `json:"error,omitempty"`
}

// claims answers r when it is a claims request, publishing through pub;
// it reports whether r was one.
func (sys *System) claims(r *sysRequest, pub func(subject string, body []byte)) bool {
	s := sys.srv
	op := s.auth.Load().operator()
	if op == nil || r.scope != "" {
		return false
	}
	tokens := strings.Split(r.subject, ".")
	switch {
	case r.subject == claimsUpdate:
		sys.respondUpdate(r, pub, s.pushClaims(op, "", r.body))
	case len(tokens) == 6 && tokens[1] == "REQ" && tokens[2] == "ACCOUNT" && tokens[4] == "CLAIMS" && tokens[5] == "UPDATE",
		len(tokens) == 5 && tokens[1] == "ACCOUNT" && tokens[3] == "CLAIMS" && tokens[4] == "UPDATE":
		acc := tokens[len(tokens)-3]
		sys.respondUpdate(r, pub, s.pushClaims(op, acc, r.body))
	case len(tokens) == 6 && tokens[2] == "ACCOUNT" && tokens[4] == "CLAIMS" && tokens[5] == "LOOKUP":
		var t string
		if nkeys.IsValidPublicAccountKey(tokens[3]) { // never a free-form path to an account server
			t, _ = op.resolver.Fetch(tokens[3])
		}
		pub(r.reply, []byte(t)) // empty: not held
	case r.subject == claimsList:
		var pubs []string
		if ur, ok := op.resolver.(UpdatableResolver); ok {
			pubs = ur.List()
		}
		b, _ := json.Marshal(map[string]any{"server": sys.serverInfo(), "data": pubs})
		pub(r.reply, b)
	case r.subject == claimsPack:
		sys.answerPack(op, r, pub)
	case r.subject == claimsDelete:
		sys.respondUpdate(r, pub, s.deleteClaims(op, r.body))
	case r.subject == fmt.Sprintf(claimsPackReplyFmt, s.id):
		if err := s.pushClaims(op, "", r.body).err; err != nil {
			s.log.Debug("claims sync: JWT not taken", zap.Error(err))
		}
	default:
		return false
	}
	return true
}

// pushResult is what an update did.
type pushResult struct {
	account, message string
	err              error
}

// pushClaims checks token (about account acc, when the subject named it),
// stores it and applies it.
func (s *Server) pushClaims(op *operatorAuth, acc, token string) pushResult {
	token = strings.TrimSpace(token)
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return pushResult{"n/a", "jwt update resulted in error", err}
	}
	if acc != "" && ac.Subject != acc {
		return pushResult{acc, "jwt update resulted in error", errors.New("subject does not match jwt content")}
	}
	if _, err := op.ops.decodeAccount(ac.Subject, token); err != nil {
		return pushResult{ac.Subject, "jwt validation failed", err}
	}
	ur, ok := op.resolver.(UpdatableResolver)
	if !ok {
		return pushResult{ac.Subject, "jwt update resulted in error", errors.New("the resolver takes no updates")}
	}
	changed, err := ur.Store(ac.Subject, token)
	if err != nil {
		return pushResult{ac.Subject, "jwt update resulted in error", err}
	}
	if changed {
		s.claimsChanged(ac)
	}
	return pushResult{ac.Subject, "jwt updated", nil}
}

func (sys *System) respondUpdate(r *sysRequest, pub func(string, []byte), res pushResult) {
	if res.err != nil {
		sys.log.Warn(res.message, zap.String("account", res.account), zap.Error(res.err))
	} else {
		sys.log.Info(res.message, zap.String("account", res.account))
	}
	if r.reply == "" {
		return
	}
	resp := claimResponse{Server: sys.serverInfo()}
	if res.err != nil {
		resp.Error = &claimError{Account: res.account, Code: http.StatusInternalServerError, Description: res.message + " - " + res.err.Error()}
	} else {
		resp.Data = &claimStatus{Account: res.account, Code: http.StatusOK, Message: res.message}
	}
	b, _ := json.Marshal(&resp)
	pub(r.reply, b)
}

// packDigest is the hex digest of what op's resolver holds.
func packDigest(op *operatorAuth) string {
	ur, ok := op.resolver.(UpdatableResolver)
	if !ok {
		return ""
	}
	h := resolverHash(ur, ur.List())
	return hex.EncodeToString(h[:])
}

// answerPack sends every JWT held to an asker whose digest differs.
func (sys *System) answerPack(op *operatorAuth, r *sysRequest, pub func(string, []byte)) {
	ur, ok := op.resolver.(UpdatableResolver)
	if !ok || r.reply == "" || r.reply == fmt.Sprintf(claimsPackReplyFmt, sys.srv.id) || r.body == packDigest(op) {
		return
	}
	for _, p := range ur.List() {
		if t, err := ur.Fetch(p); err == nil {
			pub(r.reply, []byte(t))
		}
	}
}

// askPack asks the other brokers for what this one lacks.
func (sys *System) askPack(b *mux.Batch) {
	op := sys.srv.auth.Load().operator()
	if op == nil {
		return
	}
	if _, ok := op.resolver.(UpdatableResolver); !ok {
		return
	}
	m := mux.Msg{Subject: []byte(claimsPack), Reply: []byte(fmt.Sprintf(claimsPackReplyFmt, sys.srv.id)),
		Payload: []byte(packDigest(op)), Account: sys.acc.name}
	sys.acc.mux.Publish(nil, &m, b)
	b.Flush()
}

// claimsChanged applies a stored account JWT: to the account's claims
// when the account is in use, then to its connected clients.
func (s *Server) claimsChanged(ac *jwt.AccountClaims) {
	acc := s.account(ac.Subject)
	if acc == nil {
		return // not in use here: the next login resolves it
	}
	if _, changed := s.registerClaims(ac); !changed {
		return
	}
	s.resolveImported(ac, map[string]bool{ac.Subject: true})
	s.refreshImports()
	var clients []*client
	s.mu.Lock()
	for _, c := range s.clients {
		if c.acc.Load() == acc {
			clients = append(clients, c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(clients, func(a, b *client) int { return cmp.Compare(a.cid, b.cid) })
	defer s.gen.Add(1)               // readers re-apply limits (a lowered payload limit)
	defer s.accountConnsChanged(acc) // the others learn our count under a new limit
	kept := 0
	for _, c := range clients {
		if !c.reauth(s.authFor(c.ln)) {
			continue
		}
		kept++
		if max := ac.Limits.Conn; max >= 0 && int64(kept) > max && c.authed.Load() {
			c.log.Info("account conn limit lowered, closing", zap.Int64("limit", max))
			c.sendErr(proto.ErrTextMaxAccountConns)
			c.close(MaxAccountConnectionsExceeded)
		}
	}
}

// deleteClaims removes accounts from a resolver that allows it: the body
// is a JWT an operator key signed about itself, listing them in
// data.accounts (what `nsc delete account` sends). Their clients are
// closed and new logins refused.
func (s *Server) deleteClaims(op *operatorAuth, token string) pushResult {
	gc, err := jwt.DecodeGeneric(strings.TrimSpace(token))
	var subject string
	var accounts []string
	if err == nil {
		subject = gc.Subject
		d, _ := op.resolver.(interface{ Delete(string) error })
		list, _ := gc.Data["accounts"].([]any)
		switch {
		case d == nil || !op.resolverDeletes():
			err = errors.New("delete must be enabled in server config")
		case gc.Subject != gc.Issuer:
			err = errors.New("not self signed")
		case !op.ops.trusted(gc.Issuer):
			err = errors.New("not trusted")
		case list == nil:
			err = errors.New("malformed request")
		}
		for _, e := range list {
			pub, ok := e.(string)
			switch {
			case !ok || !nkeys.IsValidPublicAccountKey(pub):
				err = errors.New("malformed request")
			case pub == s.sysacc.name:
				err = errors.New("not allowed to delete system account")
			}
			accounts = append(accounts, pub)
		}
		if err == nil {
			var failed []string
			for _, pub := range accounts {
				if derr := d.Delete(pub); derr != nil {
					failed = append(failed, derr.Error())
					continue
				}
				op.decoded.Delete(pub)
				s.accountDeleted(pub)
			}
			if len(failed) > 0 {
				return pushResult{"", fmt.Sprintf("deleted %d accounts, failed for %d", len(accounts)-len(failed), len(failed)), errors.New(strings.Join(failed, "\n"))}
			}
			return pushResult{"", fmt.Sprintf("deleted %d accounts", len(accounts)), nil}
		}
	}
	return pushResult{"", "delete accounts request by " + subject + " failed", err}
}

// accountDeleted locks a deleted account out: no new logins, and its
// clients closed with 'Authorization Violation'.
func (s *Server) accountDeleted(pub string) {
	acc := s.account(pub)
	if acc == nil {
		return
	}
	acc.maxConns.Store(0)
	acc.claims.Store(nil)
	var clients []*client
	s.mu.Lock()
	for _, c := range s.clients {
		if c.acc.Load() == acc {
			clients = append(clients, c)
		}
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.authFailed("account deleted")
	}
	s.refreshImports()
}
