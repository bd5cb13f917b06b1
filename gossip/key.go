package gossip

import (
	"crypto/rand"
	"encoding/base64"
)

// NewKey returns a fresh random AES-256 gossip key in the form
// Config.SecretKey takes (standard base64 of 32 bytes), what
// `broker --gossip_keygen` prints.
func NewKey() (string, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(k), nil
}
