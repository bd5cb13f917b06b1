package broker

import (
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
	"github.com/murmurmq/murmur/pubsub"
	"github.com/murmurmq/murmur/transform"
)

// Account imports, as nats-server's. Each import is one forwarding
// subscription (mux.Sub.Forward):
//
//   - a stream import of B from A subscribes in A's index to the imported
//     subjects and republishes each message into B (under the prefix, or
//     on the subject its To maps it to);
//   - a service import of B from A subscribes in B's index to the local
//     subject (To) and republishes each request into A, on the exported
//     subject (To's wildcards mapped back onto it), with its reply subject
//     replaced by a response subject of this broker (_R_.<tag>.<n>) that
//     maps back to the requester's reply;
//   - every account that exports a service has one response subscription,
//     _R_.<tag>.>, which takes the responses (from local responders, or
//     over routes from remote ones: it is the one import subscription
//     routes learn of) and republishes each into the requester's account
//     on the original reply subject.
//
// Importing happens where a message enters the exporting (streams) or
// importing (services) account from a client: a message that arrived over
// a route was imported by the broker it was published on, and its copies
// travel the routes of the account they were published into.

// importOwner owns the forwarding subscriptions; messages never reach it
// (the multiplexor calls Forward instead of Deliver).
type importOwner struct{}

func (importOwner) Kind() mux.Kind                                  { return mux.Client }
func (importOwner) NoEcho() bool                                    { return false }
func (importOwner) Deliver(*mux.Sub, *mux.Msg) (needFlush, ok bool) { return false, false }
func (importOwner) Flush()                                          {}
func (importOwner) Expired(*mux.Sub)                                {}

// installedSub is one forwarding subscription in an account's index.
// key says everything it forwards by, so an unchanged import is kept
// across setImports.
type installedSub struct {
	key        string
	acc        *account
	sub        *mux.Sub
	advertised bool // counted as local interest, so routes know it
	// toLeaves: counted as interest for the account's leaf connections
	// only (a service import: the cluster's brokers each have their own,
	// but a leaf must send its requests here, as nats-server's
	// initLeafNodeSmapAndSendSubs sends acc.imports.services).
	toLeaves bool
}

// importState is what the current configuration installed.
type importState struct {
	mu   sync.Mutex // one setImports at a time
	subs []installedSub
}

// setImports makes the installed imports those of a (nil: none): an
// import already installed as configured stays (it never stops
// forwarding), new ones are installed, and then the ones a no longer has
// are removed.
func (s *Server) setImports(a *AuthOptions) {
	st := &s.imports
	st.mu.Lock()
	defer st.mu.Unlock()
	old := map[string][]installedSub{}
	for _, in := range st.subs {
		old[in.key] = append(old[in.key], in)
	}
	var next []installedSub
	defer func() {
		for _, ins := range old {
			for _, in := range ins {
				if in.acc.mux.Unsubscribe(in.sub) {
					switch {
					case in.advertised:
						s.localInterest(in.acc, in.sub, -1)
					case in.toLeaves:
						s.leafLocalInterest(in.acc, in.sub, -1)
					}
				}
			}
		}
		st.subs = next
	}()
	if a == nil {
		return
	}
	exports := map[string]*Account{}
	for i := range a.Accounts {
		exports[a.Accounts[i].Name] = &a.Accounts[i]
	}
	install := func(key string, acc *account, sub *mux.Sub, advertise, toLeaves bool) {
		key = acc.name + "|" + key
		if ins := old[key]; len(ins) > 0 {
			next, old[key] = append(next, ins[0]), ins[1:]
			return
		}
		sub.Owner = importOwner{}
		if err := acc.mux.Subscribe(sub); err != nil {
			s.log.Error("import not installed", zap.String("account", acc.name), zap.String("subject", sub.Subject), zap.Error(err))
			return
		}
		switch {
		case advertise:
			s.localInterest(acc, sub, +1)
		case toLeaves:
			s.leafLocalInterest(acc, sub, +1)
		}
		next = append(next, installedSub{key, acc, sub, advertise, toLeaves})
	}
	for _, acc := range a.Accounts {
		to := s.account(acc.Name)
		for _, im := range acc.Imports {
			from := s.account(im.Account)
			if from == nil || to == nil {
				continue // validated: cannot happen
			}
			if im.Stream != "" {
				subject, tr, _ := streamMapping(im) // validated
				install(strings.Join([]string{"stream", im.Stream, to.name, im.Prefix, im.To}, "|"), from, &mux.Sub{Subject: im.Stream, Forward: &streamImport{
					to: to, prefix: im.Prefix, subject: subject, tr: tr,
				}}, false, false)
				continue
			}
			local, tr, _ := serviceMapping(im) // validated
			e := serviceExport(exports[im.Account], im.Service)
			install(strings.Join([]string{"service", local, from.name, im.Service, im.To, e.ResponseType, e.ResponseThreshold.String()}, "|"),
				to, &mux.Sub{Subject: local, Forward: &serviceImport{
					srv: s, exporter: from, importer: to, subject: im.Service, tr: tr,
					mapped: tr == nil && local != im.Service, export: e,
				}}, false, true)
		}
		for _, e := range acc.Exports {
			if e.Service != "" {
				exporter := s.account(acc.Name)
				install("responses", exporter, &mux.Sub{Subject: s.responses.prefix + ">", Forward: (*responseRouter)(s)}, true, false)
				break
			}
		}
	}
}

// serviceExport is the export of acc that covers the service subject.
func serviceExport(acc *Account, subject string) Export {
	for _, e := range acc.Exports {
		if e.Service != "" && pubsub.SubjectIsSubset(subject, e.Service) {
			return e
		}
	}
	return Export{}
}

