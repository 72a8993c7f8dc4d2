package finessetest

import (
	"slices"
	"sync"

	"github.com/ctibus/ctibus/internal/prosodytest"
)

// Entry is one event a Finesse side saw: a REST request, or a change of an
// agent's XMPP presence on the side's domain. Entries have no times: a
// test asserts their order, never their timing.
type Entry struct {
	Seq  int    // the entry's place in its Log, from 1
	Side string // the side's XMPP domain
	// Request fields; Method is "" for a presence entry.
	Method    string // GET, PUT, POST
	Path      string // /finesse/api/User/100501, without the query
	Query     string // category=NOT_READY, ...
	User      string // the loginId the request authenticated as; "" if it did not
	RequestID string // the requestId header
	// Action is what a PUT or POST asked for: the <state> of a User PUT
	// (LOGIN, READY, ...) or the <requestedAction> of a Dialog request
	// (MAKE_CALL, ANSWER, ...); "" otherwise. Bodies are not kept.
	Action string
	Status int // the HTTP status answered; 0 while the request is served, or if the connection was refused
	// Presence is set for a presence entry.
	Presence *prosodytest.Presence
}

// Log is the ordered record of what one or more sides saw. Before it logs a
// request, a side waits until its XMPP component has seen every presence
// prosody had processed (prosodytest's Sync), so a presence that a client
// completed before sending its request (a client waits for its presence to
// come back) is logged before the request. It is safe for concurrent use.
type Log struct {
	mu      sync.Mutex // guards entries
	entries []Entry
}

// NewLog returns an empty log, to share among sides with SiteConfig.Log.
func NewLog() *Log { return &Log{} }

// add appends e and returns its index.
func (l *Log) add(e Entry) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = len(l.entries) + 1
	l.entries = append(l.entries, e)
	return len(l.entries) - 1
}

func (l *Log) setStatus(i, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries[i].Status = status
}

// Entries returns a copy of the entries, in order.
func (l *Log) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// Requests returns the request entries, in order.
func (l *Log) Requests() []Entry {
	var out []Entry
	for _, e := range l.Entries() {
		if e.Method != "" {
			out = append(out, e)
		}
	}
	return out
}

// Find returns the first entry for which match is true, and whether there
// is one.
func (l *Log) Find(match func(Entry) bool) (Entry, bool) {
	for _, e := range l.Entries() {
		if match(e) {
			return e, true
		}
	}
	return Entry{}, false
}

// IsLogin matches the LOGIN PUT of loginID.
func IsLogin(loginID string) func(Entry) bool {
	return func(e Entry) bool {
		return e.Method == "PUT" && e.Path == "/finesse/api/User/"+loginID && e.Action == "LOGIN"
	}
}

// IsOnline matches loginID's presence coming online on side.
func IsOnline(side, loginID string) func(Entry) bool {
	return func(e Entry) bool {
		return e.Presence != nil && e.Side == side && e.Presence.User == loginID && e.Presence.Available
	}
}
