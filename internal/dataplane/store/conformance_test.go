package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The conformance suite: what every engine of the Store must do, run
// against each (Dex's storage conformance tests are the model). open
// returns an empty store.
func conformance(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, st Store)
	}{
		{"clusters, tokens and cascades", conformClusters},
		{"configurations by cluster", conformConfigs},
		{"revisions", conformRevisions},
		{"resource groups", conformGroups},
		{"principals, users and their indexes", conformPrincipals},
		{"role assignments by principal", conformAssignments},
		{"activity log order, pages and pruning", conformEvents},
		{"policy definitions, assignments and states", conformPolicy},
		{"remediations and their marks", conformRemediations},
		{"extensions and vaults", conformExtensionsAndVaults},
		{"a failed update changes nothing", conformRollback},
		{"reads see the transaction's own writes", conformReadYourWrites},
		{"concurrent writers lose no update", conformConcurrent},
		{"concurrent checks of a count keep its limit (write skew)", conformWriteSkew},
		{"large values", conformLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			t.Cleanup(func() { _ = st.Close() })
			tc.run(t, st)
		})
	}
}

func TestBoltConformance(t *testing.T) {
	conformance(t, func(t *testing.T) Store {
		t.Helper()
		st, err := OpenBolt(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func update(t *testing.T, st Store, fn func(Tx) error) {
	t.Helper()
	must(t, st.Update(fn))
}

func view(t *testing.T, st Store, fn func(Tx) error) {
	t.Helper()
	must(t, st.View(fn))
}

func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("%s: %v, want ErrNotFound", what, err)
	}
}

const (
	sub     = "/subscriptions/00000000-0000-0000-0000-000000000000"
	cluster = sub + "/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1"
)

func conformClusters(t *testing.T, st Store) {
	t.Helper()
	c1 := &Cluster{ID: cluster, Subscription: "00000000-0000-0000-0000-000000000000", Name: "c1", TokenHash: "t1"}
	c10 := &Cluster{ID: cluster + "0", Subscription: "00000000-0000-0000-0000-000000000000", Name: "c10", TokenHash: "t10"}
	other := &Cluster{ID: "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/x", TokenHash: "tx"}
	update(t, st, func(tx Tx) error {
		for _, c := range []*Cluster{c1, c10, other} {
			if err := tx.PutCluster(c); err != nil {
				return err
			}
		}
		if err := tx.PutConfig(&Config{ClusterID: cluster, Name: "a", Properties: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		if err := tx.PutConfig(&Config{ClusterID: cluster + "0", Name: "a", Properties: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		if err := tx.PutExtension(&Extension{ID: cluster + "/providers/Microsoft.KubernetesConfiguration/extensions/flux"}); err != nil {
			return err
		}
		_, err := tx.BumpRevision(cluster)
		return err
	})
	view(t, st, func(tx Tx) error {
		got, err := tx.Cluster(strings.ToUpper(cluster)) // IDs are case-insensitive
		must(t, err)
		if got.Name != "c1" || got.ID != cluster {
			t.Fatalf("cluster: %+v", got)
		}
		n, err := tx.CountClusters("00000000-0000-0000-0000-000000000000")
		must(t, err)
		all, err := tx.Clusters()
		must(t, err)
		if n != 2 || len(all) != 3 {
			t.Fatalf("count %d, all %d: want 2 in the subscription, 3 in all", n, len(all))
		}
		id, err := tx.ClusterIDByToken("t1")
		must(t, err)
		if id != strings.ToLower(cluster) {
			t.Fatalf("token t1 names %q", id)
		}
		return nil
	})
	// A new token: the previous one still answers until the cluster drops
	// it; a replaced previous token no longer does.
	update(t, st, func(tx Tx) error {
		c1.TokenHash, c1.PreviousTokenHash = "t2", "t1"
		return tx.PutCluster(c1)
	})
	update(t, st, func(tx Tx) error {
		c1.TokenHash, c1.PreviousTokenHash = "t3", "t2"
		return tx.PutCluster(c1)
	})
	view(t, st, func(tx Tx) error {
		for tok, want := range map[string]bool{"t1": false, "t2": true, "t3": true} {
			_, err := tx.ClusterIDByToken(tok)
			if (err == nil) != want {
				t.Fatalf("token %s answers: %v, want %v", tok, err == nil, want)
			}
		}
		return nil
	})
	// Deleting a cluster takes its configurations, extensions, revision
	// and tokens, and not those of a cluster whose ID it prefixes.
	update(t, st, func(tx Tx) error { return tx.DeleteCluster(cluster) })
	view(t, st, func(tx Tx) error {
		_, err := tx.Cluster(cluster)
		notFound(t, "deleted cluster", err)
		_, err = tx.ClusterIDByToken("t3")
		notFound(t, "its token", err)
		cfgs, err := tx.Configs(cluster)
		must(t, err)
		exts, err := tx.Extensions(cluster)
		must(t, err)
		rev, err := tx.Revision(cluster)
		must(t, err)
		if len(cfgs)+len(exts) != 0 || rev != 0 {
			t.Fatalf("left behind: %d configurations, %d extensions, revision %d", len(cfgs), len(exts), rev)
		}
		cfgs, err = tx.Configs(cluster + "0")
		must(t, err)
		if len(cfgs) != 1 {
			t.Fatalf("c10 lost its configuration with c1")
		}
		return nil
	})
	notFound(t, "deleting it again", st.Update(func(tx Tx) error { return tx.DeleteCluster(cluster) }))
}

func conformConfigs(t *testing.T, st Store) {
	t.Helper()
	update(t, st, func(tx Tx) error {
		for _, name := range []string{"b", "a", "a-b"} {
			if err := tx.PutConfig(&Config{ClusterID: cluster, Name: name, Generation: 1, Properties: json.RawMessage(`{"n":"` + name + `"}`)}); err != nil {
				return err
			}
		}
		return tx.PutConfig(&Config{ClusterID: cluster + "0", Name: "z", Properties: json.RawMessage(`{}`)})
	})
	update(t, st, func(tx Tx) error {
		c, err := tx.Config(cluster, "a")
		if err != nil {
			return err
		}
		c.Generation++
		c.Status = &Status{ReportedAt: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
		return tx.PutConfig(c)
	})
	view(t, st, func(tx Tx) error {
		cfgs, err := tx.Configs(cluster)
		must(t, err)
		var names []string
		for _, c := range cfgs {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, []string{"a", "a-b", "b"}) {
			t.Fatalf("configurations of c1: %v, want a, a-b, b in order, none of c10's", names)
		}
		if cfgs[0].Generation != 2 || cfgs[0].Status == nil || string(cfgs[1].Properties) != `{"n":"a-b"}` {
			t.Fatalf("configuration a: %+v", cfgs[0])
		}
		return nil
	})
	update(t, st, func(tx Tx) error { return tx.DeleteConfig(cluster, "a") })
	view(t, st, func(tx Tx) error {
		_, err := tx.Config(cluster, "a")
		notFound(t, "deleted configuration", err)
		_, err = tx.Config(cluster, "A") // names are exact
		notFound(t, "another case", err)
		return nil
	})
}

func conformRevisions(t *testing.T, st Store) {
	t.Helper()
	view(t, st, func(tx Tx) error {
		r, err := tx.Revision(cluster)
		if err != nil || r != 0 {
			t.Fatalf("a new cluster's revision: %d %v", r, err)
		}
		return nil
	})
	for want := uint64(1); want <= 3; want++ {
		update(t, st, func(tx Tx) error {
			r, err := tx.BumpRevision(strings.ToUpper(cluster))
			if r != want {
				t.Fatalf("bump: %d, want %d", r, want)
			}
			return err
		})
	}
}

func conformGroups(t *testing.T, st Store) {
	t.Helper()
	update(t, st, func(tx Tx) error {
		for _, id := range []string{sub + "/resourceGroups/rg", sub + "/resourceGroups/rg2", "/subscriptions/other/resourceGroups/rg"} {
			if err := tx.PutResourceGroup(&ResourceGroup{ID: id, Name: id[strings.LastIndex(id, "/")+1:]}); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, st, func(tx Tx) error { return tx.DeleteResourceGroup(sub + "/resourceGroups/RG2") })
	view(t, st, func(tx Tx) error {
		gs, err := tx.ResourceGroups("00000000-0000-0000-0000-000000000000")
		must(t, err)
		if len(gs) != 1 || gs[0].Name != "rg" {
			t.Fatalf("groups: %+v", gs)
		}
		return nil
	})
	notFound(t, "deleting a missing group", st.Update(func(tx Tx) error { return tx.DeleteResourceGroup(sub + "/resourceGroups/nope") }))
}

func conformPrincipals(t *testing.T, st Store) {
	t.Helper()
	sp := &Principal{ObjectID: "o1", AppID: "A1", DisplayName: "ci"}
	user := &Principal{ObjectID: "o2", User: true, UserPrincipalName: "Ada@Contoso.com", PasswordHash: "$argon2id$x"}
	update(t, st, func(tx Tx) error {
		if err := tx.PutPrincipal(sp); err != nil {
			return err
		}
		return tx.PutPrincipal(user)
	})
	view(t, st, func(tx Tx) error {
		p, err := tx.PrincipalByAppID("a1")
		must(t, err)
		u, err := tx.UserByName("ada@contoso.com")
		must(t, err)
		if p.ObjectID != "o1" || u.ObjectID != "o2" || u.PasswordHash != "$argon2id$x" {
			t.Fatalf("by app ID %+v, by name %+v", p, u)
		}
		_, err = tx.PrincipalByAppID("user:ada@contoso.com")
		notFound(t, "a user's key as an app ID", err)
		all, err := tx.Principals()
		must(t, err)
		if len(all) != 2 {
			t.Fatalf("principals: %d", len(all))
		}
		return nil
	})
	update(t, st, func(tx Tx) error { return tx.DeletePrincipal("o2") })
	view(t, st, func(tx Tx) error {
		_, err := tx.UserByName("ada@contoso.com")
		notFound(t, "deleted user by name", err)
		_, err = tx.Principal("o2")
		notFound(t, "deleted user", err)
		return nil
	})
}

func conformAssignments(t *testing.T, st Store) {
	t.Helper()
	a := &RoleAssignment{ID: sub + "/providers/Microsoft.Authorization/roleAssignments/r1", PrincipalID: "p1", Scope: sub}
	update(t, st, func(tx Tx) error {
		if err := tx.PutRoleAssignment(a); err != nil {
			return err
		}
		return tx.PutRoleAssignment(&RoleAssignment{ID: sub + "/providers/Microsoft.Authorization/roleAssignments/r2", PrincipalID: "p10", Scope: sub})
	})
	// Given to another principal: the index follows.
	update(t, st, func(tx Tx) error { a.PrincipalID = "p2"; return tx.PutRoleAssignment(a) })
	view(t, st, func(tx Tx) error {
		of1, err := tx.RoleAssignmentsOf("p1")
		must(t, err)
		of2, err := tx.RoleAssignmentsOf("P2")
		must(t, err)
		all, err := tx.RoleAssignments()
		must(t, err)
		if len(of1) != 0 || len(of2) != 1 || len(all) != 2 {
			t.Fatalf("of p1 %d, of p2 %d, all %d", len(of1), len(of2), len(all))
		}
		return nil
	})
	update(t, st, func(tx Tx) error { return tx.DeleteRoleAssignment(a.ID) })
	view(t, st, func(tx Tx) error {
		of2, err := tx.RoleAssignmentsOf("p2")
		must(t, err)
		if len(of2) != 0 {
			t.Fatalf("a deleted assignment is still indexed")
		}
		return nil
	})
}

func conformEvents(t *testing.T, st Store) {
	t.Helper()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	update(t, st, func(tx Tx) error {
		for i := range 6 {
			if err := tx.AppendEvent(&Event{ID: fmt.Sprint(i), Time: t0.Add(time.Duration(i/2) * time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	page := func(from time.Time, before []byte, n int) (ids string, last []byte) {
		view(t, st, func(tx Tx) error {
			return tx.Events(from, before, func(k []byte, e Event) bool {
				ids += e.ID
				last = k
				n--
				return n > 0
			})
		})
		return ids, last
	}
	ids, last := page(t0, nil, 4)
	if ids != "5432" {
		t.Fatalf("newest first, the same instant in reverse order appended: %s", ids)
	}
	if rest, _ := page(t0, last, 10); rest != "10" {
		t.Fatalf("the page after: %s", rest)
	}
	if recent, _ := page(t0.Add(time.Minute), nil, 10); recent != "5432" {
		t.Fatalf("from a minute later: %s", recent)
	}
	var pruned int
	update(t, st, func(tx Tx) (err error) { pruned, err = tx.PruneEvents(t0.Add(2 * time.Minute)); return err })
	if left, _ := page(t0, nil, 10); pruned != 4 || left != "54" {
		t.Fatalf("pruned %d, left %s", pruned, left)
	}
}

func conformPolicy(t *testing.T, st Store) {
	t.Helper()
	defs := sub + "/providers/Microsoft.Authorization/policyDefinitions/"
	update(t, st, func(tx Tx) error {
		for _, id := range []string{defs + "a", defs + "b", "/providers/Microsoft.Authorization/policyDefinitions/builtin"} {
			if err := tx.PutPolicyDefinition(&PolicyDefinition{ID: id}); err != nil {
				return err
			}
		}
		if err := tx.PutPolicySetDefinition(&PolicyDefinition{ID: sub + "/providers/Microsoft.Authorization/policySetDefinitions/s"}); err != nil {
			return err
		}
		if err := tx.PutPolicyAssignment(&PolicyAssignment{ID: sub + "/providers/Microsoft.Authorization/policyAssignments/x"}); err != nil {
			return err
		}
		for _, st := range []*PolicyState{
			{AssignmentID: "x", ResourceID: cluster},
			{AssignmentID: "x", ResourceID: cluster + "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/f"},
			{AssignmentID: "x", ResourceID: cluster + "0"},
			{AssignmentID: "y", ResourceID: cluster, ReferenceID: "ref"},
		} {
			if err := tx.PutPolicyState(st); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx Tx) error {
		ds, err := tx.PolicyDefinitions(defs)
		must(t, err)
		sets, err := tx.PolicySetDefinitions("")
		must(t, err)
		under, err := tx.PolicyStatesUnder(cluster)
		must(t, err)
		ofX, err := tx.PolicyStates("X")
		must(t, err)
		if len(ds) != 2 || len(sets) != 1 || len(under) != 3 || len(ofX) != 3 {
			t.Fatalf("definitions %d, sets %d, states under c1 %d (not c10's), of x %d", len(ds), len(sets), len(under), len(ofX))
		}
		st, err := tx.PolicyState("y", cluster, "ref")
		must(t, err)
		if st.ReferenceID != "ref" {
			t.Fatalf("state: %+v", st)
		}
		return nil
	})
	update(t, st, func(tx Tx) error {
		if err := tx.DeletePolicyState("y", cluster, "ref"); err != nil {
			return err
		}
		if err := tx.DeletePolicyAssignment(sub + "/providers/Microsoft.Authorization/policyAssignments/x"); err != nil {
			return err
		}
		return tx.DeletePolicyDefinition(defs + "a")
	})
	notFound(t, "deleting a missing definition", st.Update(func(tx Tx) error { return tx.DeletePolicyDefinition(defs + "a") }))
	view(t, st, func(tx Tx) error {
		_, err := tx.PolicyState("y", cluster, "ref")
		notFound(t, "deleted state", err)
		as, err := tx.PolicyAssignments()
		must(t, err)
		if len(as) != 0 {
			t.Fatalf("assignments left: %d", len(as))
		}
		return nil
	})
}

func conformRemediations(t *testing.T, st Store) {
	t.Helper()
	id := sub + "/providers/Microsoft.PolicyInsights/remediations/r"
	update(t, st, func(tx Tx) error {
		if err := tx.PutRemediation(&Remediation{ID: id, ProvisioningState: "Accepted"}); err != nil {
			return err
		}
		if err := tx.PutRemediation(&Remediation{ID: id + "2"}); err != nil {
			return err
		}
		for _, r := range []string{cluster, cluster + "0"} {
			if err := tx.MarkRemediated(id, r); err != nil {
				return err
			}
		}
		return tx.MarkRemediated(id+"2", cluster)
	})
	view(t, st, func(tx Tx) error {
		done, err := tx.Remediated(id)
		must(t, err)
		if len(done) != 2 || !done[strings.ToLower(cluster)] {
			t.Fatalf("done: %v", done)
		}
		return nil
	})
	update(t, st, func(tx Tx) error { return tx.DeleteRemediation(id) })
	view(t, st, func(tx Tx) error {
		done, err := tx.Remediated(id)
		must(t, err)
		other, err := tx.Remediated(id + "2")
		must(t, err)
		rs, err := tx.Remediations()
		must(t, err)
		if len(done) != 0 || len(other) != 1 || len(rs) != 1 {
			t.Fatalf("after delete: done %v, the other's %v, remediations %d", done, other, len(rs))
		}
		return nil
	})
}

func conformExtensionsAndVaults(t *testing.T, st Store) {
	t.Helper()
	vault := sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v"
	update(t, st, func(tx Tx) error {
		if err := tx.PutExtension(&Extension{ID: cluster + "/providers/Microsoft.KubernetesConfiguration/extensions/flux"}); err != nil {
			return err
		}
		if err := tx.PutVault(&Vault{ID: vault}); err != nil {
			return err
		}
		if err := tx.PutVault(&Vault{ID: vault + "2"}); err != nil {
			return err
		}
		for _, s := range []string{vault + "/secrets/a", vault + "/secrets/b", vault + "2/secrets/a"} {
			if err := tx.PutVaultSecret(&VaultSecret{ID: s, Sealed: []byte{1, 2, 3}}); err != nil {
				return err
			}
		}
		return nil
	})
	notFound(t, "an extension outside a cluster", st.Update(func(tx Tx) error { return tx.PutExtension(&Extension{ID: cluster}) }))
	update(t, st, func(tx Tx) error { return tx.DeleteVault(vault) })
	view(t, st, func(tx Tx) error {
		left, err := tx.VaultSecrets("")
		must(t, err)
		vs, err := tx.Vaults(sub)
		must(t, err)
		if len(left) != 1 || len(vs) != 1 || string(left[0].Sealed) != "\x01\x02\x03" {
			t.Fatalf("after deleting v: secrets %+v, vaults %d", left, len(vs))
		}
		ext, err := tx.Extension(strings.ToUpper(cluster + "/providers/Microsoft.KubernetesConfiguration/extensions/flux"))
		must(t, err)
		_ = ext
		return nil
	})
	update(t, st, func(tx Tx) error {
		return tx.DeleteExtension(cluster + "/providers/Microsoft.KubernetesConfiguration/extensions/flux")
	})
	notFound(t, "deleting it again", st.Update(func(tx Tx) error {
		return tx.DeleteExtension(cluster + "/providers/Microsoft.KubernetesConfiguration/extensions/flux")
	}))
}

func conformRollback(t *testing.T, st Store) {
	t.Helper()
	boom := errors.New("boom")
	err := st.Update(func(tx Tx) error {
		if err := tx.PutCluster(&Cluster{ID: cluster, TokenHash: "t"}); err != nil {
			return err
		}
		if err := tx.AppendEvent(&Event{ID: "e", Time: time.Now()}); err != nil {
			return err
		}
		if _, err := tx.BumpRevision(cluster); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	view(t, st, func(tx Tx) error {
		_, err := tx.Cluster(cluster)
		notFound(t, "a cluster of a failed update", err)
		_, err = tx.ClusterIDByToken("t")
		notFound(t, "its token", err)
		r, err := tx.Revision(cluster)
		must(t, err)
		n := 0
		must(t, tx.Events(time.Now().Add(-time.Hour), nil, func([]byte, Event) bool { n++; return true }))
		if r != 0 || n != 0 {
			t.Fatalf("revision %d, %d events, after a failed update", r, n)
		}
		return nil
	})
}

func conformReadYourWrites(t *testing.T, st Store) {
	t.Helper()
	update(t, st, func(tx Tx) error {
		if err := tx.PutConfig(&Config{ClusterID: cluster, Name: "a", Properties: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		if err := tx.PutConfig(&Config{ClusterID: cluster, Name: "b", Properties: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		if err := tx.DeleteConfig(cluster, "a"); err != nil {
			return err
		}
		cfgs, err := tx.Configs(cluster)
		if err != nil {
			return err
		}
		if len(cfgs) != 1 || cfgs[0].Name != "b" {
			t.Fatalf("inside the transaction: %d configurations, want b alone", len(cfgs))
		}
		if err := tx.PutCluster(&Cluster{ID: cluster, TokenHash: "t"}); err != nil {
			return err
		}
		if n, err := tx.CountClusters("00000000-0000-0000-0000-000000000000"); err != nil || n != 1 {
			t.Fatalf("inside the transaction: %d clusters counted (%v), want the one put", n, err)
		}
		if _, err := tx.Config(cluster, "a"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a deleted in the transaction: %v", err)
		}
		return nil
	})
}

// conformConcurrent: writers that read, change and write the same records
// at once (Update and Batch) all count.
func conformConcurrent(t *testing.T, st Store) {
	t.Helper()
	const writers, each = 8, 10
	concurrently(t, writers, each, func(w, _ int) error {
		write := st.Update
		if w%2 == 1 {
			write = st.Batch
		}
		return write(func(tx Tx) error { _, err := tx.BumpRevision(cluster); return err })
	})
	view(t, st, func(tx Tx) error {
		r, err := tx.Revision(cluster)
		if r != writers*each {
			t.Fatalf("revision %d after %d bumps: updates were lost", r, writers*each)
		}
		return err
	})
}

// conformWriteSkew: writers that count a cluster's configurations and
// act on the count (a quota, as the API's own) stay serializable: creates
// never exceed the limit, although each writes a key no other reads; and
// deletes that keep one never leave none, although each deletes a
// different key. An engine that checked only the keys a transaction read
// by name (not the ranges it scanned, nor the keys deleted from them)
// would let both happen.
func conformWriteSkew(t *testing.T, st Store) {
	t.Helper()
	const writers, limit = 8, 5
	count := func() int {
		n := 0
		view(t, st, func(tx Tx) error { cfgs, err := tx.Configs(cluster); n = len(cfgs); return err })
		return n
	}
	race := func(fn func(w, i int) func(Tx) error) {
		t.Helper()
		concurrently(t, writers, limit, func(w, i int) error { return st.Update(fn(w, i)) })
	}
	race(func(w, i int) func(Tx) error {
		return func(tx Tx) error {
			cfgs, err := tx.Configs(cluster)
			if err != nil || len(cfgs) >= limit {
				return err
			}
			return tx.PutConfig(&Config{ClusterID: cluster, Name: fmt.Sprintf("w%d-%d", w, i), Properties: json.RawMessage(`{}`)})
		}
	})
	if n := count(); n != limit {
		t.Fatalf("%d configurations after concurrent creates limited to %d", n, limit)
	}
	race(func(w, _ int) func(Tx) error {
		return func(tx Tx) error {
			cfgs, err := tx.Configs(cluster)
			if err != nil || len(cfgs) <= 1 {
				return err
			}
			// Each writer deletes another one of those it sees.
			return tx.DeleteConfig(cluster, cfgs[w%len(cfgs)].Name)
		}
	})
	if n := count(); n != 1 {
		t.Fatalf("%d configurations after concurrent deletes that keep one", n)
	}
}

// concurrently runs write(w, i) for i < each in each of writers
// goroutines w at once, and fails t with the first error.
func concurrently(t *testing.T, writers, each int, write func(w, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := write(w, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// conformLarge: a configuration near the data plane's body limit (1 MiB)
// reads back whole.
func conformLarge(t *testing.T, st Store) {
	t.Helper()
	big := json.RawMessage(`{"x":"` + strings.Repeat("a", 1<<20-16) + `"}`)
	update(t, st, func(tx Tx) error { return tx.PutConfig(&Config{ClusterID: cluster, Name: "big", Properties: big}) })
	view(t, st, func(tx Tx) error {
		c, err := tx.Config(cluster, "big")
		must(t, err)
		if string(c.Properties) != string(big) {
			t.Fatalf("a %d-byte configuration read back as %d bytes", len(big), len(c.Properties))
		}
		return nil
	})
}
