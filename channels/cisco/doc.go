// Package cisco is the contract of the Cisco contact-center channel of the
// bus: what the handlers call, and what every Cisco backend implements.
//
// Connector is the agent API the handlers call. It is shaped by Cisco
// Finesse: its values (User, ReasonCode, SystemInfo, Dialog, ...) marshal to
// the JSON that Finesse objects take on the Acqueon bus, where numbers and
// booleans are strings, and its failures are *Error values that carry the
// Finesse ErrorType and ErrorMessage so that they reach the wire unchanged.
// A backend reports every change after sign-in as a Notification, tagged
// with the id of the request that caused it (WithRequestID, RequestIDOf).
//
// The package holds the contract only: it imports no NATS, no bcrypt and
// no reflection. Its implementations live beside it: sim is an embedded
// Finesse for a CCE deployment, simcluster shares one simulator among the
// nodes of a cluster over NATS, finesse talks to a real Cisco Finesse, and
// ciscotest.ConnectorSuite checks that an implementation keeps the contract
// stated on Connector's methods.
package cisco
