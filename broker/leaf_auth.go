package broker

import (
	"fmt"
	"net"

	"github.com/nats-io/jwt/v2"
)

// leafAuth checks a leaf's credentials: the leafnodes authorization when
// one is configured, else the clients' (as nats-server), and then through
// the clients' auth callout when there is one and the login is not one of
// its auth users (nats-server hands leaf logins to the callout too; the
// request's client_info kind is "Leafnode"). It returns the account the
// leaf binds to, which for a callout login is the one its answer names,
// and the user it logged in as (nil: no users, or a token).
func (s *Server) leafAuth(lc *leafConnect, nonce []byte, cid uint64, nc net.Conn) (*account, *userEntry, error) {
	st := s.leafs.auth
	if st == nil {
		st = s.authFor(nil)
	}
	if st == nil {
		return s.gacc, nil, nil
	}
	co := lc.connectOpts()
	u, err := s.login(st, &co, &calloutPeer{cid: cid, remote: nc.RemoteAddr(), nonce: nonce, kind: "Leafnode"})
	if err != nil {
		return nil, nil, err
	}
	acc, err := s.leafAccount(u, nc)
	return acc, u, err
}

// connectOpts is what a leaf's CONNECT says for its login.
func (lc *leafConnect) connectOpts() connectOpts {
	return connectOpts{User: lc.User, Pass: lc.Pass, AuthToken: lc.Token, JWT: lc.JWT, Nkey: lc.Nkey, Sig: lc.Sig,
		Name: lc.Name, Version: lc.Version, Protocol: lc.Proto}
}

// leafAccount is the account a leaf that logged in as u (nil: no users,
// or a token) binds to over nc.
func (s *Server) leafAccount(u *userEntry, nc net.Conn) (*account, error) {
	switch {
	case u == nil:
		return s.gacc, nil
	case u.jwt != nil && !leafConnTypeAllowed(u.jwt.connTypes, leafTransport(nc)):
		return nil, fmt.Errorf("connection type not in the user's allowed_connection_types")
	case u.jwt != nil && u.jwt.account != nil:
		return s.jwtAccount(u.jwt.account), nil
	}
	if acc := s.account(u.account); acc != nil {
		return acc, nil
	}
	return nil, fmt.Errorf("account %q does not exist", u.account)
}

// leafConnTypeAllowed matches a leaf's transport to JWT connection types,
// as nats-server: LEAFNODE, or LEAFNODE_WS over WebSocket.
func leafConnTypeAllowed(types jwt.StringList, transport string) bool {
	if len(types) == 0 {
		return true
	}
	want := jwt.ConnectionTypeLeafnode
	if transport == "websocket" {
		want = jwt.ConnectionTypeLeafnodeWS
	}
	return types.Contains(want)
}

// permsOrNil is u's permissions (nil for no user).
func (u *userEntry) permsOrNil() *permissions {
	if u == nil {
		return nil
	}
	return u.perms
}

// nameOrEmpty is u's name ("" for no user).
func (u *userEntry) nameOrEmpty() string {
	if u == nil {
		return ""
	}
	return u.name
}
