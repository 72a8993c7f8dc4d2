// Package cisco is the Cisco contact-center channel of the bus.
//
// Connector is the agent API the handlers call. It is shaped by Cisco
// Finesse: its values (User, ReasonCode, SystemInfo, ...) marshal to the JSON
// that Finesse objects take on the Acqueon bus, where numbers and booleans are
// strings, and its failures are *Error values that carry the Finesse
// ErrorType and ErrorMessage so that they reach the wire unchanged.
//
// Simulator is an embedded Finesse for a CCE deployment. It signs agents in
// and out and runs the voice agent state machine against a Directory of
// teams, agents, reason codes, wrap-up reasons and phone books, loaded from a
// JSON file (LoadDirectoryFile) or built in (DemoDirectory). It places and
// rings calls (Dialogs), runs supervision (monitoring, barge-in, state
// changes), and reports every change after sign-in as a Notification to
// its subscribers, in order. It keeps all of its state in memory, behind one
// mutex, and starts no goroutines of its own: its timers (far ends
// answering, rings timing out, wrap-up) run through an injected AfterFunc.
//
// Passwords are never stored: a Directory holds bcrypt hashes, made with
// HashPassword (the "ctibus hash-password" subcommand).
package cisco
