// Package finessecluster shares a real Cisco Finesse among the nodes of a
// ctibus cluster on NATS: Cluster is a cisco.Connector built on a
// finesse.Connector of its own on each node.
//
// Finesse wants one XMPP session per signed-in agent, and the agent's
// credentials on every REST call, so the node that took an agent's sign-in
// owns the agent's Finesse session (its XMPP session and, in memory, its
// password) for as long as the agent stays signed in. The owner is recorded
// in the JetStream KV bucket <prefix>_finesse_owners, key a.<loginId in
// hex>, which every node watches. A request that names the agent (a state
// change, a call, a read of its User) goes to the owner over NATS
// request/reply when another node owns it, and runs here otherwise.
//
// Every notification a node's sessions produce is numbered and broadcast on
// <prefix>.finesse.notify, and every node delivers it to its own
// subscribers (the handlers turn them into events for their own
// connections). A forwarded request's answer carries the number of the
// owner's last notification, and the caller delivers the owner's
// notifications up to it before it returns: an app sees the events of its
// request before the request's answer, as on one node.
//
// A sign-in for an agent owned by another live node goes to the owner,
// which signs the agent in again with the credentials it holds: ownership
// never moves while its owner lives, so an agent never has two Finesse
// sessions. Passwords never cross NATS: the node that received the sign-in
// checks the password with Finesse itself (finesse.Connector.Authenticate,
// a GET of the agent's User with the agent's credentials) and forwards only
// the verified loginId and the extension. A sign-in for an agent no live
// node owns claims it with a compare-and-set and signs it in here.
//
// Each node renews its heartbeat, key <node>-<incarnation>, in the bucket
// <prefix>_finesse_nodes, whose records expire after Config.Liveness. A
// node whose heartbeat is gone (stopped, or dead) has taken its agents'
// Finesse sessions with it: Finesse signs them out after its own grace,
// and every other node tells its apps at once, with
// Cisco/Connection/SetConnectionStatus disconnected, then the agent's
// LOGOUT. The apps sign in again, on any node; no password is moved to keep
// a session alive.
package finessecluster
