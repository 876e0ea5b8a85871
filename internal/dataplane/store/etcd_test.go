package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestChangedNamesTheBuckets: the names a Change carries are the buckets'.
func TestChangedNamesTheBuckets(t *testing.T) {
	for name, b := range map[string][]byte{ChangedRevision: bucketRevisions, ChangedCluster: bucketClusters, ChangedConfig: bucketConfigs,
		ChangedGroup: bucketGroups, ChangedVault: bucketVaults, ChangedExtension: bucketExtensions,
		ChangedPolicyState: bucketPolicyStates, ChangedPolicyAssignment: bucketPolicyAssignments} {
		if name != string(b) {
			t.Errorf("%q names bucket %q", name, b)
		}
	}
}

// TestEtcdWatch: what one store (a replica) commits reaches the watch of
// another, in commit order, deletes too.
func TestEtcdWatch(t *testing.T) {
	endpoint := startEtcd(t)
	open := func() *Etcd {
		st, err := OpenEtcd(EtcdOptions{Endpoints: []string{endpoint}, Prefix: "/hub/"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	a, b := open(), open()
	got := make(chan []Change, 10)
	must(t, b.Watch(t.Context(), func(cs []Change) { got <- cs }))
	update(t, a, func(tx Tx) error {
		if err := tx.PutConfig(&Config{ClusterID: cluster, Name: "x", Properties: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		_, err := tx.BumpRevision(cluster)
		return err
	})
	update(t, a, func(tx Tx) error { return tx.DeleteConfig(cluster, "x") })
	// Etcd may deliver both transactions in one response: what counts is
	// every write, in order.
	want := []Change{{ChangedConfig, strings.ToLower(cluster) + "\x00x"}, {ChangedRevision, strings.ToLower(cluster)},
		{ChangedConfig, strings.ToLower(cluster) + "\x00x"}}
	var all []Change
	for len(all) < len(want) {
		select {
		case cs := <-got:
			all = append(all, cs...)
		case <-time.After(10 * time.Second):
			t.Fatalf("after %q, no more changes came", all)
		}
	}
	// Within a transaction etcd orders the keys; between them, commits.
	if !slices.Equal(all[2:], want[2:]) || !slices.ContainsFunc(all[:2], func(c Change) bool { return c == want[0] }) ||
		!slices.ContainsFunc(all[:2], func(c Change) bool { return c == want[1] }) {
		t.Fatalf("changes %q, want %q", all, want)
	}
}
