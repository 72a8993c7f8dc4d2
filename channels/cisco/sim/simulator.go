package sim

import (
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"

	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var _ cisco.Connector = (*Simulator)(nil)

// Timer is the part of *time.Timer that the simulator uses. It is an
// alias, not a type of its own, so that one AfterFunc (time.AfterFunc
// wrapped, fakeclock's in tests) serves every package that takes one.
type Timer = interface{ Stop() bool }

// Defaults of Config.
const (
	DefaultAnswerDelay = 2 * time.Second
	DefaultRingTimeout = 20 * time.Second
)

// Config holds the tunables of a Simulator. The zero value is ready
// to use.
type Config struct {
	// Now returns the current time; nil means time.Now. Tests inject a fake
	// clock to control stateChangeTime and agentTime.
	Now func() time.Time
	// AfterFunc starts the simulator's timers (far ends answering, rings
	// timing out, wrap-up); nil means time.AfterFunc. Tests fire them by hand.
	AfterFunc func(d time.Duration, f func()) Timer
	// AnswerDelay is how long a number outside rings before it answers.
	// Default 2 s.
	AnswerDelay time.Duration
	// RingTimeout is how long a phone rings unanswered before the ringing
	// stops. Default 20 s.
	RingTimeout time.Duration
	// OnAgentChange, if set, is called with an agent's AgentRecord whenever
	// one of its fields changes, sign-in included, before the change is
	// released to other callers: it runs with the simulator's mutex held, so
	// it must not call the simulator. A store that persists the record there
	// makes every reply mean the change is durable.
	OnAgentChange func(AgentRecord)
	// OnCallChange, if set, is called as OnAgentChange is with a call's
	// CallRecord whenever the call changes, and with a gone record once it
	// has ended and is forgotten.
	OnCallChange func(CallRecord)
	// LogoutOnDisconnect is CCE's "logout on agent disconnect" setting:
	// when a desktop is gone (Disconnect), sign the agent out rather than
	// make it NOT_READY, CCE's default.
	LogoutOnDisconnect bool
}

// AgentRecord is the part of an agent's state that outlives the process
// serving it: what a cluster stores so that another node can take over.
type AgentRecord struct {
	LoginID         string      `json:"loginId"`
	State           cisco.State `json:"state"`
	Extension       string      `json:"extension,omitempty"` // "" while signed out
	ReasonCodeID    string      `json:"reasonCodeId"`        // "-1" for none
	StateChangeTime time.Time   `json:"stateChangeTime"`
	MediaChangeTime time.Time   `json:"mediaChangeTime"`
	// PendingState and PendingReasonCodeID are the state the agent asked for
	// during its call, and its reason code; "" when none.
	PendingState        cisco.State `json:"pendingState,omitempty"`
	PendingReasonCodeID string      `json:"pendingReasonCodeId,omitempty"`
	// Call is the agent's time on a call, from the first ring to the end
	// of wrap-up; zero when the agent is free.
	Call SessionRecord `json:"call,omitzero"`
}

// Simulator is an embedded Cisco Finesse (CCE) that signs the agents of a
// Directory in and out and runs their voice state machine in memory. It
// follows the rules of Finesse's agent API: sign-in lands in NOT_READY, a
// sign-in while signed in keeps the state, an agent may go READY only from
// NOT_READY or wrap-up and sign out only from NOT_READY, and NOT_READY and
// LOGOUT need a reason code when the agent's team has codes in that
// category.
//
// It also places and rings calls (calls.go) and serves supervisors
// (supervisor.go), with the agent's state following its calls as Finesse's
// CCE state table says, and reports every change after sign-in to its
// subscribers (Subscribe).
//
// A Simulator is safe for concurrent use. Every method takes one mutex for
// its whole read or update, so each call sees and leaves a consistent state;
// password checks run before the mutex is taken, so a slow bcrypt comparison
// never holds up other agents. It starts no goroutines of its own: its
// timers run through Config.AfterFunc. Values it returns are
// copies: changing them does not change the simulator.
type Simulator struct {
	dir          *Directory // immutable
	now          func() time.Time
	afterFunc    func(d time.Duration, f func()) Timer
	answerDelay  time.Duration
	ringTimeout  time.Duration
	onChange     func(AgentRecord) // nil: nobody stores agents; set once, before use
	onCallChange func(CallRecord)  // nil: nobody stores calls; set once, before use
	logoutOnDisc bool              // Disconnect signs out rather than NOT_READY

	mu         sync.Mutex             // guards the fields below
	agents     map[string]*agentState // by loginId; created on first use, so a missing agent is signed out
	extensions map[string]string      // extension → loginId of the signed-in agent holding it
	dialogs    map[string]*dialog     // calls by id, until nobody is on them or wrapping them up
	lastDialog int64                  // the id of the last dialog created
	savedCalls map[string]CallRecord  // by id: the record last handed to OnCallChange, or restored
	subs       Subscribers            //
	cur        origin                 // who caused the changes being made now
	tick       int                    // counts locked operations, to tell what changed in this one
	// touched lists the agents the current locked operation may have
	// changed (touchLocked): the only ones saveLocked compares.
	touched []string
}

// agentState is what changes about an agent. An agent without one has never
// signed in: LOGOUT, no reason code, no stateChangeTime.
type agentState struct {
	state           cisco.State
	extension       string
	reasonCodeID    string // "-1" for none
	stateChangeTime time.Time
	// mediaChangeTime is when the chat and email media last changed state:
	// they follow sign-in and sign-out only.
	mediaChangeTime time.Time
	// call is the agent's time on a call, from the first ring to the end of
	// wrap-up; nil when the agent is free.
	call *callSession
	// saved is the record last handed to OnAgentChange, or restored: a
	// change is what differs from it.
	saved AgentRecord
	// shown is the state last notified (or signed in): a notification
	// names the fields that differ from it.
	shown shown
	// touched reports that the agent is in Simulator.touched.
	touched bool
}

// record returns the agent's AgentRecord.
func (st *agentState) record(loginID string) AgentRecord {
	r := AgentRecord{
		LoginID:         loginID,
		State:           st.state,
		Extension:       st.extension,
		ReasonCodeID:    st.reasonCodeID,
		StateChangeTime: st.stateChangeTime,
		MediaChangeTime: st.mediaChangeTime,
	}
	if st.call != nil {
		r.PendingState, r.PendingReasonCodeID = st.call.pending, st.call.pendingCode
		r.Call = st.call.record()
	}
	return r
}

// touchLocked counts the agent loginID, whose state is st, among those the
// current operation may change, so that saveLocked compares its record.
// Every path that reaches an agent's state to change it passes here:
// stateLocked, agentLocked, and the timers that kept st from an earlier
// operation.
func (s *Simulator) touchLocked(loginID string, st *agentState) {
	if !st.touched {
		st.touched = true
		s.touched = append(s.touched, loginID)
	}
}

// agentLocked returns the state of the agent loginID, if it has one, and
// touches it (touchLocked).
func (s *Simulator) agentLocked(loginID string) (*agentState, bool) {
	st, ok := s.agents[loginID]
	if ok {
		s.touchLocked(loginID, st)
	}
	return st, ok
}

// verifySaves makes saveLocked also compare every agent it was not told
// of, and panic if one changed: the tests set it, to prove that no change
// escapes touchLocked.
var verifySaves bool

// saveLocked hands OnAgentChange the record of every agent that changed
// since it was last saved. It compares only the agents the operation
// touched, so that a change costs the same whatever the number of agents.
// An agent touched twice (SignInAs replaces its state whole) is compared
// twice, and handed over once.
func (s *Simulator) saveLocked() {
	for _, id := range s.touched {
		st, ok := s.agents[id]
		if !ok {
			continue // gone with a Restore
		}
		st.touched = false
		if s.onChange == nil && !verifySaves {
			continue // a lone simulator: nobody stores the records
		}
		if r := st.record(id); r != st.saved {
			st.saved = r
			if s.onChange != nil {
				s.onChange(r) // lock order: connector (2), the store's own lock after it; see docs/locking.md
			}
		}
	}
	s.touched = s.touched[:0]
	if verifySaves {
		for id, st := range s.agents {
			if r := st.record(id); r != st.saved {
				panic(fmt.Sprintf("sim: agent %s changed untouched: saved %+v, now %+v", id, st.saved, r))
			}
		}
	}
	s.saveCallsLocked()
}

// noReasonCode is Finesse's reasonCodeId when a state has no reason code.
const noReasonCode = "-1"

// New returns a Simulator serving dir, with every agent signed out.
func New(dir *Directory, cfg Config) *Simulator {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	after := cfg.AfterFunc
	if after == nil {
		after = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	if cfg.AnswerDelay <= 0 {
		cfg.AnswerDelay = DefaultAnswerDelay
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = DefaultRingTimeout
	}
	return &Simulator{
		dir:          dir,
		now:          now,
		afterFunc:    after,
		answerDelay:  cfg.AnswerDelay,
		ringTimeout:  cfg.RingTimeout,
		onChange:     cfg.OnAgentChange,
		onCallChange: cfg.OnCallChange,
		logoutOnDisc: cfg.LogoutOnDisconnect,
		agents:       map[string]*agentState{},
		extensions:   map[string]string{},
		dialogs:      map[string]*dialog{},
		lastDialog:   firstDialogID,
		savedCalls:   map[string]CallRecord{},
	}
}

// SignIn authenticates username (a loginId, or a loginName matched without
// regard to case) with password and signs the agent in on extension, in
// NOT_READY with reasonCodeId -1. If the agent is already signed in on that
// extension, it succeeds with Relogin set and changes nothing. It is
// Authenticate followed by SignInAs.
//
// An unknown username and a wrong password fail alike, with
// ErrAuthorization, after the same bcrypt work. SignIn does not count
// failures: locking an account out after repeated failures is the caller's
// job.
func (s *Simulator) SignIn(ctx context.Context, username, password, extension string) (cisco.SignedIn, error) {
	if err := ctx.Err(); err != nil {
		return cisco.SignedIn{}, err
	}
	loginID, err := s.Authenticate(username, password)
	if err != nil {
		return cisco.SignedIn{}, err
	}
	return s.SignInAs(ctx, loginID, extension)
}

// Authenticate checks username (a loginId, or a loginName matched without
// regard to case) and password against the directory and returns the
// agent's loginId. An unknown username and a wrong password fail alike, with
// ErrAuthorization, after the same bcrypt work. It takes no lock and changes
// nothing, so a cluster checks passwords on the node that received them.
func (s *Simulator) Authenticate(username, password string) (loginID string, err error) {
	a := s.dir.lookup(username)
	if a == nil {
		// Spend the time a real comparison would, so that response time does
		// not reveal which usernames exist.
		_ = bcrypt.CompareHashAndPassword(s.dir.dummyHash, []byte(password))
		return "", errAuthorization()
	}
	if bcrypt.CompareHashAndPassword(a.hash, []byte(password)) != nil {
		return "", errAuthorization()
	}
	return a.loginID, nil
}

// Resolve returns the loginId of the agent username names (a loginId, or a
// loginName matched without regard to case), as SignIn and Authenticate
// find it, and false if it names no agent. It takes no lock.
func (s *Simulator) Resolve(ctx context.Context, username string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	a := s.dir.lookup(username)
	if a == nil {
		return "", false, nil
	}
	return a.loginID, true, nil
}

// SignInAs signs in the agent loginID, already authenticated, on extension:
// SignIn without the password check. The caller vouches for the agent.
func (s *Simulator) SignInAs(ctx context.Context, loginID, extension string) (cisco.SignedIn, error) {
	if err := ctx.Err(); err != nil {
		return cisco.SignedIn{}, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return cisco.SignedIn{}, errNotFound(loginID)
	}
	if !validExtension(extension) {
		return cisco.SignedIn{}, &cisco.Error{
			Type:    cisco.ErrorTypeInvalidDevice,
			Message: cisco.ErrorMessageInvalidDevice,
			Text:    "The extension must be 3 to 15 digits; check it and sign in again.",
		}
	}
	if !s.dir.isDevice(extension) {
		return cisco.SignedIn{}, &cisco.Error{
			Type:    cisco.ErrorTypeInvalidDevice,
			Message: cisco.ErrorMessageInvalidDevice,
			Text: fmt.Sprintf("Extension %s is not a phone of the contact center%s; sign in on your own phone's extension.",
				extension, deviceHint(s.dir.Devices())),
		}
	}

	defer s.lock(ctx, a.loginID)()
	now := s.now()
	if holder, ok := s.extensions[extension]; ok && holder != a.loginID {
		return cisco.SignedIn{}, &cisco.Error{
			Type:    cisco.ErrorTypeDeviceBusy,
			Message: cisco.ErrorMessageDeviceBusy,
			Text:    fmt.Sprintf("Extension %s is in use by another agent; sign in on another extension.", extension),
		}
	}
	st := s.stateLocked(a)
	if st.state != cisco.StateLogout {
		if st.extension != extension {
			return cisco.SignedIn{}, &cisco.Error{
				Type:    cisco.ErrorTypeInvalidDevice,
				Message: cisco.ErrorMessageInvalidDevice,
				Text: fmt.Sprintf("You are already signed in on extension %s; sign out first to use extension %s.",
					st.extension, extension),
			}
		}
		// Finesse's forced sign-in: same credentials, same device, state kept.
		return cisco.SignedIn{User: s.userLocked(a, st, now), Relogin: true, Changed: []string{}}, nil
	}
	was := st.shown
	*st = agentState{
		state:           cisco.StateNotReady,
		extension:       extension,
		reasonCodeID:    noReasonCode,
		stateChangeTime: now,
		mediaChangeTime: now,
	}
	st.shown = shownOf(st)
	s.extensions[extension] = a.loginID
	return cisco.SignedIn{User: s.userLocked(a, st, now), Changed: changes(was, st.shown)}, nil
}

// deviceHint names the devices in an error, when they are few enough to read.
func deviceHint(devices []string) string {
	if len(devices) > 4 {
		return ""
	}
	return " (its phones: " + strings.Join(devices, ", ") + ")"
}

// validExtension reports whether ext is 3 to 15 ASCII digits: CCE signs
// agents in on a dialable extension, never an E.164 number.
func validExtension(ext string) bool {
	return len(ext) >= 3 && len(ext) <= 15 && isDigits(ext)
}

// User returns the agent's User object, with agentTime computed now.
// loginID may also be the agent's loginName, as Finesse on CCE allows.
func (s *Simulator) User(ctx context.Context, loginID string) (cisco.User, error) {
	if err := ctx.Err(); err != nil {
		return cisco.User{}, err
	}
	a := s.dir.lookup(loginID)
	if a == nil {
		return cisco.User{}, errNotFound(loginID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked(a, s.stateLocked(a), s.now()), nil
}

// SetState changes the agent's state as the agent would: READY, NOT_READY
// with a reason code, or LOGOUT with a reason code. The transitions allowed
// are those of Finesse on CCE:
//
//	to READY      from NOT_READY, WORK, WORK_READY, RESERVED_OUTBOUND
//	to NOT_READY  from READY, NOT_READY (a new reason), WORK, WORK_READY, RESERVED_OUTBOUND
//	to LOGOUT     from NOT_READY only
//
// A reason code is required for NOT_READY and LOGOUT when the agent's team
// has codes in that category, and must be one of them; when it has none,
// reasonCodeID may be "" or "-1". reasonCodeID is ignored for READY. LOGOUT
// frees the extension.
//
// During a call READY and NOT_READY become the agent's pendingState, which
// applies when the call ends; LOGOUT is refused during a call. In
// wrap-up (WORK, WORK_READY) READY and NOT_READY end the wrap-up.
func (s *Simulator) SetState(ctx context.Context, loginID string, state cisco.State, reasonCodeID string) (cisco.User, error) {
	if err := ctx.Err(); err != nil {
		return cisco.User{}, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return cisco.User{}, errNotFound(loginID)
	}
	if !state.Known() {
		return cisco.User{}, &cisco.Error{
			Type:    cisco.ErrorTypeInvalidInput,
			Message: cisco.ErrorMessageInvalidStateInput,
			Text:    fmt.Sprintf("%q is not an agent state; an agent can set READY, NOT_READY or LOGOUT.", clip.Short(string(state))),
		}
	}

	defer s.lock(ctx, loginID)()
	st := s.stateLocked(a)
	if st.state == cisco.StateLogout {
		return cisco.User{}, &cisco.Error{
			Type:    cisco.ErrorTypeInvalidState,
			Message: cisco.ErrorMessageInvalidState,
			Text:    "The agent is signed out; sign in before changing state.",
		}
	}
	if cs := st.call; cs != nil && !cs.wrapping() && cs.dialing == nil {
		return s.pendLocked(a, st, state, reasonCodeID)
	}
	if err := checkTransition(st.state, state); err != nil {
		return cisco.User{}, err
	}
	if state == cisco.StateReady {
		reasonCodeID = noReasonCode
	} else {
		id, err := s.dir.checkReasonCode(a, cisco.Category(state), reasonCodeID)
		if err != nil {
			return cisco.User{}, err
		}
		reasonCodeID = id
	}
	now := s.now()
	if cs := st.call; cs != nil && cs.dialing == nil && cs.needsData && cs.wrapUp.wrapUpReason == "" {
		return cisco.User{}, errInvalidState("Your wrap-up needs a wrap-up reason: send WrapUpCall with one, then leave wrap-up.")
	}
	if st.call != nil && !s.leaveReservationLocked(st, now) {
		s.endWrapUpLocked(a, st, now)
	}
	st.state, st.reasonCodeID, st.stateChangeTime = state, reasonCodeID, now
	if state == cisco.StateLogout {
		s.signOutLocked(st, now)
	}
	s.emitUserLocked(a, st, now)
	return s.userLocked(a, st, now), nil
}

// pendLocked records READY or NOT_READY, asked for during a call, as the
// agent's pendingState.
func (s *Simulator) pendLocked(a *dirAgent, st *agentState, state cisco.State, reasonCodeID string) (cisco.User, error) {
	if st.call.pending == cisco.StateLogout {
		return cisco.User{}, errInvalidState("You are signed out when this call ends; finish the call, then sign in again.")
	}
	switch state {
	case cisco.StateLogout:
		return cisco.User{}, errInvalidState("You are on a call; drop it, go NOT_READY, then sign out.")
	case cisco.StateReady:
		reasonCodeID = noReasonCode
	case cisco.StateNotReady:
		id, err := s.dir.checkReasonCode(a, cisco.CategoryNotReady, reasonCodeID)
		if err != nil {
			return cisco.User{}, err
		}
		reasonCodeID = id
	default:
		return cisco.User{}, checkTransition(st.state, state)
	}
	now := s.now()
	st.call.pending, st.call.pendingCode = state, reasonCodeID
	s.emitUserLocked(a, st, now)
	return s.userLocked(a, st, now), nil
}

// agentTransitions lists, for each state an agent may request, the states
// the agent may request it from (Finesse developer guide, CCE state table).
var agentTransitions = map[cisco.State][]cisco.State{
	cisco.StateReady:    {cisco.StateNotReady, cisco.StateWork, cisco.StateWorkReady, cisco.StateReservedOutbound},
	cisco.StateNotReady: {cisco.StateReady, cisco.StateNotReady, cisco.StateWork, cisco.StateWorkReady, cisco.StateReservedOutbound},
	cisco.StateLogout:   {cisco.StateNotReady},
}

func checkTransition(from, to cisco.State) *cisco.Error {
	allowed, settable := agentTransitions[to]
	switch {
	case !settable:
		return &cisco.Error{
			Type:    cisco.ErrorTypeInvalidState,
			Message: cisco.ErrorMessageInvalidState,
			Text:    fmt.Sprintf("%s is set by the contact center, not by the agent; an agent can set READY, NOT_READY or LOGOUT.", to),
		}
	case slices.Contains(allowed, from):
		return nil
	case to == cisco.StateLogout:
		return &cisco.Error{
			Type:    cisco.ErrorTypeInvalidState,
			Message: cisco.ErrorMessageInvalidState,
			Text:    fmt.Sprintf("An agent cannot sign out from %s; go NOT_READY first.", from),
		}
	}
	return &cisco.Error{
		Type:    cisco.ErrorTypeInvalidState,
		Message: cisco.ErrorMessageInvalidState,
		Text:    fmt.Sprintf("An agent cannot go from %s to %s.", from, to),
	}
}

// ForceLogout signs the agent out from any state, as the contact center
// does when a supervisor or the system signs an agent out. reasonCodeID is
// the code reported: a system code, which ReasonCodes never lists, or a
// LOGOUT code. A CTI sign-out never hangs up the phone: an agent on a call
// keeps it, with LOGOUT as its pendingState, and is signed out (without
// wrap-up) when its last call ends. An agent in wrap-up leaves it. The
// extension is freed with the sign-out.
func (s *Simulator) ForceLogout(ctx context.Context, loginID, reasonCodeID string) (cisco.User, error) {
	if err := ctx.Err(); err != nil {
		return cisco.User{}, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return cisco.User{}, errNotFound(loginID)
	}
	code, err := strconv.Atoi(reasonCodeID)
	if err != nil || !isDigits(reasonCodeID) || code < 1 || code > 65535 {
		return cisco.User{}, &cisco.Error{
			Type:    cisco.ErrorTypeInvalidInput,
			Message: cisco.ErrorMessageInvalidReasonCode,
			Text:    fmt.Sprintf("Reason code %q is not valid; a forced logout needs a reason code from 1 to 65535, such as 255.", clip.Short(reasonCodeID)),
		}
	}

	defer s.lock(ctx, "")()
	st := s.stateLocked(a)
	if st.state == cisco.StateLogout {
		return cisco.User{}, &cisco.Error{
			Type:    cisco.ErrorTypeInvalidState,
			Message: cisco.ErrorMessageInvalidState,
			Text:    "The agent is already signed out.",
		}
	}
	now := s.now()
	s.forceLogoutLocked(a, st, strconv.Itoa(code), now)
	return s.userLocked(a, st, now), nil
}

// disconnectReason is the system reason code of Finesse's forced logout
// request when a desktop is gone.
const disconnectReason = "255"

// Disconnect applies what the contact center does when the agent's desktop
// is gone for good: Finesse sends a forced logout with reason code 255, and
// CCE, by its "logout on agent disconnect" setting
// (Config.LogoutOnDisconnect), signs the agent out as ForceLogout
// does, or by default makes it NOT_READY with code 255. An agent on a call
// keeps it either way, with the state as its pendingState; one already
// NOT_READY with 255 is left as it is.
func (s *Simulator) Disconnect(ctx context.Context, loginID string) (cisco.User, error) {
	if err := ctx.Err(); err != nil {
		return cisco.User{}, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return cisco.User{}, errNotFound(loginID)
	}
	defer s.lock(ctx, "")()
	st := s.stateLocked(a)
	if st.state == cisco.StateLogout {
		return cisco.User{}, errInvalidState("The agent is already signed out.")
	}
	now := s.now()
	s.leaveReservationLocked(st, now) // a campaign call still dialing never reached the agent
	switch cs := st.call; {
	case s.logoutOnDisc:
		s.forceLogoutLocked(a, st, disconnectReason, now)
	case cs != nil && !cs.wrapping():
		// A sign-out already pending stands.
		if cs.pending != cisco.StateLogout && (cs.pending != cisco.StateNotReady || cs.pendingCode != disconnectReason) {
			cs.pending, cs.pendingCode = cisco.StateNotReady, disconnectReason
			s.emitUserLocked(a, st, now)
		}
	default:
		if cs != nil {
			s.endWrapUpLocked(a, st, now)
		}
		s.setStateLocked(a, st, cisco.StateNotReady, disconnectReason, now)
	}
	return s.userLocked(a, st, now), nil
}

// forceLogoutLocked signs the agent out with reason, or, while it is on a
// call, makes LOGOUT its pendingState: the call goes on.
func (s *Simulator) forceLogoutLocked(a *dirAgent, st *agentState, reason string, now time.Time) {
	s.leaveReservationLocked(st, now) // a campaign call still dialing never reached the agent
	if cs := st.call; cs != nil && !cs.wrapping() {
		cs.pending, cs.pendingCode = cisco.StateLogout, reason
		s.emitUserLocked(a, st, now)
		return
	}
	if st.call != nil {
		s.endWrapUpLocked(a, st, now)
	}
	st.state, st.reasonCodeID, st.stateChangeTime = cisco.StateLogout, reason, now
	s.signOutLocked(st, now)
	s.emitUserLocked(a, st, now)
}

// signOutLocked frees the agent's extension and signs the other media out.
func (s *Simulator) signOutLocked(st *agentState, now time.Time) {
	delete(s.extensions, st.extension)
	st.extension = ""
	st.mediaChangeTime = now
}

// ReasonCodes returns the reason codes of category that the agent's team
// sees, in directory order. System codes are never listed.
func (s *Simulator) ReasonCodes(ctx context.Context, loginID string, category cisco.Category) ([]cisco.ReasonCode, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return nil, errNotFound(loginID)
	}
	if !category.Known() {
		return nil, &cisco.Error{
			Type:    cisco.ErrorTypeInvalidInput,
			Message: cisco.ErrorMessageInvalidCategory,
			Text:    fmt.Sprintf("%q is not a reason code category; use NOT_READY or LOGOUT.", clip.Short(string(category))),
		}
	}
	return s.dir.reasonCodesFor(a, category), nil
}

// WrapUpReasons returns the wrap-up reasons that the agent's team sees.
func (s *Simulator) WrapUpReasons(ctx context.Context, loginID string) ([]cisco.WrapUpReason, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return nil, errNotFound(loginID)
	}
	out := []cisco.WrapUpReason{}
	for _, w := range s.dir.wrapUpReasons {
		if visibleTo(w.forAll, w.teams, a.teamID) {
			out = append(out, cisco.WrapUpReason{
				URI:    "/finesse/api/User/" + a.loginID + "/WrapUpReason/" + w.id,
				ID:     w.id,
				Label:  w.label,
				ForAll: w.forAll,
			})
		}
	}
	return out, nil
}

// PhoneBooks returns the global phone books, then those of the agent's
// team, with their contacts.
func (s *Simulator) PhoneBooks(ctx context.Context, loginID string) ([]cisco.PhoneBook, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return nil, errNotFound(loginID)
	}
	out := []cisco.PhoneBook{}
	for _, pb := range s.dir.phoneBooks {
		if pb.Type == cisco.PhoneBookGlobal || slices.Contains(pb.teams, a.teamID) {
			book := pb.PhoneBook
			book.Contacts = slices.Clone(pb.Contacts)
			out = append(out, book)
		}
	}
	return out, nil
}

// The simulated cluster, named in the ctibus.local domain that no real
// network uses.
const (
	primaryHost          = "finesse-a.ctibus.local"
	secondaryHost        = "finesse-b.ctibus.local"
	ctiHeartbeatInterval = 2 // seconds
)

// SystemInfo returns the state of the simulated Finesse cluster, which is
// always in service.
func (s *Simulator) SystemInfo(ctx context.Context) (cisco.SystemInfo, error) {
	if err := ctx.Err(); err != nil {
		return cisco.SystemInfo{}, err
	}
	now := s.now()
	ms := now.UnixMilli()
	node := func(host string) cisco.Node {
		return cisco.Node{Host: host, HTTPSPort: 8445, XMPPPort: 5222, XMPPSecurePort: 5223}
	}
	return cisco.SystemInfo{
		URI:                    "/finesse/api/SystemInfo",
		CurrentTimestamp:       formatTime(now),
		DeploymentType:         "UCCE",
		LastCTIHeartbeatStatus: "Success",
		// The heartbeat that last succeeded, on the heartbeat's 2-second beat.
		LastSuccessCTIHeartbeatTime: ms - ms%(ctiHeartbeatInterval*1000),
		CTIVersion:                  "23",
		CTIHeartbeatInterval:        ctiHeartbeatInterval,
		PeripheralID:                "5000",
		PrimaryNode:                 node(primaryHost),
		SecondaryNode:               node(secondaryHost),
		Status:                      "IN_SERVICE",
		SystemAuthMode:              "NON_SSO",
		XMPPDomain:                  primaryHost,
		XMPPPubSubDomain:            "pubsub." + primaryHost,
	}, nil
}

// mrds are the media routing domains of the simulated contact center, with
// the settings an agent's Media object has in each.
var mrds = []struct {
	cisco.MRD
	maxDialogLimit int
	interruptible  bool
}{
	{cisco.MRD{ID: "1", Name: "Cisco_Voice", Description: "Cisco Voice", MediaClass: "voice"}, 1, false},
	{cisco.MRD{ID: "5001", Name: "Cisco_Chat_MRD", Description: "Chat MRD", MediaClass: "chat"}, 5, true},
	{cisco.MRD{ID: "5002", Name: "Cisco_Email_MRD", Description: "Email MRD", MediaClass: "email"}, 3, true},
}

// MediaRoutingDomains returns voice (1), chat (5001) and email (5002).
func (s *Simulator) MediaRoutingDomains(ctx context.Context) ([]cisco.MRD, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]cisco.MRD, len(mrds))
	for i, m := range mrds {
		out[i] = m.MRD
	}
	return out, nil
}

