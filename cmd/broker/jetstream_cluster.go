package main

import (
	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/jetstream"
)

// On a broker with routes, each account's engine runs behind a
// jetstream.Cluster: the account's streams are reachable from every
// broker of the cluster (docs/jetstream.md, "Cluster").

// clusterConn is the Cluster's internal client, with its subscriptions'
// interest scoped as the Cluster asks.
type clusterConn struct{ *broker.InternalClient }

func (c clusterConn) SubscribeLocal(subject string) (int, error) {
	return c.SubscribeScoped(subject, broker.ScopeNoRoutes)
}

func (c clusterConn) SubscribeCluster(subject string) (int, error) {
	return c.SubscribeScoped(subject, broker.ScopeRoutes)
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
	if err := cl.Start(clusterConn{cic}); err != nil {
		cl.Close()
		cic.Close()
		u.engine.Close()
		return err
	}
	u.cluster, u.cic = cl, cic
	return nil
}
