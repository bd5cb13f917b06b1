package broker

import (
	"crypto/rand"
	"encoding/base32"
	"strconv"
	"sync"
	"time"
)

// responseMap maps the response subjects this broker hands to exporting
// accounts' responders back to the requesters' accounts and reply
// subjects. Entries of singleton services go with their first response;
// the others (stream, chunked) after the export's response threshold.
// Expired entries are swept as new ones are added, so the map is bounded
// by the requests of one threshold.
type responseMap struct {
	prefix string // "_R_.<tag>.": this broker's response subjects

	mu    sync.Mutex
	seq   uint64
	m     map[string]*responseEntry
	swept time.Time
}

type responseEntry struct {
	acc       *account
	reply     []byte
	singleton bool
	expires   time.Time
}

func newResponseMap() *responseMap {
	var b [5]byte
	_, _ = rand.Read(b[:])
	tag := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
	return &responseMap{prefix: "_R_." + tag + ".", m: map[string]*responseEntry{}}
}

// add records a request from acc with reply subject reply to a service
// export e, and returns the response subject to send instead.
func (r *responseMap) add(acc *account, reply []byte, e Export) []byte {
	now := time.Now()
	threshold := e.ResponseThreshold
	if threshold <= 0 {
		threshold = DefaultResponseThreshold
	}
	ent := &responseEntry{
		acc: acc, reply: append([]byte(nil), reply...),
		singleton: e.ResponseType == "" || e.ResponseType == ResponseSingleton,
		expires:   now.Add(threshold),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	subj := r.prefix + strconv.FormatUint(r.seq, 36)
	r.m[subj] = ent
	if now.Sub(r.swept) > time.Second {
		r.swept = now
		for k, e := range r.m {
			if now.After(e.expires) {
				delete(r.m, k)
			}
		}
	}
	return []byte(subj)
}

// take returns where a response on subject goes, and forgets a
// singleton's entry.
func (r *responseMap) take(subject []byte) (*account, []byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.m[string(subject)]
	if e == nil {
		return nil, nil, false
	}
	if time.Now().After(e.expires) {
		delete(r.m, string(subject))
		return nil, nil, false
	}
	if e.singleton {
		delete(r.m, string(subject))
	}
	return e.acc, e.reply, true
}

// len is the number of live entries (for tests and monitoring).
func (r *responseMap) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
