package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// The control plane is the PubSub channel, served by ordinary handlers so
// that everything on the wire is an envelope.
func (b *Broker) handlePubSub() {
	b.Handle(busChannel, "App", "Register", HandlerFunc(b.register))
	b.Handle(busChannel, "App", "Unregister", HandlerFunc(b.unregister))
	b.Handle(busChannel, "Subscription", "Subscribe", HandlerFunc(b.subscribe))
	b.Handle(busChannel, "Subscription", "Unsubscribe", HandlerFunc(b.unsubscribe))
}

// registration is the answer to Register and Unregister. Channels lists
// what the request changed, the channel added or removed, rather than every
// channel of the connection: an answer stays small however many channels
// the connection holds.
type registration struct {
	App      string   `json:"app"`
	Channel  string   `json:"channel,omitempty"`
	Channels []string `json:"channels"`
	Batch    bool     `json:"batch,omitempty"` // the connection receives batched frames
}

// changed is the channels field of a registration: channel if it changed.
func changed(channel string, did bool) []string {
	if !did {
		return []string{}
	}
	return []string{channel}
}

func tooManyChannelsError(limit int) *APIError {
	return &APIError{
		Type:    ErrTypeLimitExceeded,
		Message: fmt.Sprintf("a connection may be registered on at most %d channels", limit),
		Msg:     "This connection is registered on too many channels. Unregister from some, or subscribe to a pattern with \"*\" instead.",
	}
}

func nameTaken(app string) *APIError {
	return &APIError{
		Type:    ErrTypeInvalidInput,
		Message: fmt.Sprintf("source: this connection is registered as %q", app),
		Msg:     fmt.Sprintf("This connection already belongs to the app %q; open another connection for another app.", app),
	}
}

func (b *Broker) register(ctx context.Context, req *Request) error {
	if why := checkName(req.Source); why != "" {
		return &APIError{
			Type:    ErrTypeInvalidInput,
			Message: "source: " + why,
			Msg:     fmt.Sprintf(`Set "source" to your app's name (printable, at most %d characters, without "*" or "/").`, maxNameLen),
		}
	}
	if strings.EqualFold(req.Source, busSource) {
		return &APIError{
			Type:    ErrTypeInvalidInput,
			Message: fmt.Sprintf("source: %q is the bus's own name", req.Source),
			Msg:     fmt.Sprintf(`The bus signs its own events %q, so no app may take that name; register under your app's own name.`, busSource),
		}
	}
	channel, err := b.channelField(req, false)
	if err != nil {
		return err
	}
	batch, err := batchField(req)
	if err != nil {
		return err
	}
	if strings.EqualFold(channel, busChannel) {
		return invalidInput("data.channel", "PubSub is the bus's own channel and needs no registration")
	}
	if current := req.Conn.App(); current != "" && current != req.Source {
		return nameTaken(current)
	}
	if req.Conn.overChannels(channel, b.cfg.MaxChannels) {
		// Checked before the admitter too, which may move the connection:
		// a refused Register changes nothing.
		return tooManyChannelsError(b.cfg.MaxChannels)
	}
	if b.admitter != nil {
		fields, _ := req.Fields() // already checked by channelField
		err := b.admitter.Admit(ctx, req.Conn, Registration{App: req.Source, Channel: channel, Fields: fields})
		if errors.Is(err, ErrTryAgainLater) {
			req.Conn.Logger().Info("credential not checked; closing so that the app tries again", zap.Error(err))
			req.Conn.requestClose(CloseTryAgainLater, "credentials cannot be checked now; reconnect shortly")
			return nil
		}
		if err != nil {
			return err
		}
	}
	app, added, outcome := req.Conn.registerApp(req.Source, channel, b.cfg.MaxChannels)
	switch outcome {
	case nameIsTaken:
		return nameTaken(app)
	case tooManyChannels:
		return tooManyChannelsError(b.cfg.MaxChannels)
	}
	if batch != nil {
		req.Conn.setBatch(*batch)
	}
	req.Conn.Logger().Debug("registered", zap.String("channel", channel))
	return req.Conn.Send(Event{
		Channel: busChannel, Topic: "App", Subtopic: "Registered",
		Message:       registration{App: app, Channel: channel, Channels: changed(channel, added), Batch: req.Conn.batching()},
		CorrelationID: req.ID,
	})
}

