package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/kql"
)

// The Resource Graph tables, an index in memory fed by the store's
// changes: every committed write names what it changed, and the index
// re-reads those resources shortly after (within milliseconds; a second at
// most), so that a query never scans the store. The store stays the truth:
// the index is built from it at start.

// graphTables are the tables served, as Resource Graph names them.
var graphTables = []string{"Resources", "ResourceContainers", "KubernetesConfigurationResources", "PolicyResources"}

// change names what a write changed: a kind and an ID.
type change struct{ kind, id string }

const (
	chCluster    = "cluster" // and, when deleted, everything under it
	chConfig     = "config"  // id: cluster ID + "\x00" + name
	chGroup      = "group"
	chVault      = "vault"
	chExtension  = "extension"
	chState      = "state" // id: store key of the state
	chAssignment = "assignment"
)

// graphIndex holds the tables' rows by table and lower-case ID.
type graphIndex struct {
	s    *Server
	mu   sync.RWMutex
	rows map[string]map[string]kql.Row
	// sorted is each table's rows by lower-case id, kept in order as rows
	// change, so that no query sorts: a B-tree (github.com/google/btree),
	// whose inserts and deletes cost log n where a list's cost n.
	sorted  map[string]*btree.BTreeG[graphEntry]
	pmu     sync.Mutex
	pending map[change]bool
	wake    chan struct{}
	idle    *sync.Cond
	busy    bool
	// next is closed, and replaced, when a commit changes the rows: the
	// portal's pages wait on it to update live.
	next chan struct{}
}

func newGraphIndex(s *Server) *graphIndex {
	g := &graphIndex{s: s, rows: map[string]map[string]kql.Row{}, sorted: map[string]*btree.BTreeG[graphEntry]{}, pending: map[change]bool{}, wake: make(chan struct{}, 1), next: make(chan struct{})}
	g.idle = sync.NewCond(&g.pmu)
	for _, t := range graphTables {
		g.rows[strings.ToLower(t)] = map[string]kql.Row{}
		g.sorted[strings.ToLower(t)] = btree.NewG(32, func(a, b graphEntry) bool { return a.key < b.key })
	}
	return g
}

// load builds the index from the store.
func (g *graphIndex) load() error {
	var changes []change
	err := g.s.store.View(func(tx store.Tx) error {
		clusters, err := tx.Clusters()
		if err != nil {
			return err
		}
		for _, c := range clusters {
			changes = append(changes, change{chCluster, c.ID})
			configs, err := tx.Configs(c.ID)
			if err != nil {
				return err
			}
			for _, cfg := range configs {
				changes = append(changes, change{chConfig, c.ID + "\x00" + cfg.Name})
			}
			exts, err := tx.Extensions(c.ID)
			if err != nil {
				return err
			}
			for _, e := range exts {
				changes = append(changes, change{chExtension, e.ID})
			}
		}
		for _, sub := range g.s.opts.Subscriptions {
			groups, err := tx.ResourceGroups(sub.ID)
			if err != nil {
				return err
			}
			for _, rg := range groups {
				changes = append(changes, change{chGroup, rg.ID})
			}
		}
		vaults, err := tx.Vaults("")
		if err != nil {
			return err
		}
		for _, v := range vaults {
			changes = append(changes, change{chVault, v.ID})
		}
		states, err := tx.PolicyStates("")
		if err != nil {
			return err
		}
		for _, st := range states {
			changes = append(changes, change{chState, st.Key()})
		}
		assignments, err := tx.PolicyAssignments()
		for _, a := range assignments {
			changes = append(changes, change{chAssignment, a.ID})
		}
		return err
	})
	if err != nil {
		return err
	}
	return g.apply(changes)
}

