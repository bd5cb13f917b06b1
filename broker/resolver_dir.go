package broker

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// UpdatableResolver is a resolver that takes pushed account JWTs
// ($SYS.REQ.CLAIMS.UPDATE, what `nsc push` sends) and lists what it holds.
type UpdatableResolver interface {
	AccountResolver
	// Store keeps token as pub's JWT unless it holds a newer one (by
	// issue time), and reports whether it changed. token is already
	// checked (decoded, valid, signed by a trusted operator).
	Store(pub, token string) (changed bool, err error)
	// List is every account public key held, sorted.
	List() []string
}

var (
	_ UpdatableResolver = (*DirResolver)(nil)
	_ UpdatableResolver = (*MemoryResolver)(nil)
)

// List implements UpdatableResolver.
func (r *MemoryResolver) List() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.jwts))
}

// DirResolver is nats-server's full resolver (`resolver: { type: full,
// dir: ... }`): account JWTs kept as <dir>/<public key>.jwt, loaded at
// start, replaced by newer pushed ones. Brokers of a cluster each keep
// their own directory; pushes reach all of them, and they compare and
// exchange what they hold periodically (see claims.go).
type DirResolver struct {
	dir         string
	allowDelete bool
	mu          sync.RWMutex
	jwts        map[string]string
}

// NewDirResolver opens (creating it if needed) dir and loads the JWTs in
// it. allowDelete lets $SYS.REQ.CLAIMS.DELETE remove accounts.
func NewDirResolver(dir string, allowDelete bool) (*DirResolver, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r := &DirResolver{dir: dir, allowDelete: allowDelete, jwts: map[string]string{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.jwt"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		pub := strings.TrimSuffix(filepath.Base(f), ".jwt")
		if !nkeys.IsValidPublicAccountKey(pub) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r.jwts[pub] = strings.TrimSpace(string(b))
	}
	return r, nil
}

// Fetch implements AccountResolver.
func (r *DirResolver) Fetch(pub string) (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t, ok := r.jwts[pub]; ok {
		return t, nil
	}
	return "", fmt.Errorf("%w: %s", ErrAccountNotFound, pub)
}

// Store implements UpdatableResolver: the file is replaced atomically.
func (r *DirResolver) Store(pub, token string) (bool, error) {
	if !nkeys.IsValidPublicAccountKey(pub) {
		return false, fmt.Errorf("%q is not an account public key", pub)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !newerJWT(r.jwts[pub], token) {
		return false, nil
	}
	tmp := filepath.Join(r.dir, pub+".jwt.tmp")
	if err := os.WriteFile(tmp, []byte(token), 0o600); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, pub+".jwt")); err != nil {
		return false, err
	}
	r.jwts[pub] = token
	return true, nil
}

// Delete removes pub's JWT (only with allowDelete).
func (r *DirResolver) Delete(pub string) error {
	if !r.allowDelete {
		return errors.New("delete not allowed")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.jwts, pub)
	err := os.Remove(filepath.Join(r.dir, pub+".jwt"))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return err
}

// List implements UpdatableResolver.
func (r *DirResolver) List() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.jwts))
}

// newerJWT reports whether next should replace cur: there is none, or
// next was issued later (same second: a different JWT wins, so a re-sign
// within one second still applies).
func newerJWT(cur, next string) bool {
	if cur == "" {
		return true
	}
	if cur == next {
		return false
	}
	a, errA := jwt.DecodeGeneric(cur)
	b, errB := jwt.DecodeGeneric(next)
	if errA != nil || errB != nil {
		return errA != nil
	}
	return b.IssuedAt >= a.IssuedAt
}

// resolverHash digests what r holds, so two brokers see at a glance
// whether their resolvers differ.
func resolverHash(r AccountResolver, pubs []string) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range pubs {
		t, _ := r.Fetch(p)
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}
