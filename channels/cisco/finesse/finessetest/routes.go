package finessetest

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/ctibus/ctibus/channels/cisco"
)

// call is one authenticated request being served.
type call struct {
	r      *http.Request
	ctx    context.Context // carries the requestId header for the simulator (cisco.WithRequestID)
	caller string          // the loginId authenticated; "" for the administrator
	admin  bool
	body   requestBody // a PUT's or POST's body
	rid    string      // the requestId header
}

// reply is what a handler answers.
type reply struct {
	status int
	body   []byte // XML; the GET header is added
}

func ok(body []byte) reply { return reply{status: http.StatusOK, body: body} }

// accepted is Finesse's answer to a PUT or POST it took up: the outcome
// comes as a notification.
var accepted = reply{status: http.StatusAccepted}

func failure(status int, e apiError) reply { return reply{status: status, body: apiErrorsXML(e)} }

func missing(param string) reply {
	return failure(http.StatusBadRequest, apiError{Type: "Parameter Missing", Message: strings.ToUpper(param[:1]) + param[1:] + " Parameter missing", Data: param})
}

func invalidInput(param, message string) reply {
	return failure(http.StatusBadRequest, apiError{Type: cisco.ErrorTypeInvalidInput, Message: message, Data: param})
}

func notAllowed(id string) reply {
	return failure(http.StatusUnauthorized, apiError{
		Type: "Invalid Authorization User Specified", Data: id,
		Message: "The user specified in the authentication credentials and the uri don't match",
	})
}

type handler func(s *Site, c *call) reply

// routes returns the REST API the side serves.
func (s *Site) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(pattern string, h handler, anonymous bool) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, h, anonymous) })
	}
	handle("GET /finesse/api/SystemInfo", getSystemInfo, true)
	handle("GET /finesse/api/User/{id}", getUser, false)
	handle("PUT /finesse/api/User/{id}", putUser, false)
	handle("GET /finesse/api/User/{id}/ReasonCodes", getReasonCodes, false)
	handle("GET /finesse/api/User/{id}/WrapUpReasons", getWrapUpReasons, false)
	handle("GET /finesse/api/User/{id}/PhoneBooks", getPhoneBooks, false)
	handle("GET /finesse/api/User/{id}/Media", getMediaList, false)
	handle("GET /finesse/api/User/{id}/Media/{mrd}", getOneMedia, false)
	handle("GET /finesse/api/User/{id}/Dialogs", getDialogs, false)
	handle("POST /finesse/api/User/{id}/Dialogs", postDialog, false)
	handle("PUT /finesse/api/Dialog/{id}", putDialog, false)
	handle("GET /finesse/api/Team/{id}", getTeam, false)
	handle("GET /finesse/api/TeamResource/{team}/ReasonCodes", teamResource(getReasonCodes), false)
	handle("GET /finesse/api/TeamResource/{team}/WrapUpReasons", teamResource(getWrapUpReasons), false)
	handle("GET /finesse/api/TeamResource/{team}/PhoneBooks", teamResource(getPhoneBooks), false)
	handle("/", func(*Site, *call) reply {
		return failure(http.StatusNotFound, apiError{Type: "Not Found", Message: "Resource not found"})
	}, true)
	return mux
}

// serve runs the steps every request goes through, in Finesse's order: the
// side's delay, its status, the credentials; then the log, after the XMPP
// component has caught up with prosody; then the handler. A request counts
// as in flight (MaxConcurrent) from its arrival, its delay included.
func (s *Site) serve(w http.ResponseWriter, r *http.Request, h handler, anonymous bool) {
	entry := Entry{Side: s.domain, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, RequestID: r.Header.Get("requestId")}
	c := &call{r: r, rid: entry.RequestID}
	c.ctx = cisco.WithRequestID(r.Context(), c.rid)
	rep := s.prepare(c, &entry)
	defer s.inFlight(entry.Action)()
	if err := s.wait(r.Context()); err != nil {
		// The client gave up: abort rather than let net/http finish with
		// an empty 200, which a client cancelling at that moment may read.
		panic(http.ErrAbortHandler)
	}
	if rep.status == 0 {
		rep = s.admit(c, &entry, anonymous)
	}
	if rep.status == 0 {
		ctx, cancel := context.WithTimeout(r.Context(), syncWait)
		_ = s.xmpp.Sync(ctx, s.domain) // without it the log may show a presence late; the request is served anyway
		cancel()
		i := s.log.add(entry)
		rep = h(s, c)
		s.log.setStatus(i, rep.status)
	} else {
		s.log.setStatus(s.log.add(entry), rep.status)
	}

	w.Header().Set("Content-Type", "application/xml")
	if c.rid != "" {
		w.Header().Set("requestId", c.rid) // echoed in the headers too, as the Media APIs do
	}
	body := rep.body
	if r.Method == http.MethodGet && rep.status == http.StatusOK {
		body = append([]byte(xmlHeader), body...)
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)
}

