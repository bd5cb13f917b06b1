package main

import (
	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/jetstream"
)

// On a broker with routes, each account's engine runs behind a
// jetstream.Cluster: the account's streams are reachable from every
// broker of the cluster (docs/jetstream.md, "Cluster").

// clusterConn is the Cluster's two internal clients: one in the account
// (the clients' requests, the answers to them), one in the system account
// (the traffic between the brokers, which no client of the account
// reaches), with their subscriptions' interest scoped as the Cluster
// asks. The system account's subscription ids are negated so that the
// Cluster's handler tells them apart.
type clusterConn struct {
	*broker.InternalClient
	sys *broker.InternalClient
}

func (c clusterConn) SubscribeLocal(subject string) (int, error) {
	return c.SubscribeScoped(subject, broker.ScopeNoRoutes)
}

func (c clusterConn) SubscribeCluster(subject string) (int, error) {
	id, err := c.sys.SubscribeScoped(subject, broker.ScopeRoutes)
	return -id, err
}

func (c clusterConn) PublishCluster(subject, reply string, hdr, data []byte) {
	c.sys.Publish(subject, "", reply, hdr, data)
}

// localConn is an internal client whose subscriptions draw no route's
// interest: in a cluster, each broker's refuser answers its own clients
// (and leaf connections), so a request is refused once, not by every
// broker (without routes it is the same as Subscribe).
type localConn struct{ *broker.InternalClient }

func (c localConn) Subscribe(subject string) (int, error) {
	return c.SubscribeScoped(subject, broker.ScopeNoRoutes)
}

// startEngine starts u's engine on ic, behind a Cluster when the server
// is clustered.
func (r *jsRunner) startEngine(u *jsUnit, acc string, ic *broker.InternalClient) error {
	if !r.srv.Clustered() {
		// One broker: a publisher's goroutine does the engine's work for
		// its read itself when the engine is free (jetstream/inline.go).
		// In a cluster the engine's messages pass the cluster layer first.
		ic.SetBatchHandler(u.engine.Queue, u.engine.Flush)
		return u.engine.Start(ic)
	}
	cl := jetstream.NewCluster(u.engine, jetstream.ClusterConfig{ServerID: r.srv.ID(), ServerName: r.cfg.ServerName}, r.log)
	if err := u.engine.Start(cl.Wrap(ic)); err != nil {
		return err
	}
	cic, err := r.srv.NewInternalClient(acc, cl.Handle)
	if err != nil {
		u.engine.Close()
		return err
	}
	sys, err := r.srv.NewInternalClient(r.srv.SystemAccount(), func(sub int, subject, reply string, hdr, data []byte) {
		cl.Handle(-sub, subject, reply, hdr, data)
	})
	if err != nil {
		cic.Close()
		u.engine.Close()
		return err
	}
	if err := cl.Start(clusterConn{cic, sys}); err != nil {
		cl.Close()
		cic.Close()
		sys.Close()
		u.engine.Close()
		return err
	}
	u.cluster, u.cic, u.sys = cl, cic, sys
	return nil
}
