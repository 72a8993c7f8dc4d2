// Package prosodytest runs Debian's prosody, a real XMPP server, for the
// tests of the Finesse connector, with the Go parts around it that stand
// in for what a Cisco Finesse node adds to its own XMPP server (Openfire).
//
// Start runs prosody as a child of the test process, on loopback and on
// free ports, from a temporary directory (its configuration, data, log and
// pid file), in the foreground, and stops it when the test ends. It serves:
//
//   - one virtual host per Finesse side (Config.Domains, such as
//     finesse-a.test and finesse-b.test): the XMPP domain that the side's
//     SystemInfo names in xmppDomain, where agents are <loginId>@<domain>;
//   - XMPP over WebSocket (RFC 7395, prosody's mod_websocket) and BOSH, over
//     TLS with a certificate of the test's CA (CA), in front of which each
//     domain has a Proxy that a test cuts to lose the sessions of that side
//     or to make it unreachable. WebSocketURL gives the wss:// URL of a
//     domain, the one a connector dials where Finesse serves wss://<host>:7443/ws/;
//   - accounts with plain passwords (internal_plain), created by AddUser
//     while prosody runs: Finesse authenticates XMPP with the agent's own
//     credentials, SASL PLAIN;
//   - ping (XEP-0199) and presence.
//
// What Finesse itself does on XMPP is simulated by an external component
// (XEP-0114) per domain, pubsub.<domain>, written here in Go:
//
//   - Push sends a Finesse notification as Finesse's pubsub service sends
//     it: a message from pubsub.<domain> carrying a pubsub event on a node
//     such as /finesse/api/User/<loginId>, whose notification holds the
//     <Update> as escaped text (Finesse 12.5) or as child elements (older
//     versions), in namespace urn:xmpp:push:0 or http://jabber.org/protocol/pubsub.
//     A message to a bare JID reaches every resource of the agent that sent
//     available presence with a non-negative priority, as on Finesse;
//   - the component watches every account's presence, as Finesse does to
//     sign out an agent whose desktop is gone (Online, WaitPresence,
//     OnPresence), and Sync waits until every presence prosody has routed so
//     far has been seen, so that a fixture can tell whether an agent's
//     presence came before a request;
//   - a small prosody module of ours (lua/mod_ctibus_watch.lua) reports
//     every SASL outcome to the component: Authentications counts an
//     account's XMPP sign-ins and wrong passwords, so a test proves that a
//     connector reconnected, or never retried a password Finesse refused;
//   - it answers explicit pubsub subscriptions (XEP-0060 subscribe and
//     unsubscribe IQs to pubsub.<domain>), which Finesse requires for team
//     nodes such as /finesse/api/Team/<id>/Users, and PushSubscribers sends a
//     node's notification to its subscribers.
//
// Client is a minimal XMPP-over-WebSocket client for tests (SASL PLAIN,
// bind, presence, ping, subscribe), used to check the harness and the
// Finesse REST fixture by hand; it is not the connector's client.
//
// Without prosody installed, Start skips the test with a message saying how
// to install it; with CI=true it fails the test instead, so that CI never
// passes with the XMPP tests silently skipped.
package prosodytest
