package session

// LockoutSize reports how many accounts l's memory store keeps, for tests
// that check it forgets what is over.
func LockoutSize(l *Lockout) int {
	return l.store.(*memoryLockoutStore).size()
}

// NewKVPresenceBeating is NewKVPresence with a heartbeat of the test's, so
// that a dead node's entries vanish within the test.
var NewKVPresenceBeating = newKVPresence

// TokensSize reports how many tokens t's memory store keeps, for tests
// that check it does not grow with re-logins.
func TokensSize(t *Tokens) int {
	return t.cfg.Store.(*memoryTokenStore).size()
}
