package session

// LockoutSize reports how many accounts and locks l keeps, for tests that
// check it forgets what is over.
func LockoutSize(l *Lockout) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accounts) + len(l.locks)
}
