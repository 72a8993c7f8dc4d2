package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"
	"github.com/ctibus/ctibus/internal/jsonconfig"
)

// Scenario is a timed list of incoming calls that the simulator plays, for
// demos and load tests. In a file:
//
//	{"loop": true, "calls": [
//	  {"after": "5s", "agent": "100501", "from": "4085551234", "dnis": "8005550100",
//	   "callVariables": {"callVariable1": "ACC-42", "user.acct": "42"}},
//	  {"after": "30s", "agent": "100501", "from": "6505550199", "kind": "preview"}
//	]}
//
// after is the wait before the call, counted from the previous call (or
// from the start); loop plays the list again and again. kind is inbound
// (the default), preview or progressive.
type Scenario struct {
	Loop  bool
	Calls []ScenarioCall
}

// ScenarioCall is one call of a Scenario.
type ScenarioCall struct {
	After time.Duration
	Agent string
	Call  IncomingCall
}

// LoadScenarioFile reads a scenario file. An error names the file, the
// line and column, the call and the field: scenario.json:3:15: calls[2].after: ...
func LoadScenarioFile(path string) (*Scenario, error) {
	doc, err := jsonconfig.ReadFile(path, "scenario", maxScenario)
	if err != nil {
		return nil, err
	}
	return loadScenario(doc)
}

// maxScenario bounds a scenario file.
const maxScenario = 16 << 20

// LoadScenario reads a scenario (see Scenario). An error is a
// *jsonconfig.Error that names the field, its line and its column.
func LoadScenario(r io.Reader) (*Scenario, error) {
	doc, err := jsonconfig.Read(r, "", "scenario", maxScenario)
	if err != nil {
		return nil, err
	}
	return loadScenario(doc)
}

// scenarioFile is the JSON format of a scenario.
type scenarioFile struct {
	Loop  bool `json:"loop"`
	Calls []struct {
		After         string          `json:"after"`
		Agent         string          `json:"agent"`
		From          string          `json:"from"`
		DNIS          string          `json:"dnis"`
		CallVariables json.RawMessage `json:"callVariables"`
		Kind          string          `json:"kind"`
	} `json:"calls"`
}

func loadScenario(doc *jsonconfig.Document) (*Scenario, error) {
	var file scenarioFile
	if err := doc.Decode(&file); err != nil {
		return nil, err
	}
	if len(file.Calls) == 0 {
		return nil, doc.Errorf("calls", "the list is empty; give at least one call")
	}
	sc := &Scenario{Loop: file.Loop}
	var total time.Duration
	for i, c := range file.Calls {
		field := func(name string) string { return fmt.Sprintf("calls[%d].%s", i, name) }
		after, err := time.ParseDuration(c.After)
		if c.After == "" {
			after, err = 0, nil
		}
		if err != nil || after < 0 {
			return nil, doc.Errorf(field("after"), "%q is not a duration; write it like 5s, 1m30s or 250ms", clip.Short(c.After))
		}
		if c.Agent == "" {
			return nil, doc.Errorf(field("agent"), "missing; give the loginId of the agent to ring")
		}
		if c.From == "" {
			return nil, doc.Errorf(field("from"), "missing; give the caller's number")
		}
		kind, err := ParseCallKind(c.Kind)
		if err != nil {
			return nil, doc.Errorf(field("kind"), "%q is not a kind of call; give inbound (the default), preview or progressive", clip.Short(c.Kind))
		}
		call := IncomingCall{From: c.From, DNIS: c.DNIS, Kind: kind}
		if len(c.CallVariables) > 0 {
			vars, err := cisco.ParseCallVariables(c.CallVariables)
			if err != nil {
				return nil, doc.Errorf(field("callVariables"), "%v", err)
			}
			call.CallVariables = vars
		}
		total += after
		sc.Calls = append(sc.Calls, ScenarioCall{After: after, Agent: c.Agent, Call: call})
	}
	if sc.Loop && total <= 0 {
		return nil, doc.Errorf("loop", "a looping scenario needs a positive after on at least one call, or it would ring without pause")
	}
	return sc, nil
}

// Ringer rings an agent's phone with a call from outside: a *Simulator
// does, and so does a simulator replicated over NATS.
type Ringer interface {
	Ring(ctx context.Context, loginID string, call IncomingCall) (cisco.Dialog, error)
}

var _ Ringer = (*Simulator)(nil)

// Play rings the scenario's calls on r until it ends (or, looping, until
// ctx is done), and returns nil then. A call for an agent who is not
// signed in, or who is busy, is skipped and logged on log (nil: not
// logged). Its waits run on
// afterFunc (nil: time.AfterFunc), so tests play a scenario by firing
// timers. Run it in a goroutine that the caller waits for.
func (sc *Scenario) Play(ctx context.Context, r Ringer, afterFunc func(time.Duration, func()) Timer, log *zap.Logger) error {
	if afterFunc == nil {
		afterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	if log == nil {
		log = zap.NewNop()
	}
	for {
		for i, c := range sc.Calls {
			if err := wait(ctx, afterFunc, c.After); err != nil {
				return nil
			}
			d, err := r.Ring(ctx, c.Agent, c.Call)
			if err != nil {
				// Only the error's type: its text may quote the caller's number.
				reason := "internal"
				var ce *cisco.Error
				if errors.As(err, &ce) {
					reason = ce.Type
				}
				log.Info("scenario call skipped", zap.Int("call", i), zap.String("agent", c.Agent), zap.String("reason", reason))
				continue
			}
			log.Debug("scenario call rang", zap.Int("call", i), zap.String("agent", c.Agent), zap.String("dialog", d.ID))
		}
		if !sc.Loop {
			return nil
		}
	}
}

// wait returns after d, or with ctx's error when ctx ends first.
func wait(ctx context.Context, afterFunc func(time.Duration, func()) Timer, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	fired := make(chan struct{})
	t := afterFunc(d, func() { close(fired) })
	select {
	case <-fired:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}