// Media returns the agent's Media object in each media routing domain. The
// voice one mirrors the agent's state. The chat and email ones are
// NOT_READY and routable while the agent is signed in, as after a Finesse
// media sign-in, and LOGOUT otherwise.
func (s *Simulator) Media(ctx context.Context, loginID string) ([]cisco.Media, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return nil, errNotFound(loginID)
	}
	s.mu.Lock()
	st := *s.stateLocked(a)
	s.mu.Unlock()

	signedIn := st.state != cisco.StateLogout
	out := make([]cisco.Media, len(mrds))
	for i, m := range mrds {
		md := cisco.Media{
			URI:                "/finesse/api/User/" + a.loginID + "/Media/" + m.ID,
			ID:                 m.ID,
			Name:               m.Name,
			Description:        m.Description,
			State:              cisco.StateLogout,
			StateChangeTime:    formatTime(st.mediaChangeTime),
			ReasonCodeID:       noReasonCode,
			Routable:           signedIn,
			MaxDialogLimit:     m.maxDialogLimit,
			InterruptAction:    "ACCEPT",
			DialogLogoutAction: "CLOSE",
			Interruptible:      m.interruptible,
		}
		switch {
		case m.MediaClass == "voice":
			md.State, md.StateChangeTime, md.ReasonCodeID = st.state, formatTime(st.stateChangeTime), st.reasonCodeID
		case signedIn:
			md.State = cisco.StateNotReady
		}
		out[i] = md
	}
	return out, nil
}

