package main

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/murmurmq/murmur/node"
)

// report is what a run found: the faults, the traffic and the invariants
// with their counts. Violations is empty when every invariant held.
type report struct {
	Seed        uint64            `json:"seed"`
	Duration    time.Duration     `json:"duration"`
	Brokers     int               `json:"brokers"`
	DelayMode   string            `json:"delay_mode"`
	Faults      map[faultKind]int `json:"faults"`
	Windows     []window          `json:"windows"`
	QuietTime   time.Duration     `json:"quiet_time"`
	Convergence struct {
		P50   time.Duration `json:"p50"`
		P99   time.Duration `json:"p99"`
		Max   time.Duration `json:"max"`
		Over5 int           `json:"over_5s"`
		// ByKind is the same per fault kind.
		ByKind map[faultKind]convStats `json:"by_kind"`
	} `json:"convergence"`
	Node       nodeCounts    `json:"node"`
	Plain      plainCounts   `json:"plain"`
	Queue      queueCounts   `json:"queue"`
	Requests   requestCounts `json:"requests"`
	ProbeMiss  int           `json:"probe_misses"`
	FinalRound struct {
		Sent int `json:"sent"`
		Lost int `json:"lost"`
	} `json:"final_round"`
	// Resources is the growth check of every broker incarnation with at
	// least two samples; Incarnations has the samples themselves.
	Resources    []resourceVerdict `json:"resources"`
	Incarnations []*incarnation    `json:"incarnations"`
	Violations   []string          `json:"violations"`
}

// convStats summarises convergence times after heals of one fault kind.
type convStats struct {
	N     int           `json:"n"`
	P50   time.Duration `json:"p50"`
	Max   time.Duration `json:"max"`
	Over5 int           `json:"over_5s"`
}

type nodeCounts struct {
	Directs              int `json:"directs"`
	Broadcasts           int `json:"broadcasts"`
	Confirmed            int `json:"confirmed"`
	FailedNotAcked       int `json:"failed_not_acked"`
	Abandoned            int `json:"abandoned"`
	Received             int `json:"received"`
	DeliveredTwice       int `json:"delivered_twice"`
	ConfirmedNotReceived int `json:"confirmed_not_received"`
	BroadcastPeerGone    int `json:"broadcast_missed_by_gone_peer"`
	Blocked              int `json:"sends_blocked"`
}

type plainCounts struct {
	Published     int     `json:"published"`
	PublishErrors int     `json:"publish_errors"`
	Expected      int     `json:"expected_deliveries"`
	QuietExpected int     `json:"quiet_expected"`
	QuietLost     int     `json:"quiet_lost"`
	FaultExpected int     `json:"fault_expected"`
	FaultLost     int     `json:"fault_lost"`
	FaultLossRate float64 `json:"fault_loss_rate"`
	Duplicates    int     `json:"duplicates"`
	QuietReorders int     `json:"quiet_reorders"`
	FaultReorders int     `json:"fault_reorders"`
}

type queueCounts struct {
	Published  int `json:"published"`
	Delivered  int `json:"delivered"`
	Duplicates int `json:"duplicates"`
	QuietLost  int `json:"quiet_lost"`
	FaultLost  int `json:"fault_lost"`
}

type requestCounts struct {
	Sent          int `json:"sent"`
	Answered      int `json:"answered"`
	AnsweredTwice int `json:"answered_twice"`
	NoResponders  int `json:"no_responders"`
	TimedOut      int `json:"timed_out"`
	QuietFailed   int `json:"quiet_failed"`
	SendErrors    int `json:"send_errors"`
}

// maxListed bounds the violations listed per invariant (all are counted).
const maxListed = 10

// check evaluates every invariant over the run's records.
func (r *runner) check() *report {
	rep := &report{Seed: r.cfg.Seed, Duration: r.since(), Brokers: r.cfg.Brokers, DelayMode: r.net.DelayMode(), Faults: map[faultKind]int{}, Windows: r.windows, ProbeMiss: r.probeMisses}
	rep.Violations = append(rep.Violations, r.problems...)
	for _, s := range r.quiet {
		if s.To > s.From {
			rep.QuietTime += s.To - s.From
		}
	}
	var conv []time.Duration
	byKind := map[faultKind][]time.Duration{}
	for _, w := range r.windows {
		rep.Faults[w.Kind]++
		conv = append(conv, w.Converged-w.Healed)
		byKind[w.Kind] = append(byKind[w.Kind], w.Converged-w.Healed)
	}
	rep.Convergence.ByKind = map[faultKind]convStats{}
	for k, ds := range byKind {
		slices.Sort(ds)
		cs := convStats{N: len(ds), P50: ds[len(ds)/2], Max: ds[len(ds)-1]}
		for _, d := range ds {
			if d > 5*time.Second {
				cs.Over5++
			}
		}
		rep.Convergence.ByKind[k] = cs
	}
	slices.Sort(conv)
	if n := len(conv); n > 0 {
		rep.Convergence.P50 = conv[n/2]
		rep.Convergence.P99 = conv[min(n-1, n*99/100)]
		rep.Convergence.Max = conv[n-1]
		for _, d := range conv {
			if d > 5*time.Second {
				rep.Convergence.Over5++
			}
		}
	}
	rep.FinalRound.Sent, rep.FinalRound.Lost = r.finalRound.sent, r.finalRound.lost
	v := &violations{rep: rep}
	rep.Incarnations = r.incarnations
	for _, inc := range r.incarnations {
		if len(inc.Samples) < 2 {
			continue
		}
		rv := inc.verdict()
		rep.Resources = append(rep.Resources, rv)
		if rv.Grew != "" {
			v.add("broker resources grew", "%s (start %d, %d samples over %v): %s", rv.Broker, rv.Start, rv.Samples, rv.Lived.Round(time.Second), rv.Grew)
		}
	}
	r.checkPlain(rep, v)
	r.checkRequests(rep, v)
	r.checkNodes(rep, v)
	return rep
}

