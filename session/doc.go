// Package session keeps what the bus adds to a contact center's sign-ins,
// for any channel: Desktops, the agents' desktops (workspaces of
// connections bound to a signed-in agent, kept across a sign-out, their
// grace periods and the sweep of abandoned agents), the workspace tokens
// that admit an agent's other apps, the server-side apps and their
// credentials (Register's and the HTTP API's), the sign-in lockout and the
// bound on password checks. A channel implements the small Channel
// interface; the contact center behind it stays the source of truth for an
// agent's state.
package session