// stateLocked returns the agent's state, creating the signed-out state of
// an agent not seen before.
func (s *Simulator) stateLocked(a *dirAgent) *agentState {
	st, ok := s.agents[a.loginID]
	if !ok {
		st = &agentState{state: cisco.StateLogout, reasonCodeID: noReasonCode}
		st.saved = st.record(a.loginID) // an agent never seen is no change
		st.shown = shownOf(st)
		s.agents[a.loginID] = st
	}
	s.touchLocked(a.loginID, st)
	return st
}

// userLocked renders the agent's User object at time now.
func (s *Simulator) userLocked(a *dirAgent, st *agentState, now time.Time) cisco.User {
	u := cisco.User{
		URI:             "/finesse/api/User/" + a.loginID,
		LoginID:         a.loginID,
		LoginName:       a.loginName,
		FirstName:       a.firstName,
		LastName:        a.lastName,
		Roles:           []string{"Agent"},
		IsSupervisor:    a.supervisor,
		TeamID:          a.teamID,
		TeamName:        a.teamName,
		Teams:           make([]cisco.Team, len(a.supervised)), // [] rather than null for an agent
		Extension:       st.extension,
		State:           st.state,
		StateChangeTime: formatTime(st.stateChangeTime),
		ReasonCodeID:    st.reasonCodeID,
		PendingState:    pendingState(st),
		Settings:        a.settings,
		WrapUpTimer:     a.wrapUpTimer,
		MediaType:       "1",
		Dialogs:         "/finesse/api/User/" + a.loginID + "/Dialogs",
		AgentTime:       "00:00",
	}
	copy(u.Teams, a.supervised)
	if a.supervisor {
		u.Roles = append(u.Roles, "Supervisor")
	}
	if !st.stateChangeTime.IsZero() {
		u.AgentTime = formatAgentTime(now.Sub(st.stateChangeTime))
	}
	if st.state == cisco.StateNotReady || st.state == cisco.StateLogout {
		if rc, ok := s.dir.reasonCode(a, cisco.Category(st.state), st.reasonCodeID); ok {
			u.ReasonCode = &rc
		}
	}
	return u
}

