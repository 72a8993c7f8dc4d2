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
//   - The reader (the HTTP handler's goroutine) reads and decodes frames and
//     queues them for the dispatcher, waiting when MaxPending are queued.
//   - The dispatcher runs the queued requests one at a time, in order; it
//     exists only while there is work. Handlers run here.
//   - The writer owns every data write to the socket, sends pings, and ends
//     the connection with a close frame when asked.
//
// # Concurrency contract
//
// Broker.Publish, Conn.Send, Conn.SetScope, Conn.ResetScope and Conn.OnClose
// are safe to call from any goroutine, including handlers. None of them
// blocks on a peer: an event is encoded once and queued for each recipient;
// a recipient whose queue is full is disconnected (CloseSlowConsumer).
// Handle must be called before the broker serves connections.
package broker