// prepare reads a PUT's or POST's body, bounded, and names its action in
// the entry; a reply with a status refuses the request.
func (s *Site) prepare(c *call, entry *Entry) reply {
	if c.r.Method != http.MethodPut && c.r.Method != http.MethodPost {
		return reply{}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, c.r.Body, maxBody))
	if err != nil {
		return failure(http.StatusBadRequest, apiError{Type: "Bad Request", Message: "Request body too large or unreadable"})
	}
	if err := xml.Unmarshal(raw, &c.body); err != nil {
		return failure(http.StatusBadRequest, apiError{Type: "Bad Request", Message: "Malformed XML in request body"})
	}
	if c.body.State != nil {
		entry.Action = strings.TrimSpace(*c.body.State)
	} else if c.body.RequestedAction != nil {
		entry.Action = strings.TrimSpace(*c.body.RequestedAction)
	}
	return reply{}
}

// admit applies the side's status and the request's credentials; a reply
// with a status refuses the request.
func (s *Site) admit(c *call, entry *Entry, anonymous bool) reply {
	if anonymous {
		return reply{}
	}
	s.mu.Lock()
	status := s.status
	s.mu.Unlock()
	if status != InService {
		return failure(http.StatusServiceUnavailable, apiError{Type: "Service Unavailable", Message: "SERVER_OUT_OF_SERVICE"})
	}
	id, admin, e := s.authenticate(c.r)
	if e != nil {
		return failure(http.StatusUnauthorized, *e)
	}
	c.caller, c.admin, entry.User = id, admin, id
	return reply{}
}

// simFailure answers a simulator's error as Finesse does. A CTI error
// (ErrorMessage CF_...) passed Finesse's validation and failed at the CTI
// server: 202, then an apiErrors update on node. Any other is Finesse's own
// validation: a 4xx with an ApiErrors body.
func (s *Site) simFailure(c *call, err error, loginID, node string) reply {
	var e *cisco.Error
	if !errors.As(err, &e) {
		return failure(http.StatusInternalServerError, apiError{Type: "Internal Server Error", Message: "RUNTIME_EXCEPTION"})
	}
	if strings.HasPrefix(e.Message, "CF_") && c.r.Method != http.MethodGet {
		s.queue.add(s.errorPush(loginID, node, e, c.rid))
		return accepted
	}
	status := http.StatusBadRequest
	switch e.Type {
	case cisco.ErrorTypeAuthorization, cisco.ErrorTypeInvalidSupervisor:
		status = http.StatusUnauthorized
	case cisco.ErrorTypeNotFound, cisco.ErrorTypeDialogNotFound:
		status = http.StatusNotFound
	case cisco.ErrorTypeUnavailable:
		status = http.StatusServiceUnavailable
	}
	return failure(status, apiError{Type: e.Type, Message: e.Message, Data: e.ErrorData(), Text: e.Text})
}

func getSystemInfo(s *Site, c *call) reply {
	return ok(systemInfoXML(s.systemInfo(c.ctx)))
}

// target resolves the {id} of a User URI (a loginId, or a loginName) and
// checks that the caller may act on it: itself, the administrator for
// reads, or a supervisor of the agent's team for reads.
func (s *Site) target(c *call, read bool) (string, *reply) {
	id := c.r.PathValue("id")
	loginID, found, _ := s.sim.Resolve(c.ctx, id)
	if !found {
		r := failure(http.StatusNotFound, apiError{Type: cisco.ErrorTypeNotFound, Message: cisco.ErrorMessageUnknownUser, Data: id})
		return "", &r
	}
	if loginID == c.caller || read && (c.admin || s.supervises(c.ctx, c.caller, loginID)) {
		return loginID, nil
	}
	r := notAllowed(id)
	return "", &r
}