func errNotFound(loginID string) *cisco.Error {
	return &cisco.Error{
		Type:    cisco.ErrorTypeNotFound,
		Message: cisco.ErrorMessageUnknownUser,
		Text:    fmt.Sprintf("There is no user %q; check the login ID.", clip.Short(loginID)),
	}
}

// lookup finds an agent by loginId, or else by loginName without regard to
// case.
func (d *Directory) lookup(username string) *dirAgent {
	if a, ok := d.byLoginID[username]; ok {
		return a
	}
	return d.byLoginName[nameKey(username)]
}

// reasonCodesFor returns the codes of category visible to the agent.
func (d *Directory) reasonCodesFor(a *dirAgent, category cisco.Category) []cisco.ReasonCode {
	out := []cisco.ReasonCode{}
	for _, rc := range d.reasonCodes {
		if rc.Category == category && visibleTo(rc.ForAll, rc.teams, a.teamID) {
			out = append(out, rc.ReasonCode)
		}
	}
	return out
}

// reasonCode finds the code with id in category, if the agent sees it.
func (d *Directory) reasonCode(a *dirAgent, category cisco.Category, id string) (cisco.ReasonCode, bool) {
	for _, rc := range d.reasonCodes {
		if rc.ID == id && rc.Category == category && visibleTo(rc.ForAll, rc.teams, a.teamID) {
			return rc.ReasonCode, true
		}
	}
	return cisco.ReasonCode{}, false
}

