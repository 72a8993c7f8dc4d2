// Package finesse is a cisco.Connector on a real Cisco Finesse: its REST
// API for requests, and its XMPP notification service, over WebSocket, for
// what changes.
//
// Each signed-in agent has an XMPP session of its own, authenticated with
// the agent's credentials, because Finesse pushes an agent's User and
// Dialogs updates only to the agent's JID and signs out an agent whose
// presence has been gone for 60 seconds. The credentials are kept in
// memory for as long as the agent is signed in, and forgotten at sign-out.
//
// The package reads Finesse's XML tolerantly (xml.go, notify.go), talks to
// one side of a Finesse cluster over REST (rest.go) and XMPP (xmpp.go),
// and keeps the agents' sessions, their requests and their failover between
// the two sides (connector.go and the files beside it).
package finesse