// supervises reports whether sup supervises the team of agent.
func (s *Site) supervises(ctx context.Context, sup, agent string) bool {
	if sup == "" {
		return false
	}
	su, err := s.sim.User(ctx, sup)
	if err != nil || !slices.Contains(su.Roles, "Supervisor") {
		return false
	}
	au, err := s.sim.User(ctx, agent)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(su.Teams, func(t cisco.Team) bool { return t.ID == au.TeamID })
}

// read serves a GET of a User or one of its lists: it resolves the User
// the caller may read, gets the object from the simulator and renders it.
func read[T any](get func(s *Site, c *call, loginID string) (T, error), render func(T) []byte) handler {
	return func(s *Site, c *call) reply {
		id, r := s.target(c, true)
		if r != nil {
			return *r
		}
		v, err := get(s, c, id)
		if err != nil {
			return s.simFailure(c, err, id, "")
		}
		return ok(render(v))
	}
}

var getUser = read(func(s *Site, c *call, id string) (cisco.User, error) { return s.sim.User(c.ctx, id) },
	func(u cisco.User) []byte { return userXML(u, "User") })

// putUser serves the User PUT: the agent's LOGIN, READY, NOT_READY and
// LOGOUT, or a supervisor's change of an agent's state.
func putUser(s *Site, c *call) reply {
	if c.body.XMLName.Local != "User" {
		return failure(http.StatusBadRequest, apiError{Type: "Bad Request", Message: "The body must be a User"})
	}
	if c.body.State == nil || strings.TrimSpace(*c.body.State) == "" {
		return missing("state")
	}
	state := strings.TrimSpace(*c.body.State)
	reason := ""
	if c.body.ReasonCodeID != nil {
		reason = strings.TrimSpace(*c.body.ReasonCodeID)
	}
	id := c.r.PathValue("id")
	loginID, found, _ := s.sim.Resolve(c.ctx, id)
	if !found {
		return failure(http.StatusNotFound, apiError{Type: cisco.ErrorTypeNotFound, Message: cisco.ErrorMessageUnknownUser, Data: id})
	}
	node := "/finesse/api/User/" + loginID
	if loginID != c.caller {
		if c.admin || state == "LOGIN" {
			return notAllowed(id)
		}
		if c.body.ReasonCodeID != nil && reason != "-1" {
			return invalidInput("reasonCodeId", "A supervisor cannot set a reason code")
		}
		if _, err := s.sim.SupervisorSetState(c.ctx, c.caller, loginID, cisco.State(state), ""); err != nil {
			return s.simFailure(c, err, loginID, node)
		}
		return accepted
	}
	if state == "LOGIN" {
		if c.body.Extension == nil || strings.TrimSpace(*c.body.Extension) == "" {
			return missing("extension")
		}
		in, err := s.sim.SignInAs(c.ctx, loginID, strings.TrimSpace(*c.body.Extension))
		if err != nil {
			return s.simFailure(c, err, loginID, node)
		}
		// The simulator notifies changes after sign-in only; Finesse
		// notifies the LOGIN's outcome (and a re-login's) itself.
		s.queue.add(s.userPushes(in.User, c.rid)...)
		return accepted
	}
	if _, err := s.sim.SetState(c.ctx, loginID, cisco.State(state), reason); err != nil {
		return s.simFailure(c, err, loginID, node)
	}
	return accepted
}

// getReasonCodes serves ReasonCodes?category=, whose category is required.
func getReasonCodes(s *Site, c *call) reply {
	category := cisco.Category(c.r.URL.Query().Get("category"))
	if category == "" {
		return missing("category")
	}
	return read(func(s *Site, c *call, id string) ([]cisco.ReasonCode, error) {
		return s.sim.ReasonCodes(c.ctx, id, category)
	},
		func(codes []cisco.ReasonCode) []byte { return reasonCodesXML(category, codes) })(s, c)
}

