package gossip

import (
	"math/rand/v2"
	"time"

	"go.uber.org/zap"
)

// joinLoop joins the seeds, retrying with doubling, jittered backoff until
// one answers, then closes Joined. It exits early on Leave or Close.
func (g *Gossip) joinLoop() {
	defer g.wg.Done()
	backoff := g.cfg.JoinBackoffMin
	for attempt := 1; ; attempt++ {
		seeds := g.seedTargets(nil)
		if len(seeds) == 0 {
			g.markJoined()
			return
		}
		n, err := g.ml.Join(seeds)
		if n > 0 {
			g.log.Info("gossip: joined", zap.Int("contacted", n), zap.Int("attempt", attempt),
				zap.Int("members", g.ml.NumMembers()))
			g.markJoined()
			return
		}
		if g.ctx.Err() != nil {
			return
		}
		// Warn on the first failure and then now and again; the seeds may
		// simply not be up yet.
		lvl := zap.DebugLevel
		if attempt == 1 || attempt%10 == 0 {
			lvl = zap.WarnLevel
		}
		g.log.Log(lvl, "gossip: join failed, retrying", zap.Strings("seeds", seeds),
			zap.Int("attempt", attempt), zap.Duration("backoff", backoff), zap.Error(err),
			zap.String("hint", "check that a seed is up and has the same Cluster and SecretKey"))
		if !g.sleep(jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, g.cfg.JoinBackoffMax)
	}
}

func (g *Gossip) markJoined() { g.joinOnce.Do(func() { close(g.joined) }) }

// rejoinLoop periodically joins the seeds and the addresses of members that
// died recently. memberlist forgets dead members after GossipToTheDeadTime
// and never contacts them again, so without this the two sides of a healed
// partition would stay apart (memberlist#222, weaviate#10698). Joining a
// node that is already a member is a harmless push/pull; seeds known to be
// alive members are skipped.
func (g *Gossip) rejoinLoop() {
	defer g.wg.Done()
	for {
		if !g.sleepOrKick(jitter(g.cfg.RejoinInterval)) {
			return
		}
		g.del.table.prune(g.cfg.DeadRetention)
		select {
		case <-g.joined:
		default:
			continue // the join loop is still at work
		}
		alive := g.del.table.aliveAddrs()
		targets := g.seedTargets(alive)
		seen := make(map[string]bool, len(targets))
		for _, t := range targets {
			seen[t] = true
		}
		for _, a := range g.del.table.deadAddrs(g.cfg.DeadRetention, maxRejoinDead) {
			if !seen[a] && !alive[a] {
				seen[a] = true
				targets = append(targets, a)
			}
		}
		if len(targets) == 0 {
			continue
		}
		n, err := g.ml.Join(targets)
		if g.ctx.Err() != nil {
			return
		}
		if n > 0 {
			g.rejoins.Add(1)
		}
		g.log.Debug("gossip: re-join round", zap.Strings("targets", targets),
			zap.Int("contacted", n), zap.Error(err))
	}
}

// seedTargets returns the seeds minus this node's own address and minus
// the addresses in skip.
func (g *Gossip) seedTargets(skip map[string]bool) []string {
	g.seedsMu.Lock()
	defer g.seedsMu.Unlock()
	self := map[string]bool{g.advAddr: true}
	if g.cfg.BindAddr != "0.0.0.0" && g.cfg.BindAddr != "::" {
		self[joinHostPort(g.cfg.BindAddr, g.bindPort)] = true
	}
	out := make([]string, 0, len(g.seeds))
	for _, s := range g.seeds {
		if !self[s] && !skip[s] {
			out = append(out, s)
		}
	}
	return out
}

// sleep waits d; it returns false if the node is leaving or closing.
func (g *Gossip) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-g.ctx.Done():
		return false
	}
}

// sleepOrKick is sleep that SetSeeds can cut short, so new seeds are
// joined at once rather than on the next round.
func (g *Gossip) sleepOrKick(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-g.rejoinNow:
		return true
	case <-g.ctx.Done():
		return false
	}
}

// jitter returns d ± 20 %, so that nodes started together do not retry in
// lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d*4/5 + rand.N(d*2/5+1)
}
