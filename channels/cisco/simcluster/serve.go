package simcluster

import (
	"github.com/ctibus/ctibus/channels/cisco"

	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// work serves the requests of term t until ctx is done, then tells the
// senders of those left to try the next leader. Requests that name
// different agents are served at once, at most requestQueue of them;
// requests naming one agent are served one after the other, in the order
// they came (see lanes). A request sent again while its first attempt runs
// names the same agents, so it is taken up after that attempt has
// answered, and gets the same answer from replies.
func (c *Cluster) work(ctx context.Context, t *term, reqs <-chan *nats.Msg) {
	replies := newReplyCache()
	agents := newLanes()
	slots := make(chan struct{}, requestQueue)
	var served sync.WaitGroup
	defer served.Wait()
	for {
		select {
		case m := <-reqs:
			var req rpcRequest
			if err := json.Unmarshal(m.Data, &req); err != nil {
				c.respond(m, rpcReply{Error: &rpcError{Other: "undecodable request: " + err.Error()}})
				continue
			}
			after, leave := agents.enter(req.Args.LoginID, req.Args.AgentID)
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				leave()
				c.respond(m, rpcReply{Retry: true})
				continue
			}
			served.Go(func() {
				defer func() { <-slots }()
				defer leave()
				for _, earlier := range after {
					select {
					case <-earlier:
					case <-ctx.Done():
						c.respond(m, rpcReply{Retry: true})
						return
					}
				}
				c.serve(ctx, t, m, req, replies)
			})
		case <-ctx.Done():
			for {
				select {
				case m := <-reqs:
					c.respond(m, rpcReply{Retry: true})
				default:
					return
				}
			}
		}
	}
}

// serve answers one request on the leader, with the reply it gave before
// if the request is a repeat. It answers only once the records of the
// change are stored: if they could not be, or the term ended meanwhile, it
// tells the sender to try the next leader.
func (c *Cluster) serve(ctx context.Context, t *term, m *nats.Msg, req rpcRequest, replies *replyCache) {
	method := strings.TrimPrefix(m.Subject, c.subject+".")
	now := time.Now()
	if readOnly(method) {
		req.Call = "" // answered afresh if repeated: there is nothing to apply twice
	}
	if data, ok := replies.get(req.Call, now); ok {
		c.respondData(m, data)
		return
	}
	if c.serving.Load() != t.id {
		c.respond(m, rpcReply{Retry: true})
		return
	}
	from := c.sentTo(req.Node)
	rctx, cancel := context.WithTimeout(cisco.WithRequestID(context.Background(), req.ID), c.cfg.RequestTimeout)
	v, err := c.dispatch(rctx, req.Node, method, req.Args)
	cancel()
	if !t.records.await(t.records.last(), ctx.Done()) || c.serving.Load() != t.id {
		c.respond(m, rpcReply{Retry: true})
		return
	}
	rep := rpcReply{Term: t.id, From: from.seq, To: c.sentTo(req.Node).seq}
	if err != nil {
		rep.Error = encodeError(err)
	} else if rep.Result, err = json.Marshal(v); err != nil {
		rep.Error = &rpcError{Other: fmt.Sprintf("encode %s result: %v", method, err)}
	}
	data, err := json.Marshal(rep)
	if err != nil {
		c.log.Error("encode cisco reply", zap.String("method", method), zap.Error(err))
		return
	}
	replies.put(req.Call, data, now)
	if f := c.beforeReply.Load(); f != nil {
		(*f)(method)
	}
	c.respondData(m, data)
}

func (c *Cluster) respond(m *nats.Msg, rep rpcReply) {
	data, err := json.Marshal(rep)
	if err != nil {
		c.log.Error("encode cisco reply", zap.String("subject", m.Subject), zap.Error(err))
		return
	}
	c.respondData(m, data)
}

func (c *Cluster) respondData(m *nats.Msg, data []byte) {
	if err := m.Respond(data); err != nil {
		c.log.Warn("answer cisco request", zap.String("subject", m.Subject), zap.Error(err))
	}
}

// lanes orders a term's requests by the agents they name (the agent, and
// the one a supervisor acts on): a request is served after every earlier
// request that names one of its agents, and alongside the rest. The
// simulator's mutex makes each change atomic whatever the order; lanes keep
// an agent's requests in the order they reached the leader, and a repeated
// request behind its first attempt.
type lanes struct {
	mu    sync.Mutex               // guards tails
	tails map[string]chan struct{} // by agent: closed once the last request entered for it has been served
}

func newLanes() *lanes { return &lanes{tails: map[string]chan struct{}{}} }

// enter queues a request naming agents ("" names none). The request may be
// served once every channel in after is closed, and must call leave once
// served.
func (l *lanes) enter(agents ...string) (after []chan struct{}, leave func()) {
	done := make(chan struct{})
	l.mu.Lock()
	defer l.mu.Unlock()
	var mine []string
	for _, a := range agents {
		if a == "" || slices.Contains(mine, a) {
			continue
		}
		if tail, ok := l.tails[a]; ok {
			after = append(after, tail)
		}
		l.tails[a] = done
		mine = append(mine, a)
	}
	return after, func() {
		close(done)
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, a := range mine {
			if l.tails[a] == done { // no later request for a: forget it
				delete(l.tails, a)
			}
		}
	}
}

// replyCache holds the leader's recent replies by call id, at most
// replyCacheSize of them and none older than replyCacheAge, so that a
// repeated request is answered without being applied again. The request
// worker of a term owns it: a new leader starts empty.
type replyCache struct {
	mu     sync.Mutex // guards the fields below
	byCall map[string]cachedReply
	order  []string // call ids, oldest first
}

type cachedReply struct {
	data []byte
	at   time.Time
}

func newReplyCache() *replyCache {
	return &replyCache{byCall: map[string]cachedReply{}}
}

// get returns the reply given to call, unless it is too old.
func (r *replyCache) get(call string, now time.Time) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byCall[call]
	if !ok || now.Sub(e.at) > replyCacheAge {
		return nil, false
	}
	return e.data, true
}

// put remembers the reply given to call, and forgets the oldest replies
// beyond the bounds. A request without a call id is not remembered.
func (r *replyCache) put(call string, data []byte, now time.Time) {
	if call == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byCall[call]; !ok {
		r.order = append(r.order, call)
	}
	r.byCall[call] = cachedReply{data: data, at: now}
	for len(r.order) > 0 {
		oldest := r.order[0]
		if len(r.order) <= replyCacheSize && now.Sub(r.byCall[oldest].at) <= replyCacheAge {
			break
		}
		delete(r.byCall, oldest)
		r.order = r.order[1:]
	}
}
