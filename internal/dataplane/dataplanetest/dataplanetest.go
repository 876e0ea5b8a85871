// Package dataplanetest starts the real data plane in-process for the tests
// of its clients (the CLI, the bench's load agents). It is for tests only.
package dataplanetest

import (
	"testing"

	"github.com/arcgitops/arcgitops/internal/dataplane"
)

// New returns a data plane with its store in a temporary directory and no
// rate limit, closed when the test ends; mutate adjusts its options.
func New(tb testing.TB, mutate ...func(*dataplane.Options)) *dataplane.Server {
	tb.Helper()
	opts := dataplane.DefaultOptions()
	opts.DataDir = tb.TempDir()
	opts.RatePerSecond = 0
	for _, m := range mutate {
		m(&opts)
	}
	srv, err := dataplane.New(opts)
	if err != nil {
		tb.Fatalf("data plane: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	return srv
}
