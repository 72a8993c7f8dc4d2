package handlers_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/docs/contract"
	"github.com/ctibus/ctibus/handlers/handlerstest"
)

// TestEveryDocumentedRequestIsServed sends every Cisco request of the
// contract, under each spelling it documents, without data and before a
// sign-in: each is answered, or refused for its data or for the missing
// sign-in, and none is an Unknown API. The brokertest client checks every
// answer against the contract.
func TestEveryDocumentedRequestIsServed(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "app")
	doc, err := contract.Default()
	require.NoError(t, err)
	n := 0
	for _, triple := range doc.Requests() {
		parts := strings.Split(triple, "/")
		require.Len(t, parts, 3)
		if parts[0] != "Cisco" {
			continue // the PubSub requests are the broker's, tested there
		}
		id := fmt.Sprint("r", n)
		n++
		c.RequestInvalid(id, parts[0], parts[1], parts[2], nil) // no data: some need it
		f := c.Next()
		require.Equal(t, id, f.CorrelationID, "the answer to %s: %s", triple, f.Raw)
		if f.Topic == "Error" {
			assert.NotEqual(t, "Unknown API", f.Error(t).ErrorType, "%s is in the contract", triple)
		}
	}
	assert.Greater(t, n, 40, "the contract documents the Cisco requests and their aliases")
}

// TestContractDocumentsEveryRequest checks that the contract documents
// every request the handlers serve, and nothing they do not serve: the
// triples of the broker's handlers, and those of the contract's requests
// and their aliases, are the same ignoring case.
func TestContractDocumentsEveryRequest(t *testing.T) {
	log := zaptest.NewLogger(t)
	dir, err := sim.LoadDirectoryFile("testdata/agents.json")
	require.NoError(t, err)
	bus := broker.New(log, broker.Config{})
	handlerstest.Wire(t, bus, sim.New(dir, sim.Config{}), log, handlerstest.Config{})
	t.Cleanup(func() { assert.NoError(t, bus.Shutdown(context.Background())) })
	doc, err := contract.Default()
	require.NoError(t, err)
	assert.Equal(t, folded(bus.Routes()), folded(doc.Requests()))
}

// folded returns the distinct triples of triples, in lower case, sorted.
func folded(triples []string) []string {
	set := map[string]bool{}
	for _, tr := range triples {
		set[strings.ToLower(tr)] = true
	}
	out := make([]string, 0, len(set))
	for tr := range set {
		out = append(out, tr)
	}
	sort.Strings(out)
	return out
}
