package broker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
)

// URLResolver is nats-server's `resolver: URL(<url>)`: an account JWT is
// fetched from an account server with GET <url><public key> the first
// time it is needed, and kept in memory after (pushed updates replace it,
// as for MemoryResolver).
type URLResolver struct {
	url    string
	client *http.Client
	held   *MemoryResolver
}

var _ UpdatableResolver = (*URLResolver)(nil)

// NewURLResolver fetches from url (a trailing "/" is added when missing);
// timeout bounds one fetch (0 means 2 s).
func NewURLResolver(url string, timeout time.Duration) *URLResolver {
	if !strings.HasSuffix(url, "/") {
		url += "/"
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &URLResolver{url: url, client: &http.Client{Timeout: timeout}, held: NewMemoryResolver(nil)}
}

// maxAccountJWT bounds a fetched JWT.
const maxAccountJWT = 1 << 20

// Fetch implements AccountResolver.
func (r *URLResolver) Fetch(pub string) (string, error) {
	if t, err := r.held.Fetch(pub); err == nil && !expiredJWT(t) {
		return t, nil // else the account server may have a newer one
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, r.url+pub, nil)
	if err != nil {
		return "", err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("account server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: account server answered %s for %s", ErrAccountNotFound, resp.Status, pub)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAccountJWT))
	if err != nil {
		return "", fmt.Errorf("account server: %w", err)
	}
	t := strings.TrimSpace(string(b))
	// Kept only when it is this account's JWT (the chain is checked when
	// used); anything else is fetched again next time.
	if ac, err := jwt.DecodeAccountClaims(t); err == nil && ac.Subject == pub {
		_, _ = r.held.Store(pub, t)
	}
	return t, nil
}

// Store implements UpdatableResolver.
func (r *URLResolver) Store(pub, token string) (bool, error) { return r.held.Store(pub, token) }

// List implements UpdatableResolver: the accounts fetched or pushed.
func (r *URLResolver) List() []string { return r.held.List() }

// expiredJWT reports whether token's expiry has passed.
func expiredJWT(token string) bool {
	c, err := jwt.DecodeGeneric(token)
	return err == nil && c.Expires > 0 && c.Expires <= time.Now().Unix()
}