// checkReasonCode validates the reason code an agent gave for NOT_READY or
// LOGOUT and returns the reasonCodeId to record. As in Finesse, a code is
// required only when the agent's team has codes in the category.
func (d *Directory) checkReasonCode(a *dirAgent, category cisco.Category, id string) (string, *cisco.Error) {
	if _, ok := d.reasonCode(a, category, id); ok {
		return id, nil
	}
	if (id == "" || id == noReasonCode) && len(d.reasonCodesFor(a, category)) == 0 {
		return noReasonCode, nil
	}
	if id == "" {
		return "", &cisco.Error{
			Type:    cisco.ErrorTypeInvalidInput,
			Message: cisco.ErrorMessageInvalidReasonCode,
			Text:    fmt.Sprintf("A reason code is required for %s; choose one of the agent's %s reason codes.", category, category),
		}
	}
	return "", &cisco.Error{
		Type:    cisco.ErrorTypeInvalidInput,
		Message: cisco.ErrorMessageInvalidReasonCode,
		Text:    fmt.Sprintf("Reason code %q is not one of the agent's %s reason codes; choose one of those.", clip.Short(id), category),
	}
}

// TeamAgents returns the loginIds of teamID's agents, in directory order.
func (s *Simulator) TeamAgents(ctx context.Context, teamID string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids := []string{}
	for _, a := range s.dir.agents {
		if a.teamID == teamID {
			ids = append(ids, a.loginID)
		}
	}
	return ids, nil
}

