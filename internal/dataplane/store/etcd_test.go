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

// TestEtcdWatch: a transaction committed by one store (a replica) reaches
// the watch of another, its writes in one call, deletes too.
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
	want := [][]Change{
		{{ChangedConfig, strings.ToLower(cluster) + "\x00x"}, {ChangedRevision, strings.ToLower(cluster)}},
		{{ChangedConfig, strings.ToLower(cluster) + "\x00x"}},
	}
	for i, w := range want {
		select {
		case cs := <-got:
			slices.SortFunc(cs, func(x, y Change) int { return strings.Compare(x.Bucket, y.Bucket) })
			slices.SortFunc(w, func(x, y Change) int { return strings.Compare(x.Bucket, y.Bucket) })
			if !slices.Equal(cs, w) {
				t.Fatalf("transaction %d: %q, want %q", i, cs, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("transaction %d: no change came", i)
		}
	}
}
