package quic

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"

	quicgo "github.com/quic-go/quic-go"
)

// resetKeyInfo labels the stateless reset key derived from a listener's
// private key, so the derived bytes serve no other purpose.
const resetKeyInfo = "murmur quic stateless reset key v1"

// statelessResetKey derives the key a listener's quic-go Transport makes
// stateless reset tokens with (RFC 9000 §10.3) from the private key of
// the certificate in force, or returns nil when there is none to read
// (Config.TLS choosing certificates per handshake, or a key that does not
// marshal, such as one held by an HSM).
//
// Why: without a key quic-go sends no stateless resets, so after a broker
// restarts (SIGKILL, a crash, a reboot) a peer of its previous life keeps
// sending into a connection nobody knows until its idle timeout ends it.
// With a key that survives the restart (certificate and key from files),
// the new process answers such a packet with a reset the peer recognises,
// because it was issued the token by the old process, and the peer redials
// at once. A generated certificate changes at every start and so does the
// key: its peers could not reconnect to the new certificate anyway. The
// key is fixed when the listener starts; after SetCertificate it is the
// next listener (the next start) that derives one from the new key.
//
// Brokers sharing a certificate share the key; a packet of one's
// connection reaching another would reset it, which only a load balancer
// spreading one address over several brokers could cause.
func statelessResetKey(id *tlsIdentity) *quicgo.StatelessResetKey {
	if id == nil || id.config == nil || len(id.config.Certificates) == 0 {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(id.config.Certificates[0].PrivateKey)
	if err != nil {
		return nil
	}
	b, err := hkdf.Key(sha256.New, der, nil, resetKeyInfo, len(quicgo.StatelessResetKey{}))
	if err != nil {
		return nil
	}
	var k quicgo.StatelessResetKey
	copy(k[:], b)
	return &k
}