// streamMapping is how a stream import's To renames what it delivers, by
// nats-server's rules: a literal stream is delivered on To (subject); a
// stream with wildcards, on the subject tr maps it to, To's "*" tokens
// taking the stream's wildcards in order ($N and {{wildcard(N)}} place
// them by number), every wildcard used and ">" kept. Neither set: the
// subject is kept (or prefixed).
func streamMapping(im Import) (subject string, tr *transform.Transform, err error) {
	switch {
	case im.To == "" || im.To == im.Stream:
		return "", nil, nil
	case !pubsub.HasWildcard(im.Stream):
		// nats-server would deliver on a subject with wildcards.
		if !pubsub.ValidLiteralSubject(im.To) {
			return "", nil, fmt.Errorf("the stream %q is one subject: %q must be a literal subject", im.Stream, im.To)
		}
		return im.To, nil, nil
	}
	tr, err = transform.New(im.Stream, transform.Tokenize(im.To))
	if err != nil {
		return "", nil, fmt.Errorf("failed to create mapping transform for stream import subject from %q to %q: %w", im.Stream, im.To, err)
	}
	return "", tr, nil
}

// serviceMapping is how a service import maps requests, by nats-server's
// rules: clients send to local (To with its placeholders read as "*",
// default the exported subject), and tr, when set, maps each request's
// subject onto the exported one. To is written as the exported subject's
// destination (its "*" tokens take the exported wildcards in order), and
// tr is that mapping reversed. A literal exported subject needs no
// mapping: every request goes to it.
func serviceMapping(im Import) (local string, tr *transform.Transform, err error) {
	if im.To == "" || im.To == im.Service || !pubsub.HasWildcard(im.Service) {
		if im.To == "" {
			return im.Service, nil, nil
		}
		return im.To, nil, nil
	}
	wrap := func(err error) error {
		return fmt.Errorf("failed to create mapping transform for service import subject from %q to %q: %w", im.To, im.Service, err)
	}
	exported, _ := transform.Untokenize(im.Service)
	fwd, err := transform.New(exported, transform.Tokenize(im.To))
	if err != nil {
		return "", nil, wrap(err)
	}
	if tr, err = fwd.Reverse(); err != nil {
		return "", nil, wrap(err)
	}
	local, _ = transform.Untokenize(im.To)
	return local, tr, nil
}

// checkMapping reports why im's To cannot be installed.
func checkMapping(im Import) (err error) {
	if im.Stream != "" {
		_, _, err = streamMapping(im)
	} else {
		_, _, err = serviceMapping(im)
	}
	return err
}

// streamImport republishes messages of the exporting account into the
// importing one.
type streamImport struct {
	to      *account
	prefix  string
	subject string               // set: every message is delivered on it
	tr      *transform.Transform // set: maps each message's subject
}

func (si *streamImport) Forward(_ *mux.Sub, from mux.Conn, msg *mux.Msg, b *mux.Batch) int {
	if from != nil && from.Kind() == mux.Route {
		return 0 // imported where it was published
	}
	m := forwarded(msg, si.to)
	switch {
	case si.prefix != "":
		subj := make([]byte, 0, len(si.prefix)+1+len(msg.Subject))
		m.Subject = append(append(append(subj, si.prefix...), '.'), msg.Subject...)
	case si.tr != nil:
		m.Subject = si.tr.Append(make([]byte, 0, len(msg.Subject)+len(si.tr.Destination())), msg.Subject)
	case si.subject != "":
		m.Subject = []byte(si.subject)
	}
	return si.to.mux.Publish(from, &m, b)
}

// serviceImport republishes requests of the importing account into the
// exporting one, mapping the reply subject.
type serviceImport struct {
	srv                *Server
	exporter, importer *account
	subject            string               // the exported subject requests go to
	mapped             bool                 // the local subject differs: requests go to subject
	tr                 *transform.Transform // set: maps each request's subject onto the exported one
	export             Export
}

func (si *serviceImport) Forward(_ *mux.Sub, from mux.Conn, msg *mux.Msg, b *mux.Batch) int {
	if from != nil && from.Kind() == mux.Route {
		return 0 // imported where it was published
	}
	m := forwarded(msg, si.exporter)
	switch {
	case si.tr != nil:
		m.Subject = si.tr.Append(make([]byte, 0, len(si.subject)+len(msg.Subject)), msg.Subject)
	case si.mapped:
		m.Subject = []byte(si.subject)
	}
	if t := si.exporter.mappings.Load(); t != nil {
		// The exporting account's mappings apply to requests entering it
		// (nats-server maps the import's subject in its account).
		if mapped, ok := t.Map(nil, m.Subject); ok {
			if len(mapped) == 0 {
				return 0
			}
			m.Subject = mapped
		}
	}
	if len(msg.Reply) > 0 {
		m.Reply = si.srv.responses.add(si.importer, msg.Reply, si.export)
	}
	return si.exporter.mux.Publish(from, &m, b)
}

// responseRouter takes responses on this broker's response subjects and
// republishes each to its requester.
type responseRouter Server

func (r *responseRouter) Forward(_ *mux.Sub, from mux.Conn, msg *mux.Msg, b *mux.Batch) int {
	acc, reply, ok := r.responses.take(msg.Subject)
	if !ok {
		return 0 // unknown, expired, or a singleton already answered
	}
	m := forwarded(msg, acc)
	m.Subject, m.Reply = reply, nil
	return acc.mux.Publish(from, &m, b)
}

// forwarded is msg as republished into acc: the same subject, reply,
// header and payload, no queue picks, one more hop.
func forwarded(msg *mux.Msg, acc *account) mux.Msg {
	m := *msg
	m.Account, m.Queues = acc.name, nil
	m.Hops++
	return m
}
