// Package sim is an embedded Cisco Finesse for a CCE deployment: a
// cisco.Connector that needs no contact center.
//
// Simulator signs agents in and out and runs the voice agent state machine
// against a Directory of teams, agents, reason codes, wrap-up reasons and
// phone books, loaded from a JSON file (LoadDirectoryFile) or built in
// (DemoDirectory). It places and rings calls (Dialogs, Ring), dials for
// Outbound Option campaigns (preview and progressive calls that reserve an
// agent), runs supervision (monitoring, barge-in, state changes), and
// reports every change after sign-in as a cisco.Notification to its
// subscribers, in order. It keeps all of its state in memory, behind one
// mutex, and starts no goroutines of its own: its timers (far ends
// answering, rings timing out, wrap-up) run through an injected AfterFunc.
//
// For a cluster (package simcluster), a Simulator reports each agent's
// AgentRecord and each call's CallRecord as they change
// (Config.OnAgentChange, Config.OnCallChange), restores both on failover
// (Restore), so that calls go on, and splits a sign-in into the password check
// (Authenticate), done on the node that receives it, and the sign-in of a
// loginId (SignInAs), done by the leader.
//
// A Scenario is a timed list of incoming and campaign calls that a Ringer
// (the simulator, or its cluster) plays for demos and load tests.
//
// Passwords are never stored: a Directory holds bcrypt hashes, made with
// HashPassword (the "ctibus hash-password" subcommand).
package sim