// Agent reports whether loginID is in the directory.
func (s *Simulator) Agent(ctx context.Context, loginID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	_, ok := s.dir.byLoginID[loginID]
	return ok, nil
}

// SignedInAgents returns the loginIds of the agents signed in, sorted.
func (s *Simulator) SignedInAgents(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := []string{}
	for id, st := range s.agents {
		if st.state != cisco.StateLogout {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Snapshot calls f with the mutex held, so that no change falls between
// what f is given and the notifications f itself may order after it: the
// User and dialogs of each agent of loginIDs (unknown ones skipped), and,
// with all, of every other signed-in agent on a call or in wrap-up. A
// cluster's leader uses it to start a node's stream of an agent's
// notifications where the agent's snapshot stands. f must not call the
// simulator.
func (s *Simulator) Snapshot(loginIDs []string, all bool, f func([]cisco.AgentSnapshot)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	snapshot := func(a *dirAgent) cisco.AgentSnapshot {
		snap := cisco.AgentSnapshot{User: s.userLocked(a, s.stateLocked(a), now)}
		for _, d := range s.dialogsOfLocked(a.loginID) {
			snap.Dialogs = append(snap.Dialogs, s.renderLocked(d, a.loginID))
		}
		return snap
	}
	var snaps []cisco.AgentSnapshot
	named := make(map[string]bool, len(loginIDs))
	for _, id := range loginIDs {
		if a := s.dir.byLoginID[id]; a != nil && !named[id] {
			named[id] = true
			snaps = append(snaps, snapshot(a))
		}
	}
	if all {
		for id, st := range s.agents {
			busy := st.call != nil || st.state == cisco.StateWork || st.state == cisco.StateWorkReady
			if a := s.dir.byLoginID[id]; a != nil && !named[id] && st.state != cisco.StateLogout && busy {
				snaps = append(snaps, snapshot(a))
			}
		}
	}
	f(snaps)
}

// pendingState is the state the agent asked for during its call, or "".
func pendingState(st *agentState) string {
	if st.call == nil {
		return ""
	}
	return string(st.call.pending)
}

// Restore replaces every agent's state with records, and the calls with
// calls, as a node taking over a cluster's contact center does: it drops
// every call (stopping its timers), signs every agent out, then applies
// records and calls, skipping agents the directory does not have. A call
// goes on where it was: its dialogs, participants, call variables,
// wrap-up reason, the agents' states and pending states, wrap-ups; its
// timers (rings, far ends answering, the dialer, wrap-up) start again from
// the takeover, and nothing is notified, since the apps have seen it all.
//
// An agent recorded in a call state (RESERVED, TALKING, HOLD, WORK,
// WORK_READY, ...) whose call is not among calls (a record from before
// calls were stored, or a change that the previous node did not finish
// storing) comes back NOT_READY with reasonCodeId -1, its pending state
// dropped (LOGOUT with its code, if a sign-out was pending), and its new
// User is notified; so does one whose call names an agent that is not on
// it any more. Restore(nil) leaves the simulator idle, with nothing
// running.
//
// The records restored count as saved: OnAgentChange and OnCallChange see
// only what Restore changed, so a store learns the states it rewrote and
// the calls it dropped.
func (s *Simulator) Restore(records []AgentRecord, calls ...CallRecord) {
	defer s.lock(context.Background(), "")()
	for _, d := range s.dialogs {
		for _, p := range d.parts {
			s.stopLocked(p)
		}
	}
	for _, st := range s.agents {
		if st.call != nil && st.call.wrapTimer != nil {
			st.call.wrapTimer.Stop()
			st.call.wrapGen++ // a timer already waiting for the mutex is void
		}
	}
	clear(s.agents)
	clear(s.extensions)
	clear(s.dialogs)
	clear(s.savedCalls)
	for _, c := range calls {
		s.savedCalls[c.ID] = c
		s.lastDialog = max(s.lastDialog, dialogNumber(c.ID))
	}
	dialogs := restoreCalls(calls)

	now := s.now()
	var signedOut []*dirAgent // by a sign-out pending at the end of a call
	for _, r := range records {
		a := s.dir.byLoginID[r.LoginID]
		if a == nil {
			continue
		}
		st := &agentState{
			state:           r.State,
			extension:       r.Extension,
			reasonCodeID:    r.ReasonCodeID,
			stateChangeTime: r.StateChangeTime,
			mediaChangeTime: r.MediaChangeTime,
		}
		st.saved = r
		st.shown = shown{state: r.State, reason: r.ReasonCodeID, pending: string(r.PendingState), ext: r.Extension}
		if r.Call.Origin != "" && r.State != cisco.StateLogout {
			st.call, _ = restoreSession(r.Call, r.PendingState, r.PendingReasonCodeID, dialogs)
		}
		if st.call == nil && r.PendingState == cisco.StateLogout && st.state != cisco.StateLogout {
			// Signed out at the end of a call that did not survive.
			st.state, st.reasonCodeID, st.stateChangeTime = cisco.StateLogout, r.PendingReasonCodeID, now
			st.extension, st.mediaChangeTime = "", now
			signedOut = append(signedOut, a)
		}
		s.agents[a.loginID] = st
		if st.state != cisco.StateLogout {
			s.extensions[st.extension] = a.loginID
		}
	}
	s.keepCallsLocked(dialogs)
	// Every agent is back before any is notified, so that the notices name
	// the signed-in supervisors.
	for _, a := range signedOut {
		s.emitUserLocked(a, s.agents[a.loginID], now)
	}
	for _, a := range s.dir.agents {
		st, ok := s.agents[a.loginID]
		if ok && st.call == nil && st.state != cisco.StateLogout && st.state != cisco.StateReady && st.state != cisco.StateNotReady {
			st.state, st.reasonCodeID, st.stateChangeTime = cisco.StateNotReady, noReasonCode, now
			s.emitUserLocked(a, st, now)
		}
	}
	s.restartTimersLocked()
	for id, st := range s.agents {
		s.touchLocked(id, st) // restored, and rewritten: compare them all
	}
}