// violations collects violation lines, at most maxListed per kind.
type violations struct {
	rep    *report
	counts map[string]int
}

func (v *violations) add(kind, format string, args ...any) {
	if v.counts == nil {
		v.counts = map[string]int{}
	}
	v.counts[kind]++
	if v.counts[kind] <= maxListed {
		v.rep.Violations = append(v.rep.Violations, kind+": "+fmt.Sprintf(format, args...))
	} else if v.counts[kind] == maxListed+1 {
		v.rep.Violations = append(v.rep.Violations, kind+": more not listed (see the counts)")
	}
}

// quietSpan returns the index of the quiet span t (an offset) lies in, or
// -1.
func (r *runner) quietSpan(t int64) int {
	d := time.Duration(t)
	i := sort.Search(len(r.quiet), func(i int) bool { return r.quiet[i].To > d })
	if i < len(r.quiet) && r.quiet[i].From <= d && d < r.quiet[i].To {
		return i
	}
	return -1
}

// checkPlain: core NATS is at most once. No subscriber sees a message
// twice; from one publisher, one subscriber sees seqs in order while both
// stay in one quiet span (a stable path); nothing is lost that was
// published in a quiet span. Queue groups: never two members for one
// message, none lost in quiet spans.
func (r *runner) checkPlain(rep *report, v *violations) {
	t := r.traffic
	for _, p := range t.pubs {
		p.mu.Lock()
		sent := slices.Clone(p.sent)
		p.mu.Unlock()
		pc := 0
		for _, at := range sent {
			if at < 0 {
				rep.Plain.PublishErrors++
			} else {
				pc++
			}
		}
		rep.Plain.Published += pc
		rep.Queue.Published += pc
		span := func(seq uint32) int {
			if seq == 0 || int(seq) > len(sent) || sent[seq-1] < 0 {
				return -1
			}
			return r.quietSpan(sent[seq-1])
		}
		queueSeen := make([]int, len(sent))
		for _, q := range t.qs {
			q.mu.Lock()
			for _, seq := range q.got[p.idx] {
				if seq >= 1 && int(seq) <= len(sent) {
					queueSeen[seq-1]++
					rep.Queue.Delivered++
				}
			}
			q.mu.Unlock()
		}
		for k, c := range queueSeen {
			if sent[k] < 0 {
				continue
			}
			switch {
			case c > 1:
				rep.Queue.Duplicates++
				v.add("queue group delivered twice", "pub-%d seq %d went to %d members", p.idx, k+1, c)
			case c == 0 && r.quietSpan(sent[k]) >= 0:
				rep.Queue.QuietLost++
				v.add("queue message lost outside faults", "pub-%d seq %d (published at %v) reached no member", p.idx, k+1, time.Duration(sent[k]).Round(time.Millisecond))
			case c == 0:
				rep.Queue.FaultLost++
			}
		}
		for _, s := range t.subs {
			s.mu.Lock()
			got := slices.Clone(s.got[p.idx])
			s.mu.Unlock()
			seen := make([]uint8, len(sent))
			var last uint32
			for _, seq := range got {
				if seq == 0 || int(seq) > len(sent) {
					continue
				}
				if seen[seq-1] < 255 {
					seen[seq-1]++
				}
				if seen[seq-1] > 1 {
					rep.Plain.Duplicates++
					v.add("plain duplicate", "sub-%d got pub-%d seq %d twice", s.idx, p.idx, seq)
				}
				if seq < last {
					if sp := span(seq); sp >= 0 && sp == span(last) {
						rep.Plain.QuietReorders++
						v.add("plain reordered on a stable path", "sub-%d got pub-%d seq %d after %d", s.idx, p.idx, seq, last)
					} else {
						rep.Plain.FaultReorders++
					}
				}
				last = max(last, seq)
			}
			for k, at := range sent {
				if at < 0 {
					continue
				}
				rep.Plain.Expected++
				quiet := r.quietSpan(at) >= 0
				if quiet {
					rep.Plain.QuietExpected++
				} else {
					rep.Plain.FaultExpected++
				}
				if seen[k] > 0 {
					continue
				}
				if quiet {
					rep.Plain.QuietLost++
					v.add("plain message lost outside faults", "sub-%d never got pub-%d seq %d (published at %v)", s.idx, p.idx, k+1, time.Duration(at).Round(time.Millisecond))
				} else {
					rep.Plain.FaultLost++
				}
			}
		}
	}
	if rep.Plain.FaultExpected > 0 {
		rep.Plain.FaultLossRate = float64(rep.Plain.FaultLost) / float64(rep.Plain.FaultExpected)
	}
}

