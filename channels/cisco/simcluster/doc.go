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
// and replies once the write is durable; it sends each Notification to the
// nodes that watch an agent it names (cisco.Watcher), in a stream per node,
// and each node delivers what it receives to its own subscribers.
//
// A node watches the agents the bus asks it to (the workspaces its
// connections are in or watch). The leader applies a watch under the
// simulator's lock, stores it in KV before answering, and starts the
// node's stream of the agent with a Notification.Snapshot of it, which
// every later change follows; a leader taking over loads the watches with
// the agents and calls. Watches are counted per agent, and a node tells
// the leader of them one request at a time, each from what it wants at
// that moment, so an unwatch crossing a rewatch loses nothing. A node
// also listens on the broadcast subject of earlier versions, to follow a
// leader of one during an upgrade; a leader of this version sends nothing
// there.
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
// not applied twice. What a call waits for is what the leader sent the
// calling node: a node that watches none of the agents a call changes
// waits for nothing.
package simcluster
