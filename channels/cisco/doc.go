// Package cisco is the Cisco contact-center channel of the bus.
//
// Connector is the agent API the handlers call. It is shaped by Cisco
// Finesse: its values (User, ReasonCode, SystemInfo, ...) marshal to the JSON
// that Finesse objects take on the Acqueon bus, where numbers and booleans are
// strings, and its failures are *Error values that carry the Finesse
// ErrorType and ErrorMessage so that they reach the wire unchanged.
//
// Simulator is an embedded Finesse for a CCE deployment. It signs agents in
// and out and runs the voice agent state machine against a Directory of
// teams, agents, reason codes, wrap-up reasons and phone books, loaded from a
// JSON file (LoadDirectoryFile) or built in (DemoDirectory). It places and
// rings calls (Dialogs), dials for Outbound Option campaigns (preview and
// progressive calls that reserve an agent), runs supervision (monitoring,
// barge-in, state changes), and reports every change after sign-in as a Notification to
// its subscribers, in order. It keeps all of its state in memory, behind one
// mutex, and starts no goroutines of its own: its timers (far ends
// answering, rings timing out, wrap-up) run through an injected AfterFunc.
//
// Cluster shares one simulated contact center among several ctibus nodes
// on NATS. Each node has a Simulator on the same directory; the node that
// holds a lease in JetStream KV (the leader) runs its own, and the others
// send it their requests over NATS request/reply. The leader stores each
// agent's AgentRecord in JetStream KV with a compare-and-set before it
// replies, and broadcasts every Notification, which each node delivers to
// its own subscribers. When the leader goes, another node takes the lease,
// restores the records and carries on; calls do not survive, so agents that
// were on one come back NOT_READY (or signed out, if a sign-out was pending). Requests made meanwhile wait for it, up
// to a timeout, then fail with ErrUnavailable. Passwords never cross NATS:
// the node that receives a sign-in checks the password itself
// (Simulator.Authenticate) and asks the leader to sign in the loginId
// (Simulator.SignInAs). As with a Simulator, a call returns once the
// calling node has delivered the notifications the leader sent before
// answering it; a request sent again because its answer was slow is not
// applied twice.
//
// Passwords are never stored: a Directory holds bcrypt hashes, made with
// HashPassword (the "ctibus hash-password" subcommand).
package cisco
