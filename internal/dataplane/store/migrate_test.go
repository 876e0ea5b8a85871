package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMigrate copies a bbolt store with every kind of record (indexes too)
// into etcd: the etcd store answers as the bbolt one did, appends after the
// copied events (of the same instant too), and a second migration into the
// same prefix is refused.
func TestMigrate(t *testing.T) {
	from, err := OpenBolt(t.TempDir())
	must(t, err)
	defer from.Close()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	update(t, from, func(tx Tx) error {
		for i := range 1200 { // more than two etcd transactions' worth
			if err := tx.PutConfig(&Config{ClusterID: cluster, Name: fmt.Sprintf("c%04d", i), Properties: json.RawMessage(`{}`)}); err != nil {
				return err
			}
		}
		for _, err := range []error{
			tx.PutCluster(&Cluster{ID: cluster, TokenHash: "t1"}),
			tx.PutPrincipal(&Principal{ObjectID: "o1", AppID: "a1"}),
			tx.PutPrincipal(&Principal{ObjectID: "o2", User: true, UserPrincipalName: "ada@contoso.com"}),
			tx.PutRoleAssignment(&RoleAssignment{ID: sub + "/providers/Microsoft.Authorization/roleAssignments/r", PrincipalID: "o2"}),
			tx.AppendEvent(&Event{ID: "e1", Time: t0}),
			tx.AppendEvent(&Event{ID: "e2", Time: t0}),
		} {
			if err != nil {
				return err
			}
		}
		_, err := tx.BumpRevision(cluster)
		return err
	})
	endpoint := startEtcd(t)
	to, err := OpenEtcd(EtcdOptions{Endpoints: []string{endpoint}, Prefix: "/migrated/"})
	must(t, err)
	defer to.Close()
	var heard []string
	copied, err := Migrate(from, to, func(b string, _ int) { heard = append(heard, b) })
	must(t, err)
	if copied["configs"] != 1200 || copied["principalsByAppId"] != 2 || len(heard) != len(copied) {
		t.Fatalf("copied %v, heard %v", copied, heard)
	}

	update(t, to, func(tx Tx) error { return tx.AppendEvent(&Event{ID: "e3", Time: t0}) })
	view(t, to, func(tx Tx) error {
		cfgs, err := tx.Configs(cluster)
		must(t, err)
		id, err := tx.ClusterIDByToken("t1")
		must(t, err)
		u, err := tx.UserByName("ada@contoso.com")
		must(t, err)
		as, err := tx.RoleAssignmentsOf("o2")
		must(t, err)
		rev, err := tx.Revision(cluster)
		must(t, err)
		var ids []string
		must(t, tx.Events(t0, nil, func(_ []byte, e Event) bool { ids = append(ids, e.ID); return true }))
		if len(cfgs) != 1200 || id != strings.ToLower(cluster) || u.ObjectID != "o2" || len(as) != 1 || rev != 1 || strings.Join(ids, "") != "e3e2e1" {
			t.Fatalf("after the migration: %d configurations, token %q, user %v, %d assignments, revision %d, events %v",
				len(cfgs), id, u, len(as), rev, ids)
		}
		return nil
	})

	if _, err := Migrate(from, to, nil); err == nil || !strings.Contains(err.Error(), "migrate into an empty prefix") {
		t.Fatalf("a second migration into the prefix: %v", err)
	}
}
