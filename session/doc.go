// Package session keeps what the bus knows about signed-in agents: each
// agent's workspace (the connections bound to it, and the grace period after
// the last one closes) and the sign-in lockout. The CTI server behind the
// Cisco channel stays the source of truth for an agent's state.
package session
