// Package broker is the message bus: it accepts apps over WebSocket, reads
// their envelopes, and routes each one by channel, topic and subtopic either
// to a server-side Handler or to the subscribers in the sender's Scope.
//
// # Envelopes
//
// An app sends a Request, {"id"?, "channel", "topic", "subtopic", "source"?,
// "data"?}, one per text frame. The bus sends Events, {"id", "channel",
// "topic", "subtopic", "source", "message", "correlationId"?, "timestamp"}.
// docs/protocol.md is the contract; this package implements it.
//
// # Goroutines of one connection
//
//   - The reader, started by ServeHTTP once the connection is upgraded,
//     reads and decodes frames and serves each request before it reads the
//     next: handlers run here, one at a time, in order. While one runs, the
//     app's next frames wait in TCP. What the request queues for its
//     connection within a millisecond (its answer), the reader then writes
//     itself with one system call that does not wait for the socket, so a
//     round trip costs no hand-off between goroutines.
//   - The writer owns every other data write to the socket, and the rest of
//     one the socket did not take at once, and ends the connection with a
//     close frame when asked. It exists only while frames are queued, and
//     writes all of them with one system call.
//
// One pinger goroutine for the whole broker asks each connection's writer
// for a ping once per PingPeriod, so an idle connection holds no goroutine
// but its reader, and no timer.
//
// # Bounds
//
// Whatever a client sends, what the bus holds for one connection is bounded
// in bytes as well as in counts: the frames waiting for it (SendQueue,
// SendQueueBytes), the frames it may send (RateLimit, RateBytes, judged on
// the raw frame before it is decoded), its channels and subscriptions
// (MaxChannels, MaxSubscriptions), the size of every error (echoed values
// are clipped) and the time it may stay without registering
// (RegisterTimeout). A panic in a handler, a timer started with
// Broker.AfterFunc or a close callback is recovered, logged and counted.
//
// # Batching
//
// An app that registers with data "batch": true may receive several
// envelopes in one text frame, as a JSON array, in order; any frame may
// still hold one envelope as a plain object. An app that does not opt in
// receives exactly one envelope per frame.
//
// # Between nodes
//
// One node alone delivers every event to its own connections. In a
// cluster, an Engine (SetEngine) carries each published event to the other
// nodes: broker/natsbus over NATS between processes, or a Hub in memory
// between the brokers of one process. The other nodes hand it to
// Broker.Deliver for their connections in the same scope and their
// watchers: Publish encodes the event once, delivers it here, then gives
// the engine the same bytes.
// An engine brings a node only what it asked for (Engine.Want): the
// broker asks for a scope as a connection joins or watches it, before the
// app is told, and gives it back as the connection leaves, so that an
// event published on another node after an app was told it joined
// reaches it. An app-to-app message crosses nodes within its sender's
// scope, like any other event. Two kinds of events stay on their node: those published
// into a connection's own scope ("conn:<id>"), whose one connection lives
// there, and those published with PublishLocal.
//
// # Concurrency contract
//
// Broker.Publish, Broker.PublishLocal, Broker.Deliver, Conn.Send,
// Conn.SetScope, Conn.ResetScope and Conn.OnClose are safe to call from any
// goroutine, including handlers. None of them blocks on a peer (an Engine
// buffers what it sends): an event is encoded once and queued for each
// recipient; a recipient whose queue is full is disconnected
// (CloseSlowConsumer).
// Handle, SetAdmitter and SetEngine must be called before the broker
// serves connections.
//
// The broker's lock comes fifth in the lock order of docs/locking.md, after
// the agent's, the connector's and the workspaces' locks of the packages
// that call it, and before each connection's: the calls above may be made
// while holding any of those, never from under a connection's own lock.
package broker
