package broker_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
)

func TestRegisterBatch(t *testing.T) {
	s := newServer(t, broker.Config{})
	c := brokertest.Dial(t, s.url)
	c.SendInvalid(map[string]any{"id": "r", "channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "feed",
		"data": map[string]any{"channel": "Test", "batch": "yes"}})
	assert.Equal(t, broker.ErrTypeInvalidInput, c.ExpectError("PubSub", broker.ErrTypeInvalidInput, "r").ErrorType)

	c.Send(map[string]any{"id": "r2", "channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "feed",
		"data": map[string]any{"channel": "Test", "batch": true}})
	reg := c.Expect("PubSub/App/Registered")
	assert.JSONEq(t, `{"app":"feed","channel":"Test","channels":["Test"],"batch":true}`, string(reg.Message))
}

// TestBatchedAndPlainSubscribers publishes a burst to two subscribers: the
// one that opted in may get arrays, the other only single envelopes; both
// get every message once, in order.
func TestBatchedAndPlainSubscribers(t *testing.T) {
	s := newServer(t, broker.Config{SendQueue: 1024, RateLimit: 10_000, RateBurst: 10_000})
	pub := s.app(t, "pub", "ws")
	plain := s.app(t, "plain", "ws")
	batched := s.app(t, "batched", "ws")
	batched.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "batched",
		"data": map[string]any{"batch": true}})
	batched.Expect("PubSub/App/Registered")
	plain.Subscribe("Feed", "*", "*")
	batched.Subscribe("Feed", "*", "*")

	const n = 300
	for i := range n {
		pub.Send(map[string]any{"channel": "Feed", "topic": "Tick", "subtopic": strconv.Itoa(i)})
	}
	read := func(ws *websocket.Conn, allowArrays bool) {
		t.Helper()
		next := 0
		for next < n {
			_, frame, err := ws.ReadMessage()
			require.NoError(t, err)
			var envs []struct{ Subtopic string }
			if frame[0] == '[' {
				require.True(t, allowArrays, "an app that did not opt in got an array: %s", frame)
				require.NoError(t, json.Unmarshal(frame, &envs))
			} else {
				var env struct{ Subtopic string }
				require.NoError(t, json.Unmarshal(frame, &env), "%s", frame)
				envs = append(envs, env)
			}
			for _, env := range envs {
				require.Equal(t, strconv.Itoa(next), env.Subtopic)
				next++
			}
		}
	}
	read(plain.Conn(), false)
	read(batched.Conn(), true)
}