// checkRequests: every request is answered or times out; none is
// answered twice; a request sent and timed out within one quiet span is
// answered.
func (r *runner) checkRequests(rep *report, v *violations) {
	for _, q := range r.traffic.reqs {
		q.mu.Lock()
		rep.Requests.SendErrors += q.sendErrs
		for k, at := range q.sent {
			if at < 0 {
				continue
			}
			rep.Requests.Sent++
			answered := q.replies[k] > 0 && q.firstAt[k]-at <= int64(requestTimeout)
			switch {
			case q.replies[k] > 1:
				rep.Requests.AnsweredTwice++
				v.add("request answered twice", "req-%d id %d got %d replies", q.idx, k+1, q.replies[k])
			case answered:
				rep.Requests.Answered++
			case q.noResp[k]:
				rep.Requests.NoResponders++
			default:
				rep.Requests.TimedOut++
			}
			if q.replies[k] == 1 && answered {
				continue
			}
			if sp := r.quietSpan(at); sp >= 0 && time.Duration(at)+requestTimeout <= r.quiet[sp].To && q.replies[k] <= 1 {
				rep.Requests.QuietFailed++
				v.add("request failed outside faults", "req-%d id %d sent at %v: replies %d, no responders %v", q.idx, k+1, time.Duration(at).Round(time.Millisecond), q.replies[k], q.noResp[k])
			}
		}
		q.mu.Unlock()
	}
}

// checkNodes holds the node SDK to docs/node.md: every Direct and
// Broadcast is confirmed or reported on Errors; a confirmed direct was
// handed to its target; a confirmed broadcast was handed to every peer
// the sender counted (a peer it saw leave stops counting); nothing is
// handed to an application twice (the dedup window is far larger than
// what a run sends while a message can still be redelivered).
func (r *runner) checkNodes(rep *report, v *violations) {
	all := r.nodes.all
	byID := map[string]*nodeClient{}
	for _, nc := range all {
		byID[nc.id] = nc
		nc.mu.Lock()
	}
	defer func() {
		for _, nc := range all {
			nc.mu.Unlock()
		}
	}()
	for _, nc := range all {
		rep.Node.Blocked += nc.blocked
		for from, seqs := range nc.got {
			for seq, c := range seqs {
				rep.Node.Received++
				if c > 1 {
					rep.Node.DeliveredTwice++
					v.add("node message delivered twice", "%s handed %s seq %d over %d times", nc.id, from, seq, c)
				}
			}
		}
	}
	for _, s := range all {
		for seq, d := range s.sent {
			if d.kind == node.KindDirect {
				rep.Node.Directs++
			} else {
				rep.Node.Broadcasts++
			}
			if err, failed := s.failed[seq]; failed {
				if errors.Is(err, node.ErrAbandoned) {
					rep.Node.Abandoned++
				} else {
					rep.Node.FailedNotAcked++
				}
				continue
			}
			rep.Node.Confirmed++
			if d.kind == node.KindDirect {
				if byID[d.to].got[s.id][seq] == 0 {
					rep.Node.ConfirmedNotReceived++
					v.add("confirmed direct not received", "%s seq %d to %s (sent at %v)", s.id, seq, d.to, time.Duration(d.at).Round(time.Millisecond))
				}
				continue
			}
			for _, p := range all {
				if p == s || p.got[s.id][seq] > 0 {
					continue
				}
				if !s.liveAt(p.id, d.at) || s.leftAfter(p.id, d.at) {
					rep.Node.BroadcastPeerGone++
					continue
				}
				rep.Node.ConfirmedNotReceived++
				v.add("confirmed broadcast not received", "%s seq %d never reached %s, which it never saw leave (sent at %v)", s.id, seq, p.id, time.Duration(d.at).Round(time.Millisecond))
			}
		}
	}
	for _, s := range all {
		for seq := range s.failed {
			if _, ok := s.sent[seq]; !ok {
				v.add("failure reported for an unknown seq", "%s seq %d", s.id, seq)
			}
		}
	}
}

// liveAt reports whether peer was in nc's view at t (its last event at or
// before t was a join). The caller holds nc.mu.
func (nc *nodeClient) liveAt(peer string, t int64) bool {
	live := false
	for _, e := range nc.events {
		if e.at > t {
			break
		}
		if e.peer == peer {
			live = !e.left
		}
	}
	return live
}

// leftAfter reports whether nc saw peer leave at or after t.
func (nc *nodeClient) leftAfter(peer string, t int64) bool {
	for _, e := range nc.events {
		if e.at >= t && e.peer == peer && e.left {
			return true
		}
	}
	return false
}
