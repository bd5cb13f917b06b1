package broker

import "github.com/nats-io/jwt/v2"

// JetStreamClaims are the JetStream limits of an account JWT (its one
// set, or else tier R1's: every stream here has one replica), for the
// JetStream runner to enable and limit the account as nats-server does.
type JetStreamClaims struct {
	// Tier is "R1" when the limits are that tier's, "" for the one set.
	Tier string
	// Enabled is set when the claims give the account memory or disk
	// storage (nats-server's IsJSEnabled).
	Enabled                         bool
	MaxMemory, MaxStore             int64
	MaxStreams, MaxConsumers        int64
	MaxAckPending                   int64
	MemoryMaxStream, StoreMaxStream int64
	MaxBytesRequired                bool
}

// AccountJetStream returns the JetStream limits of account name's JWT,
// or false when the account has no claims (not operator mode, or not yet
// resolved).
func (s *Server) AccountJetStream(name string) (JetStreamClaims, bool) {
	acc := s.account(name)
	if acc == nil {
		return JetStreamClaims{}, false
	}
	ac := acc.claims.Load()
	if ac == nil {
		return JetStreamClaims{}, false
	}
	l, tier := ac.Limits.JetStreamLimits, ""
	if r1, ok := ac.Limits.JetStreamTieredLimits["R1"]; ok && l == (jwt.JetStreamLimits{}) {
		l, tier = r1, "R1"
	}
	return JetStreamClaims{
		Tier:      tier,
		Enabled:   ac.Limits.IsJSEnabled(),
		MaxMemory: l.MemoryStorage, MaxStore: l.DiskStorage,
		MaxStreams: l.Streams, MaxConsumers: l.Consumer, MaxAckPending: l.MaxAckPending,
		MemoryMaxStream: l.MemoryMaxStreamBytes, StoreMaxStream: l.DiskMaxStreamBytes,
		MaxBytesRequired: l.MaxBytesRequired,
	}, true
}

// OnAccountClaims sets f to be called, on the goroutine that registers
// them (a client's login, a claims update), whenever an account's JWT
// claims are registered or replaced; nil removes it. f must not call
// back into a login.
func (s *Server) OnAccountClaims(f func(account string)) {
	if f == nil {
		s.claimsHook.Store(nil)
		return
	}
	s.claimsHook.Store(&f)
}

// claimsRegistered runs the hook for acc.
func (s *Server) claimsRegistered(acc string) {
	if f := s.claimsHook.Load(); f != nil {
		(*f)(acc)
	}
}

// AccountImports returns account name's imports as declared: its JWT's
// in operator mode, else its configuration's. It takes no server lock, so
// the OnAccountClaims hook may call it.
func (s *Server) AccountImports(name string) []Import {
	if acc := s.account(name); acc != nil {
		if ac := acc.claims.Load(); ac != nil {
			var out []Import
			for _, im := range ac.Imports {
				if im != nil {
					out = append(out, brokerImport(im))
				}
			}
			return out
		}
	}
	if a := s.o().Auth; a != nil {
		for _, acc := range a.Accounts {
			if acc.Name == name {
				return acc.Imports
			}
		}
	}
	return nil
}
