package quic

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"strconv"
	"sync/atomic"
	"time"
)

// ticketKeyInfo labels the session ticket keys derived from a listener's
// private key, so they share no bytes with the stateless reset key
// (resetKeyInfo) or anything else derived from it. The UTC day number
// follows it: one key per day.
const ticketKeyInfo = "murmur quic session ticket key v1 day "

// ticketKeyDay is how long one session ticket key encrypts new tickets.
// The key of the day before is still accepted, so a ticket is good for
// one to two days (crypto/tls caps a ticket's age at 7 days anyway).
const ticketKeyDay = 24 * time.Hour

// ticketKeys makes a server tls.Config's session tickets decryptable by
// the next process that starts with the same certificate key: a broker
// restarted after a crash or SIGKILL then resumes its peers' TLS sessions
// (docs/quic.md §11).
// crypto/tls's own ticket keys are random per process, so without this
// every restart costs each peer a full handshake.
//
// The keys are HKDF-SHA256 of the certificate's PKCS #8 private key, with
// ticketKeyInfo and the UTC day as info: today's encrypts, today's and
// yesterday's decrypt. A ticket therefore never outlives two days, and
// one leaked day key exposes at most the sessions resumed with tickets of
// that day (forward secrecy of the resumed sessions' traffic still comes
// from the (EC)DHE that crypto/tls runs on every resumption).
type ticketKeys struct {
	secret []byte      // the PKCS #8 DER of the private key
	cfg    *tls.Config // whose keys refresh sets
	day    atomic.Int64
	now    func() time.Time // the clock; tests move it
}

// newTicketKeys returns the keys for cfg, derived from its first
// certificate's private key and installed for today, or nil when there is
// no key to derive from (certificates chosen per handshake, or a key that
// does not marshal, such as one held by an HSM), when cfg disables
// tickets, or when it has a SessionTicketKey of its own: then crypto/tls
// keeps managing them, and a restart means full handshakes.
func newTicketKeys(cfg *tls.Config) *ticketKeys {
	if cfg == nil || cfg.SessionTicketsDisabled || cfg.SessionTicketKey != [32]byte{} || len(cfg.Certificates) == 0 {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(cfg.Certificates[0].PrivateKey)
	if err != nil {
		return nil
	}
	k := &ticketKeys{secret: der, cfg: cfg, now: time.Now}
	k.day.Store(-1)
	k.refresh()
	return k
}

// refresh installs the keys of today (UTC) if they are not yet in force.
// It is called before every handshake (cheap: one atomic load when the day
// is unchanged); concurrent callers on a new day install the same keys.
func (k *ticketKeys) refresh() {
	if k == nil {
		return
	}
	day := k.now().UTC().Unix() / int64(ticketKeyDay/time.Second)
	if k.day.Load() == day {
		return
	}
	keys := [][32]byte{k.key(day), k.key(day - 1)} // the first encrypts
	k.cfg.SetSessionTicketKeys(keys)
	k.day.Store(day)
}

// key is the ticket key of one UTC day.
func (k *ticketKeys) key(day int64) [32]byte {
	var out [32]byte
	b, err := hkdf.Key(sha256.New, k.secret, nil, ticketKeyInfo+strconv.FormatInt(day, 10), len(out))
	if err == nil { // hkdf.Key fails only for lengths SHA-256 cannot give
		copy(out[:], b)
	}
	return out
}
