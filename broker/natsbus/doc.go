// Package natsbus carries a broker's events between the nodes of a cluster
// over NATS core subjects: it is the broker.Engine of cluster mode.
//
// # Subjects
//
// An event published on one node goes out once, as a NATS message whose
// payload is the encoded event frame, byte for byte what connections
// receive, on the subject
//
//	<prefix>.ev.<scope>.<channel>.<topic>.<subtopic>
//
// where <prefix> is "ctibus" unless configured, and the channel, topic and
// subtopic are spelled as published. Nothing else is encoded: the
// receiving node reads the scope and the triple back from the subject.
//
// Each of the four parts is escaped into a single NATS token, so that any
// string the broker accepts maps to a subject and back unchanged:
//
//   - "%", ".", "*", ">", and every byte that is not printable ASCII
//     (space, tabs and line breaks, control bytes, bytes of 0x7F and above)
//     are written as "%" followed by the byte in two uppercase hex digits:
//     "." is "%2E", a space "%20", "é" (UTF-8 C3 A9) "%C3%A9";
//   - every other byte is written as it is;
//   - an empty part is written as a lone "%", which no escape produces.
//
// So the scope "agent:cisco:100501" is the token "agent:cisco:100501", a scope
// "floor 2.east" is "floor%202%2Eeast", and an event Cisco/Agent/State in
// it is published on ctibus.ev.floor%202%2Eeast.Cisco.Agent.State.
// Receivers reject a token that is not exactly what the escape produces
// (lowercase hex, an escaped byte that needed none, a bare "*").
//
// # Who receives what
//
// Every node subscribes once to <prefix>.ev.>, and so receives every event
// published into any scope by any other node, which it then delivers to
// its own connections in that scope, if any (broker.Broker.Deliver). This
// keeps a node's NATS state to one subscription, with nothing to update as
// agents sign in and out and connections move between scopes, and keeps
// each publisher's events in order at every receiver (one subscription is
// delivered in order). The cost is that every node handles every event,
// including the events of scopes it has no connection in: with N nodes,
// N-1 copies of each event cross the network and most are dropped after a
// map lookup. Subscriptions per scope, following where connections are,
// are the next step when a node's share of the scopes gets small.
//
// A node does not receive its own events back: they are already delivered
// to its connections. The NATS connection given to New must be created
// with nats.NoEcho(), and New refuses one without it.
//
// Events published into a connection's own scope ("conn:<id>") never reach
// NATS: that connection lives on the node that publishes them.
//
// # Delivery
//
// A frame is delivered only if it is one JSON object in UTF-8, which is
// all a node ever publishes: anything else came from something that got
// access to the cluster's subjects, and is dropped, counted
// (Engine.Dropped) and logged without its payload, a few lines a second
// at most.
//
// Delivery is at most once, like NATS core: an event published while the
// NATS connection is down is buffered by the client (nats.ReconnectBufSize)
// and sent on reconnection, or refused with an error when the buffer is
// full; an event that arrives while a node is disconnected is lost to that
// node. A node that falls too far behind is a NATS slow consumer: the
// events it cannot hold are dropped, and the drop is logged.
package natsbus