var getWrapUpReasons = read(func(s *Site, c *call, id string) ([]cisco.WrapUpReason, error) { return s.sim.WrapUpReasons(c.ctx, id) },
	wrapUpReasonsXML)

// getPhoneBooks answers 206 to a ranged read (Range: objects=1-6000), as
// TeamResource does.
func getPhoneBooks(s *Site, c *call) reply {
	rep := read(func(s *Site, c *call, id string) ([]cisco.PhoneBook, error) { return s.sim.PhoneBooks(c.ctx, id) },
		phoneBooksXML)(s, c)
	if rep.status == http.StatusOK && strings.HasPrefix(c.r.Header.Get("Range"), "objects=") {
		rep.status = http.StatusPartialContent
	}
	return rep
}

// media is an agent's Media with the MRDs they belong to.
type media struct {
	list []cisco.Media
	mrds []cisco.MRD
}

func getMedia(s *Site, c *call, id string) (media, error) {
	list, err := s.sim.Media(c.ctx, id)
	if err != nil {
		return media{}, err
	}
	mrds, err := s.sim.MediaRoutingDomains(c.ctx)
	return media{list, mrds}, err
}

var getMediaList = read(getMedia, func(m media) []byte { return mediaListXML(m.list, m.mrds) })

// getOneMedia serves Media/<mrdId>.
func getOneMedia(s *Site, c *call) reply {
	mrd := c.r.PathValue("mrd")
	rep := read(getMedia, func(m media) []byte {
		for _, md := range m.list {
			if md.ID == mrd {
				return marshal(mediaWire(md, mediaClass(m.mrds, mrd)))
			}
		}
		return nil
	})(s, c)
	if rep.status == http.StatusOK && rep.body == nil {
		return failure(http.StatusNotFound, apiError{Type: "Not Found", Message: "Invalid media routing domain", Data: mrd})
	}
	return rep
}

var getDialogs = read(func(s *Site, c *call, id string) ([]cisco.Dialog, error) { return s.sim.Dialogs(c.ctx, id) },
	func(ds []cisco.Dialog) []byte { return dialogsXML(ds, "Dialogs") })

// postDialog serves POST /User/<id>/Dialogs: MAKE_CALL, and a supervisor's
// SILENT_MONITOR and BARGE_CALL, whose toAddress is the agent's extension.
func postDialog(s *Site, c *call) reply {
	id, r := s.target(c, false)
	if r != nil {
		return *r
	}
	node := "/finesse/api/User/" + id + "/Dialogs"
	if r := checkDialogBody(c); r != nil {
		return *r
	}
	if c.body.ToAddress == "" {
		return missing("toAddress")
	}
	var err error
	switch action := strings.TrimSpace(*c.body.RequestedAction); action {
	case "MAKE_CALL":
		vars := make([]cisco.CallVariable, len(c.body.MediaProperties.CallVariables))
		for i, v := range c.body.MediaProperties.CallVariables {
			vars[i] = cisco.CallVariable(v)
		}
		if c.body.FromAddress != "" {
			if u, uerr := s.sim.User(c.ctx, id); uerr == nil && u.Extension != "" && u.Extension != c.body.FromAddress {
				return invalidInput("fromAddress", "Invalid fromAddress specified for dialog")
			}
		}
		_, err = s.sim.MakeCall(c.ctx, id, c.body.ToAddress, vars)
	case "SILENT_MONITOR":
		_, err = s.sim.SilentMonitor(c.ctx, id, c.body.FromAddress, s.agentOn(c.ctx, c.body.ToAddress), c.body.ToAddress)
	case "BARGE_CALL":
		if c.body.AssociatedDialog == "" {
			return missing("associatedDialogUri")
		}
		_, err = s.sim.Barge(c.ctx, id, c.body.FromAddress, s.agentOn(c.ctx, c.body.ToAddress), c.body.ToAddress, lastSegment(c.body.AssociatedDialog))
	default:
		return invalidInput("requestedAction", "Invalid requestedAction specified for dialog")
	}
	if err != nil {
		return s.simFailure(c, err, id, node)
	}
	return accepted
}

