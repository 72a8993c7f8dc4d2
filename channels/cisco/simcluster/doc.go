// Package simcluster shares one simulated contact center among several
// ctibus nodes on NATS: Cluster is a cisco.Connector built on a
// sim.Simulator of its own on each node, using only the simulator's
// exported API.
//
// The node that holds a lease in JetStream KV (the leader) runs its
// simulator and serves the other nodes' requests over NATS request/reply,
// those of different agents at once. It stores each agent's
// sim.AgentRecord, and each call's sim.CallRecord (dialog, participants,
// call variables, wrap-up reason), in JetStream KV with a compare-and-set,
// outside the simulator's lock and in the order of each record's changes,
// and replies once the write is durable; it broadcasts every Notification,
// which each node delivers to its own subscribers.
//
// When the leader goes, another node takes the lease, restores agents and
// calls, and carries on: a call survives a failover, with its held and
// pending states, its wrap-up, and a sign-out that waits for its end; only
// its timers (rings, far ends answering, wrap-up) start again. Requests
// made meanwhile wait for it, up to a timeout, then fail with
// cisco.ErrUnavailable. The signed-in agents' apps hear the move as their
// link to the contact center going down and coming back
// (cisco.LinkChange), once each: a leader that leaves says the link is
// down, and leaves that goodbye in the lease; the node taking over says it
// is back, after saying it is down if the lease it took was no goodbye.
//
// Passwords never cross NATS: the node that receives a sign-in checks the
// password itself (Simulator.Authenticate) and asks the leader to sign in
// the loginId (Simulator.SignInAs). As with a Simulator, a call returns
// once the calling node has delivered the notifications the leader sent
// before answering it; a request sent again because its answer was slow is
// not applied twice.
package simcluster
