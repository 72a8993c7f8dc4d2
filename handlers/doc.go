// Package handlers turns requests on the bus into operations of a CTI
// channel, and the outcomes into events for the agent's workspace.
//
// The Cisco channel's agent API is served by Cisco: sign-in (SetUserInfo),
// the agent's state, logout, the reads of reason codes, wrap-up reasons,
// phone books, system information and calls, call control (calls.go),
// supervision (team.go), and the simulator's incoming calls (simulate.go).
// Every change the connector notifies after sign-in becomes an event in
// the workspaces concerned (notify.go). The agents' desktops, their tokens
// and the server-side apps are kept by a session.Desktops, to which
// Channel (channel.go) presents the Cisco channel. Every request runs on
// the requesting connection's reader (see package broker), so a sign-in
// that waits for the CTI server holds up only its own connection.
package handlers