// checkDialogBody refuses a Dialog request whose body is no Dialog or
// names no requestedAction.
func checkDialogBody(c *call) *reply {
	if c.body.XMLName.Local != "Dialog" {
		r := failure(http.StatusBadRequest, apiError{Type: "Bad Request", Message: "The body must be a Dialog"})
		return &r
	}
	if c.body.RequestedAction == nil {
		r := missing("requestedAction")
		return &r
	}
	return nil
}

// agentOn returns the loginId of the agent signed in on ext, or "".
func (s *Site) agentOn(ctx context.Context, ext string) string {
	ids, _ := s.sim.SignedInAgents(ctx)
	for _, id := range ids {
		if u, err := s.sim.User(ctx, id); err == nil && u.Extension == ext {
			return id
		}
	}
	return ""
}

// putDialog serves PUT /Dialog/<id>: an action on the caller's participant,
// named by targetMediaAddress, or UPDATE_CALL_DATA with a wrap-up reason.
func putDialog(s *Site, c *call) reply {
	if c.caller == "" {
		return notAllowed(c.r.PathValue("id"))
	}
	dialogID := c.r.PathValue("id")
	node := "/finesse/api/User/" + c.caller + "/Dialogs"
	if r := checkDialogBody(c); r != nil {
		return *r
	}
	if c.body.TargetMediaAddress == "" {
		return missing("targetMediaAddress")
	}
	u, err := s.sim.User(c.ctx, c.caller)
	if err != nil {
		return s.simFailure(c, err, c.caller, node)
	}
	if u.Extension == "" || u.Extension != c.body.TargetMediaAddress {
		return invalidInput("targetMediaAddress", "Invalid targetMediaAddress specified for dialog")
	}
	action := strings.TrimSpace(*c.body.RequestedAction)
	if action == "UPDATE_CALL_DATA" {
		if c.body.MediaProperties.WrapUpReason == nil {
			return missing("wrapUpReason")
		}
		err = s.sim.WrapUp(c.ctx, c.caller, dialogID, *c.body.MediaProperties.WrapUpReason)
	} else {
		err = s.sim.CallAction(c.ctx, c.caller, dialogID, cisco.Action(action), c.body.ToAddress)
	}
	if err != nil {
		return s.simFailure(c, err, c.caller, node)
	}
	return accepted
}

// getTeam serves GET /Team/<id> to the administrator and to the team's
// supervisors.
func getTeam(s *Site, c *call) reply {
	teamID := c.r.PathValue("id")
	name, allowed := "", c.admin
	if !c.admin {
		su, err := s.sim.User(c.ctx, c.caller)
		if err == nil {
			for _, t := range su.Teams {
				if t.ID == teamID {
					name, allowed = t.Name, true
				}
			}
		}
	}
	if !allowed {
		return notAllowed(teamID)
	}
	ids, err := s.sim.TeamAgents(c.ctx, teamID)
	if err != nil {
		return s.simFailure(c, err, "", "")
	}
	var users []cisco.User
	for _, id := range ids {
		u, err := s.sim.User(c.ctx, id)
		if err != nil {
			continue
		}
		users = append(users, u)
		if name == "" {
			name = u.TeamName
		}
	}
	if len(users) == 0 && name == "" {
		return failure(http.StatusNotFound, apiError{Type: "Not Found", Message: "Invalid team id", Data: teamID})
	}
	return ok(teamXML(teamID, name, users))
}

// teamResource serves a TeamResource read as the User read it replaces,
// for a caller on the team (or supervising it).
func teamResource(h handler) handler {
	return func(s *Site, c *call) reply {
		team := c.r.PathValue("team")
		u, err := s.sim.User(c.ctx, c.caller)
		if c.admin || err != nil {
			return notAllowed(team)
		}
		member := u.TeamID == team
		if !member && !slices.ContainsFunc(u.Teams, func(t cisco.Team) bool { return t.ID == team }) {
			return notAllowed(team)
		}
		if !member {
			ids, _ := s.sim.TeamAgents(c.ctx, team)
			if len(ids) == 0 {
				return failure(http.StatusNotFound, apiError{Type: "Not Found", Message: "Invalid team id", Data: team})
			}
			c.r.SetPathValue("id", ids[0]) // the supervisor reads as an agent of the team
		} else {
			c.r.SetPathValue("id", c.caller)
		}
		return h(s, c)
	}
}
