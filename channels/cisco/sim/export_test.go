package sim

import "github.com/ctibus/ctibus/channels/cisco"

// PutState moves a signed-in agent straight into state, as the contact
// center does when calls arrive, so that tests can start the state machine
// from states an agent cannot request. LOGOUT also frees the extension.
func PutState(s *Simulator, loginID string, state cisco.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stateLocked(s.dir.byLoginID[loginID])
	st.state = state
	if state == cisco.StateLogout {
		s.signOutLocked(st, s.now())
	}
}

// DummyHash exposes the hash compared against for unknown users.
func DummyHash(d *Directory) []byte { return d.dummyHash }

// Every test of the package proves that saveLocked misses no change.
func init() { verifySaves = true }

// VerifySaves turns the check of every agent after each change on or off,
// and returns the setting before: benchmarks turn it off, to measure what
// a change costs without it.
func VerifySaves(on bool) (was bool) {
	was, verifySaves = verifySaves, on
	return was
}