// rebuild reads the whole index again from the store, and swaps it in.
func (g *graphIndex) rebuild() error {
	fresh := newGraphIndex(g.s)
	if err := fresh.load(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rows, g.sorted = fresh.rows, fresh.sorted
	close(g.next)
	g.next = make(chan struct{})
	return nil
}

// changed queues changes for the index.
func (g *graphIndex) changed(cs []change) {
	if len(cs) == 0 {
		return
	}
	g.pmu.Lock()
	for _, c := range cs {
		g.pending[c] = true
	}
	g.pmu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// run applies queued changes until ctx ends.
func (g *graphIndex) run(ctx context.Context) {
	for {
		g.pmu.Lock()
		for len(g.pending) == 0 {
			g.busy = false
			g.idle.Broadcast()
			g.pmu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-g.wake:
			}
			g.pmu.Lock()
		}
		batch := make([]change, 0, len(g.pending))
		for c := range g.pending {
			batch = append(batch, c)
		}
		g.pending, g.busy = map[change]bool{}, true
		g.pmu.Unlock()
		if err := g.apply(batch); err != nil && ctx.Err() == nil {
			g.s.opts.Log.Error(err, "Failed to index changes for Resource Graph")
		}
	}
}

// wait blocks until every queued change is applied.
func (g *graphIndex) wait() {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	for len(g.pending) > 0 || g.busy {
		g.idle.Wait()
	}
}

// graphUpsert is a row to put in a table, by lower-case id.
type graphUpsert struct {
	table, key string
	row        kql.Row
}

// graphKey is a row of a table, by lower-case id.
type graphKey struct{ table, key string }

// apply re-reads what changed and updates the rows.
func (g *graphIndex) apply(cs []change) error {
	var ups []graphUpsert
	var gone []graphKey
	var trees []string // deleted clusters and vaults: their rows and everything under them go
	err := g.s.store.View(func(tx store.Tx) error {
		for _, c := range cs {
			table, row, found, err := g.read(tx, c)
			if err != nil {
				return err
			}
			id := c.id
			if c.kind == chConfig {
				cluster, name, _ := strings.Cut(c.id, "\x00")
				id = arm.FluxConfigID(cluster, name)
			}
			switch {
			case found:
				ups = append(ups, graphUpsert{table, strings.ToLower(id), row})
			case c.kind == chCluster || c.kind == chVault:
				trees = append(trees, strings.ToLower(id))
			default:
				gone = append(gone, graphKey{table, strings.ToLower(id)})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	g.commit(ups, gone, trees)
	return nil
}

// commit puts ups, and removes gone and the rows under trees.
func (g *graphIndex) commit(ups []graphUpsert, gone []graphKey, trees []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	remove := func(table, key string) {
		delete(g.rows[table], key)
		g.sorted[table].Delete(graphEntry{key: key})
	}
	for _, prefix := range trees {
		for table, rows := range g.rows {
			for key := range rows {
				if key == prefix || strings.HasPrefix(key, prefix+"/") {
					remove(table, key)
				}
			}
		}
	}
	for _, d := range gone {
		remove(d.table, d.key)
	}
	for _, u := range ups {
		g.rows[u.table][u.key] = u.row
		g.sorted[u.table].ReplaceOrInsert(entryOf(u.key, u.row))
	}
	if len(ups)+len(gone)+len(trees) > 0 {
		close(g.next)
		g.next = make(chan struct{})
	}
}

// changes is closed at the next commit that changes the rows.
func (g *graphIndex) changes() <-chan struct{} {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.next
}

// read renders the resource a change names as its table's row; found is
// false when it no longer exists.
func (g *graphIndex) read(tx store.Tx, c change) (table string, row kql.Row, found bool, err error) {
	switch c.kind {
	case chCluster:
		cl, err := tx.Cluster(c.id)
		if err != nil {
			return "resources", nil, false, ignoreNotFound(err)
		}
		m := renderCluster(cl, "")
		return "resources", graphRow(m, g.s.opts.TenantID), true, nil
	case chConfig:
		clusterID, name, _ := strings.Cut(c.id, "\x00")
		cfg, err := tx.Config(clusterID, name)
		if err != nil || cfg.Deleting {
			return "kubernetesconfigurationresources", nil, false, ignoreNotFound(err)
		}
		cl, err := tx.Cluster(clusterID)
		if err != nil {
			return "kubernetesconfigurationresources", nil, false, ignoreNotFound(err)
		}
		m, err := renderConfig(refOf(cl), cfg)
		if err != nil {
			return "", nil, false, err
		}
		return "kubernetesconfigurationresources", graphRow(m, g.s.opts.TenantID), true, nil
	case chExtension:
		e, err := tx.Extension(c.id)
		if err != nil {
			return "kubernetesconfigurationresources", nil, false, ignoreNotFound(err)
		}
		cl, _ := tx.Cluster(c.id[:strings.Index(strings.ToLower(c.id), "/providers/microsoft.kubernetesconfiguration/")])
		return "kubernetesconfigurationresources", graphRow(renderExtension(e, cl), g.s.opts.TenantID), true, nil
	case chGroup:
		rg, err := tx.ResourceGroup(c.id)
		if err != nil {
			return "resourcecontainers", nil, false, ignoreNotFound(err)
		}
		return "resourcecontainers", graphRow(renderGroup(rg), g.s.opts.TenantID), true, nil
	case chVault:
		v, err := tx.Vault(c.id)
		if err != nil {
			return "resources", nil, false, ignoreNotFound(err)
		}
		return "resources", graphRow(renderVault(v), g.s.opts.TenantID), true, nil
	case chAssignment:
		a, err := tx.PolicyAssignment(c.id)
		if err != nil {
			return "policyresources", nil, false, ignoreNotFound(err)
		}
		return "policyresources", graphRow(renderPolicyAssignment(a), g.s.opts.TenantID), true, nil
	case chState:
		st, err := stateByKey(tx, c.id)
		if err != nil || st == nil {
			return "policyresources", nil, false, err
		}
		return "policyresources", stateRow(st, g.s.opts.TenantID), true, nil
	}
	return "", nil, false, nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// stateByKey finds a policy state by its store key (resource, assignment,
// member), nil when it is gone.
func stateByKey(tx store.Tx, key string) (*store.PolicyState, error) {
	resource, _, _ := strings.Cut(key, "\x00")
	states, err := tx.PolicyStatesUnder(resource)
	for i := range states {
		if states[i].Key() == key {
			return &states[i], nil
		}
	}
	return nil, err
}

// graphRow is an ARM resource as a Resource Graph row: type in lower case,
// id as ARM spells it, resourceGroup in lower case, and the common columns.
func graphRow(m map[string]any, tenant string) kql.Row {
	raw, _ := json.Marshal(m)
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	id, _ := v["id"].(string)
	segs := strings.Split(strings.Trim(id, "/"), "/")
	// The columns most rows have alike are kept once, in a base row; a row
	// holds its own (few enough that its map stays small and quick), its
	// property bags compacted for scans.
	row := kql.WithBase(kql.Row{"id": id, "name": kql.Compact(v["name"]), "type": kql.Compact(strings.ToLower(str(v["type"]))),
		"location": kql.Compact(orEmpty(v["location"])), "resourceGroup": "", "subscriptionId": "", "properties": kql.Compact(v["properties"])},
		commonRow(tenant))
	if tags, ok := v["tags"].(map[string]any); ok && len(tags) > 0 {
		row["tags"] = kql.Compact(tags)
	}
	if v["identity"] != nil {
		row["identity"] = kql.Compact(v["identity"])
	}
	if len(segs) >= 2 && strings.EqualFold(segs[0], "subscriptions") {
		row["subscriptionId"] = kql.Compact(segs[1])
	}
	if len(segs) >= 4 && strings.EqualFold(segs[2], "resourceGroups") {
		row["resourceGroup"] = kql.Compact(strings.ToLower(segs[3]))
	}
	return row
}

var (
	commonMu   sync.Mutex
	commonRows = map[string]kql.Row{}
)

// commonRow holds the columns rows have alike, by tenant; it is shared and
// never changed.
func commonRow(tenant string) kql.Row {
	commonMu.Lock()
	defer commonMu.Unlock()
	r, ok := commonRows[tenant]
	if !ok {
		r = kql.Row{"tenantId": tenant, "kind": "", "managedBy": "", "sku": nil, "plan": nil, "tags": map[string]any{},
			"identity": nil, "zones": nil, "extendedLocation": nil}
		commonRows[tenant] = r
	}
	return r
}

func str(v any) string { s, _ := v.(string); return s }

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// stateRow is a policy state as PolicyResources holds it.
func stateRow(st *store.PolicyState, tenant string) kql.Row {
	props := map[string]any{"complianceState": st.ComplianceState, "policyAssignmentId": st.AssignmentID,
		"policyDefinitionId": st.DefinitionID, "resourceId": st.ResourceID, "resourceType": st.ResourceType,
		"policyDefinitionAction": strings.ToLower(st.Effect), "timestamp": st.Timestamp.UTC().Format(time.RFC3339Nano),
		"policySetDefinitionId": st.SetDefinitionID, "policyDefinitionReferenceId": st.ReferenceID}
	if st.Error != "" {
		props["error"] = st.Error
	}
	id := st.ResourceID + "/providers/Microsoft.PolicyInsights/policyStates/" + lastSegment(st.AssignmentID)
	if st.ReferenceID != "" {
		id += "-" + st.ReferenceID
	}
	row := graphRow(map[string]any{"id": id, "name": lastSegment(st.AssignmentID), "type": "Microsoft.PolicyInsights/policyStates", "properties": props}, tenant)
	return row
}

// graphEntry is a row and the columns access checks read, kept beside it
// so that a scan reads no row it does not keep; key is its lower-case id,
// the table's order.
type graphEntry struct {
	row               kql.Row
	key, id, typ, sub string
}

func entryOf(key string, row kql.Row) graphEntry {
	e := graphEntry{row: row, key: key}
	e.id, _ = row["id"].(string)
	e.typ, _ = row["type"].(string)
	e.sub, _ = row["subscriptionId"].(string)
	return e
}

// scan is a table's rows by id that keep passes, for one query: a stable
// order, so that pages do not overlap, in a list of its own (the index
// goes on changing).
func (g *graphIndex) scan(table string, keep func(*graphEntry) bool) []kql.Row {
	g.mu.RLock()
	defer g.mu.RUnlock()
	tree := g.sorted[strings.ToLower(table)]
	if tree == nil {
		return nil
	}
	out := make([]kql.Row, 0, tree.Len())
	var cur graphEntry // one for the scan: keep takes its address
	tree.Ascend(func(e graphEntry) bool {
		if cur = e; keep(&cur) {
			out = append(out, e.row)
		}
		return true
	})
	return out
}

// lookup is a table's row of an id (as spelt, or but for case when fold)
// if keep passes it.
func (g *graphIndex) lookup(table, id string, fold bool, keep func(*graphEntry) bool) []kql.Row {
	g.mu.RLock()
	defer g.mu.RUnlock()
	key := strings.ToLower(id)
	row, ok := g.rows[strings.ToLower(table)][key]
	if !ok {
		return nil
	}
	e := entryOf(key, row)
	if (e.id == id || fold && strings.EqualFold(e.id, id)) && keep(&e) {
		return []kql.Row{row}
	}
	return nil
}

// recordingTx notes what a transaction changes, for the index.
type recordingTx struct {
	store.Tx
	changes *[]change
}

func (t recordingTx) note(kind, id string) { *t.changes = append(*t.changes, change{kind, id}) }

func (t recordingTx) PutCluster(c *store.Cluster) error {
	t.note(chCluster, c.ID)
	return t.Tx.PutCluster(c)
}
func (t recordingTx) DeleteCluster(id string) error {
	t.note(chCluster, id)
	return t.Tx.DeleteCluster(id)
}
func (t recordingTx) PutConfig(c *store.Config) error {
	t.note(chConfig, c.ClusterID+"\x00"+c.Name)
	return t.Tx.PutConfig(c)
}
func (t recordingTx) DeleteConfig(clusterID, name string) error {
	t.note(chConfig, clusterID+"\x00"+name)
	return t.Tx.DeleteConfig(clusterID, name)
}
func (t recordingTx) PutResourceGroup(rg *store.ResourceGroup) error {
	t.note(chGroup, rg.ID)
	return t.Tx.PutResourceGroup(rg)
}
func (t recordingTx) DeleteResourceGroup(id string) error {
	t.note(chGroup, id)
	return t.Tx.DeleteResourceGroup(id)
}
func (t recordingTx) PutVault(v *store.Vault) error { t.note(chVault, v.ID); return t.Tx.PutVault(v) }
func (t recordingTx) DeleteVault(id string) error   { t.note(chVault, id); return t.Tx.DeleteVault(id) }
func (t recordingTx) PutExtension(e *store.Extension) error {
	t.note(chExtension, e.ID)
	return t.Tx.PutExtension(e)
}
func (t recordingTx) DeleteExtension(id string) error {
	t.note(chExtension, id)
	return t.Tx.DeleteExtension(id)
}
func (t recordingTx) PutPolicyState(st *store.PolicyState) error {
	t.note(chState, st.Key())
	return t.Tx.PutPolicyState(st)
}
func (t recordingTx) DeletePolicyState(assignmentID, resourceID, referenceID string) error {
	st := store.PolicyState{AssignmentID: assignmentID, ResourceID: resourceID, ReferenceID: referenceID}
	t.note(chState, st.Key())
	return t.Tx.DeletePolicyState(assignmentID, resourceID, referenceID)
}
func (t recordingTx) PutPolicyAssignment(a *store.PolicyAssignment) error {
	t.note(chAssignment, a.ID)
	return t.Tx.PutPolicyAssignment(a)
}
func (t recordingTx) DeletePolicyAssignment(id string) error {
	t.note(chAssignment, id)
	return t.Tx.DeletePolicyAssignment(id)
}

// indexedStore is the store, telling the index what each committed write
// changed.
type indexedStore struct {
	store.Store
	idx *graphIndex
}

func (s indexedStore) Update(fn func(store.Tx) error) error {
	var changes []change
	err := s.Store.Update(func(tx store.Tx) error {
		changes = changes[:0]
		return fn(recordingTx{Tx: tx, changes: &changes})
	})
	if err == nil {
		s.idx.changed(changes)
	}
	return err
}

func (s indexedStore) Batch(fn func(store.Tx) error) error {
	var changes []change
	err := s.Store.Batch(func(tx store.Tx) error {
		changes = changes[:0]
		return fn(recordingTx{Tx: tx, changes: &changes})
	})
	if err == nil {
		s.idx.changed(changes)
	}
	return err
}
