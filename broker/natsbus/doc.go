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
// A node receives the events of the scopes its connections are in, and of
// those they watch, and no others. It holds one NATS subscription,
//
//	<prefix>.ev.<scope>.>
//
// per scope in which at least one of its connections is, or which one of
// them watches (broker.Conn.Watch). The broker asks for a scope
// (Engine.Want) as a connection joins or watches it and gives it back
// (Engine.Unwant) as the connection leaves; the engine counts, subscribes
// on the first and unsubscribes some time after the last (below). A
// connection's own scope
// ("conn:<id>") needs none: its events never leave the node.
//
// A connection that watches every scope of a prefix (an app granted all
// agents, broker.Conn.WatchAll) wants scopes that do not exist yet. NATS
// matches whole tokens and a scope is one token, so no subject selects a
// prefix: while it has such a connection, a node also subscribes to
// <prefix>.ev.>, and receives every event of the cluster, as every node
// did before. An event of a scope the node is in then comes twice, once
// per subscription; each copy is delivered to the recipients of its path
// only (broker.Message.For): the scope's subscription serves the scope's
// connections and its watchers, the subscription to everything serves the
// connections watching a prefix. No connection receives an event twice.
//
// Subscriptions follow scopes, not the patterns apps subscribe to: a
// pattern is matched ignoring case while a subject carries the spelling
// published, and the number of patterns is the clients' to choose (100
// per connection), while the number of scopes is bounded by the node's
// connections, each in one scope, and by the apps file, which names what
// server-side apps watch. Whatever a client subscribes to, a node holds
// at most one NATS subscription per scope of its connections and watched
// scopes, plus one. App-to-app messages on free channels travel in their
// sender's scope, like any event, so the scope's subscription carries
// them: there is no scope-less channel to subscribe to.
//
// # Joining without missing an event
//
// Engine.Want returns once the NATS server has the subscription: it sends
// SUB, then a PING, and waits for the PONG, which the server sends after
// it has processed the SUB (nats.Conn.FlushTimeout). The broker calls it
// before it moves the connection and before anything tells the app it has
// joined (the Register's answer, a sign-in's events), so an event that any
// node publishes after the app was told reaches it. A second connection
// that joins while the first's round trip is in flight waits for the same
// round trip. When the last connection of a scope leaves, the node keeps
// the subscription for Options.Linger (10 s by default), so that apps
// reconnecting after a blip find it in place, then unsubscribes, at most
// 500 a second: the NATS server removes a subscription to a wildcard
// subject under a lock every publish of the account takes, walking its
// cache of up to 1,024 matched subjects, and the thousands of scopes a
// node leaves when its connections go at once held that lock for seconds,
// the contact center's lease renewals waiting behind it. One that joins
// after the unsubscribe subscribes again and waits again, so it misses
// nothing published after it was told. The
// wait is bounded (5 s), and skipped while the connection to NATS is
// down: nothing crosses then anyway, and the client subscribes again when
// it reconnects. Across a NATS cluster of several servers, the PONG says
// that the node's own server has the subscription; that server relays it
// to the others as it processes it, so an event published on another
// server races only with that relay.
//
// # Order
//
// NATS keeps a publisher's order per subscription. A connection receives
// the events of its scope through that scope's one subscription (or, for
// a connection watching a prefix, through the one subscription to
// everything), so each publisher's events in one scope reach every
// receiver in the order published, as before. All of a node's
// subscriptions feed one queue, read by one goroutine in the order the
// messages arrived on the node's one NATS connection; one NATS server
// sends a publisher's messages to a connection in order whatever
// subscriptions they match, so the order holds across scopes too (for a
// watcher of several agents), but NATS does not promise it, nor does
// ctibus (protocol.md 3.5 promises order per sender within a scope).
//
// The cost of following connections is a SUB when a node gets its first
// connection of a scope, with a round trip the join waits for, and an
// UNSUB when the last leaves; the NATS server keeps one subscription per
// scope and node. docs/performance.md counts what crosses.
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
