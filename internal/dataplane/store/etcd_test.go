package store

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
)

// startEtcd runs a one-member etcd until the test ends.
func startEtcd(t *testing.T) string {
	t.Helper()
	endpoint, stop, err := storetest.Etcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return endpoint
}

// TestEtcdConformance runs the suite on one etcd, each case under a prefix
// of its own: hubs sharing an etcd do not see each other.
func TestEtcdConformance(t *testing.T) {
	endpoint := startEtcd(t)
	defer func(n int64) { etcdPage = n }(etcdPage)
	etcdPage = 2 // every scan crosses pages, with the transaction's writes between them
	var n atomic.Int64
	conformance(t, func(t *testing.T) Store {
		t.Helper()
		st, err := OpenEtcd(EtcdOptions{Endpoints: []string{endpoint}, Prefix: fmt.Sprintf("/arcgitops/hub-%d/", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
