package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
	clientv3 "go.etcd.io/etcd/client/v3"
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

// TestEtcdConflictsArePerKey: a transaction runs again exactly when
// another replica wrote what it read (a key by name, a key created,
// changed or deleted in a range it scanned, up to where the scan stopped),
// and never for writes elsewhere: two clusters' reports never conflict.
func TestEtcdConflictsArePerKey(t *testing.T) {
	endpoint := startEtcd(t)
	cfg := func(name string) *Config {
		return &Config{ClusterID: cluster, Name: name, Properties: json.RawMessage(`{}`)}
	}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for i, tc := range []struct {
		name string
		// read is what the transaction reads; other, what the other
		// replica writes after that read, before the commit.
		read  func(Tx) error
		other func(Tx) error
		runs  int
	}{
		{"another key of the bucket written", func(tx Tx) error { _, err := tx.Config(cluster, "a"); return err },
			func(tx Tx) error { return tx.PutConfig(cfg("b")) }, 1},
		{"another cluster's key deleted", func(tx Tx) error { _, err := tx.Configs(cluster); return err },
			func(tx Tx) error { return tx.DeleteConfig(cluster+"0", "a") }, 1},
		{"the key read written", func(tx Tx) error { _, err := tx.Config(cluster, "a"); return err },
			func(tx Tx) error { return tx.PutConfig(cfg("a")) }, 2},
		{"a missing key read, then created", func(tx Tx) error {
			if _, err := tx.Config(cluster, "new"); !errors.Is(err, ErrNotFound) {
				return err // missing on the first run, there on the second
			}
			return nil
		},
			func(tx Tx) error { return tx.PutConfig(cfg("new")) }, 2},
		{"a key created in a scanned range", func(tx Tx) error { _, err := tx.Configs(cluster); return err },
			func(tx Tx) error { return tx.PutConfig(cfg("c")) }, 2},
		{"a key deleted from a scanned range", func(tx Tx) error { _, err := tx.Configs(cluster); return err },
			func(tx Tx) error { return tx.DeleteConfig(cluster, "b") }, 2},
		{"a key past where a scan stopped", func(tx Tx) error {
			return tx.Events(t0, nil, func([]byte, Event) bool { return false }) // the newest only
		}, func(tx Tx) error { return tx.AppendEvent(&Event{ID: "older", Time: t0.Add(time.Second)}) }, 1},
		{"a key before where a scan stopped", func(tx Tx) error {
			return tx.Events(t0, nil, func([]byte, Event) bool { return false })
		}, func(tx Tx) error { return tx.AppendEvent(&Event{ID: "newer", Time: t0.Add(time.Hour)}) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := func() *Etcd {
				st, err := OpenEtcd(EtcdOptions{Endpoints: []string{endpoint}, Prefix: fmt.Sprintf("/conflicts-%d/", i)})
				must(t, err)
				t.Cleanup(func() { _ = st.Close() })
				return st
			}
			a, b := open(), open()
			update(t, b, func(tx Tx) error {
				for _, err := range []error{tx.PutConfig(cfg("a")), tx.PutConfig(cfg("b")),
					tx.PutConfig(&Config{ClusterID: cluster + "0", Name: "a"}),
					tx.AppendEvent(&Event{ID: "first", Time: t0}), tx.AppendEvent(&Event{ID: "last", Time: t0.Add(time.Minute)})} {
					if err != nil {
						return err
					}
				}
				return nil
			})
			runs := 0
			update(t, a, func(tx Tx) error {
				runs++
				if err := tc.read(tx); err != nil {
					return err
				}
				if runs == 1 {
					update(t, b, tc.other)
				}
				_, err := tx.BumpRevision(cluster)
				return err
			})
			if runs != tc.runs {
				t.Fatalf("the transaction ran %d times, want %d", runs, tc.runs)
			}
		})
	}
}

// TestEtcdTombstonesExpire: a delete's tombstone carries a lease that
// etcd expires, not kept alive, and the watch does not report it.
func TestEtcdTombstonesExpire(t *testing.T) {
	endpoint := startEtcd(t)
	st, err := OpenEtcd(EtcdOptions{Endpoints: []string{endpoint}, Prefix: "/tombs/"})
	must(t, err)
	defer st.Close()
	got := make(chan []Change, 10)
	must(t, st.Watch(t.Context(), func(cs []Change) { got <- cs }))
	update(t, st, func(tx Tx) error { return tx.PutConfig(&Config{ClusterID: cluster, Name: "a"}) })
	update(t, st, func(tx Tx) error { return tx.DeleteConfig(cluster, "a") })
	resp, err := st.c.Get(t.Context(), "/tombs/tombstones/", clientv3.WithPrefix())
	must(t, err)
	if len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("tombstones %v, want one with a lease", resp.Kvs)
	}
	ttl, err := st.c.TimeToLive(t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease))
	must(t, err)
	if ttl.TTL <= 0 || ttl.TTL > int64(tombstoneTTL/time.Second) {
		t.Fatalf("the tombstone's lease has %d s to live, want up to %s", ttl.TTL, tombstoneTTL)
	}
	// The put and the delete, in one call or two: no tombstone among them.
	var all []Change
	for len(all) < 2 {
		select {
		case cs := <-got:
			all = append(all, cs...)
		case <-time.After(10 * time.Second):
			t.Fatalf("after %q, no more changes came", all)
		}
	}
	if len(all) != 2 || all[0].Bucket != ChangedConfig || all[1].Bucket != ChangedConfig {
		t.Fatalf("changes %q, want the configuration's put and delete alone", all)
	}
}