// batchField reads data.batch of Register: true lets the bus put several
// envelopes in one frame, as a JSON array; false stops it; nil leaves the
// connection as it is.
func batchField(req *Request) (*bool, error) {
	fields, err := req.Fields()
	if err != nil {
		return nil, err
	}
	raw, ok := fields["batch"]
	if !ok {
		return nil, nil
	}
	var on bool
	if err := json.Unmarshal(raw, &on); err != nil {
		return nil, invalidInput("data.batch", "it must be true or false")
	}
	return &on, nil
}

func (b *Broker) unregister(_ context.Context, req *Request) error {
	channel, err := b.channelField(req, true)
	if err != nil {
		return err
	}
	removed := req.Conn.unregisterChannel(channel)
	return req.Conn.Send(Event{
		Channel: busChannel, Topic: "App", Subtopic: "Unregistered",
		Message:       registration{App: req.Conn.App(), Channel: channel, Channels: changed(channel, removed)},
		CorrelationID: req.ID,
	})
}

// subscription is the data of Subscribe and Unsubscribe, and their answer.
type subscription struct {
	Channel  string `json:"channel"`
	Topic    string `json:"topic"`
	Subtopic string `json:"subtopic"`
}

func (b *Broker) subscribe(_ context.Context, req *Request) error {
	s, p, err := parseSubscription(req)
	if err != nil {
		return err
	}
	if !req.Conn.allows(p) {
		return &APIError{
			Type:    ErrTypeForbidden,
			Message: fmt.Sprintf("the app's grant does not cover %s/%s/%s", s.Channel, s.Topic, s.Subtopic),
			Msg:     "This app may not subscribe to that pattern; subscribe within its grant, or ask the administrator to widen it.",
		}
	}
	if !req.Conn.subscribe(p, b.cfg.MaxSubscriptions) {
		return &APIError{
			Type:    ErrTypeLimitExceeded,
			Message: fmt.Sprintf("a connection may hold at most %d subscriptions", b.cfg.MaxSubscriptions),
			Msg:     "This connection has too many subscriptions. Unsubscribe from some, or use a wider pattern with \"*\".",
		}
	}
	return req.Conn.Send(Event{
		Channel: busChannel, Topic: "Subscription", Subtopic: "Subscribed",
		Message: s, CorrelationID: req.ID,
	})
}

func (b *Broker) unsubscribe(_ context.Context, req *Request) error {
	s, p, err := parseSubscription(req)
	if err != nil {
		return err
	}
	req.Conn.unsubscribe(p)
	return req.Conn.Send(Event{
		Channel: busChannel, Topic: "Subscription", Subtopic: "Unsubscribed",
		Message: s, CorrelationID: req.ID,
	})
}

func parseSubscription(req *Request) (subscription, Pattern, error) {
	fields, err := req.Fields()
	if err != nil {
		return subscription{}, Pattern{}, err
	}
	var s subscription
	for _, f := range []struct {
		key string
		dst *string
	}{{"channel", &s.Channel}, {"topic", &s.Topic}, {"subtopic", &s.Subtopic}} {
		if *f.dst, err = fields.name(f.key); err != nil {
			return s, Pattern{}, err
		}
		if *f.dst == "" {
			return s, Pattern{}, &APIError{
				Type:    ErrTypeInvalidPattern,
				Message: "data." + f.key + ": it is missing",
				Msg:     `Give the pattern as data {"channel","topic","subtopic"}; use "*" for any one segment.`,
			}
		}
	}
	p, perr := ParsePattern(s.Channel, s.Topic, s.Subtopic)
	if perr != nil {
		return s, Pattern{}, &APIError{
			Type:    ErrTypeInvalidPattern,
			Message: "data." + perr.Error(),
			Msg:     `Each of channel, topic and subtopic must be a name or "*" alone, such as Cisco/Agent/*.`,
		}
	}
	return s, p, nil
}

// channelField reads data.channel of Register and Unregister and returns the
// channel's canonical spelling.
func (b *Broker) channelField(req *Request, required bool) (string, error) {
	fields, err := req.Fields()
	if err != nil {
		return "", err
	}
	channel, err := fields.name("channel")
	switch {
	case err != nil:
		return "", err
	case channel == "" && required:
		return "", invalidInput("data.channel", "it is missing")
	case channel == "":
		return "", nil
	}
	if why := checkName(channel); why != "" {
		return "", invalidInput("data.channel", why)
	}
	return b.canonicalChannel(channel), nil
}

// canonicalChannel returns a handled channel's own spelling, or name as given.
func (b *Broker) canonicalChannel(name string) string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if canonical, ok := b.channels[strings.ToLower(name)]; ok {
		return canonical
	}
	return name
}

func asAPIError(err error) (*APIError, bool) {
	var apiErr *APIError
	ok := errors.As(err, &apiErr)
	return apiErr, ok
}
