package dataplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/util/workqueue"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armexpr"
	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/armtemplate"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/policy"
)

// policyEngine evaluates policy assignments against clusters in the
// background, as Azure Policy does after a change: a cluster registered or
// updated is evaluated at once and gets its deployIfNotExists deployments;
// a configuration written or reported on, or an assignment created,
// re-evaluates compliance only. The queue holds each cluster once.
type policyEngine struct {
	s       *Server
	mu      sync.Mutex
	pending map[string]bool // cluster ID -> deployments allowed
	order   []string
	wake    chan struct{}
	idle    *sync.Cond
	busy    bool
	// active: some assignment exists; without one nothing is queued, so
	// that status reports cost nothing.
	active atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
	// ctx ends with stop; remediations run under it.
	ctx context.Context
	// running are the remediations in progress, by key; work waits for them.
	running map[string]bool
	work    sync.WaitGroup
	// triggers counts triggered evaluations; drained is the count when
	// the queue was last found empty; boot names this start in tickets.
	triggers, drained uint64
	boot              string
	// shared: other data planes use the store (etcd): a remediation runs
	// where it is claimed, and is taken over when its runner stops renewing.
	shared bool
	// evaluate is evaluateCluster (tests make it fail); a failed
	// evaluation is queued again after backoff's delay for it, and
	// retrying counts those waiting to be, by cluster. current is the
	// cluster being evaluated.
	evaluate func(clusterID string, deploy bool) error
	backoff  workqueue.TypedRateLimiter[string]
	retrying map[string]int
	current  string
	// tickets counts evaluations started; evaluated holds, by cluster, the
	// ticket of its last evaluation that went through.
	tickets   uint64
	evaluated map[string]uint64
}

func newPolicyEngine(s *Server) *policyEngine {
	e := &policyEngine{s: s, pending: map[string]bool{}, wake: make(chan struct{}, 1), done: make(chan struct{}), boot: newBoot(),
		backoff: workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 30*time.Second), retrying: map[string]int{}, evaluated: map[string]uint64{}}
	e.evaluate = e.evaluateCluster
	e.idle = sync.NewCond(&e.mu)
	e.refresh()
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

// start runs the queue and resumes interrupted remediations; the server
// calls it once its policy field is set.
func (e *policyEngine) start() {
	go e.run(e.ctx)
	e.resumeRemediations()
	if e.shared {
		go e.sweep(e.ctx)
	}
}

// sweep takes over, every third of the claim TTL, the remediations whose
// runner (another replica) stopped renewing its claim.
func (e *policyEngine) sweep(ctx context.Context) {
	t := time.NewTicker(e.s.opts.RemediationClaimTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.resumeRemediations()
		}
	}
}

// enqueue asks for clusterID's evaluation; deploy lets deployIfNotExists
// deploy (the cluster itself was created or changed).
func (e *policyEngine) enqueue(clusterID string, deploy bool) {
	if e == nil || !e.active.Load() {
		return
	}
	e.mu.Lock()
	e.enqueueLocked(clusterID, deploy)
	e.mu.Unlock()
	e.poke()
}

func (e *policyEngine) enqueueLocked(clusterID string, deploy bool) {
	d, queued := e.pending[clusterID]
	if !queued {
		e.order = append(e.order, clusterID)
	}
	e.pending[clusterID] = d || deploy
}

// poke wakes the queue.
func (e *policyEngine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// refresh notes whether any assignment exists (kept as it was when the
// store cannot say).
func (e *policyEngine) refresh() {
	_ = e.s.store.View(func(tx store.Tx) error {
		all, err := tx.PolicyAssignments()
		if err == nil {
			e.active.Store(len(all) > 0)
		}
		return err
	})
}

// retryLater queues a cluster whose evaluation failed again, after a delay
// that grows with its failures (1 s to 30 s): a store away for a moment
// (an etcd member lost, a leader elected) loses no evaluation.
func (e *policyEngine) retryLater(id string, deploy bool) {
	e.mu.Lock()
	e.retrying[id]++
	e.mu.Unlock()
	time.AfterFunc(e.backoff.When(id), func() {
		e.mu.Lock()
		if e.retrying[id]--; e.retrying[id] == 0 {
			delete(e.retrying, id)
		}
		if e.ctx.Err() == nil {
			e.enqueueLocked(id, deploy)
		}
		e.idle.Broadcast()
		e.mu.Unlock()
		e.poke()
	})
}

// wait blocks until the queue is empty, no evaluation runs and none waits
// to run again, or the engine stops.
func (e *policyEngine) wait() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for (len(e.order) > 0 || e.busy || len(e.retrying) > 0) && e.ctx.Err() == nil {
		e.idle.Wait()
	}
}

// mark is the engine's count of evaluations started, for waitFor.
func (e *policyEngine) mark() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tickets
}

// waitFor blocks until each of ids, queued after mark was taken, has been
// evaluated by an evaluation that started after it (a failed one once its
// retry went through), and reports true; or until ctx or the engine ends
// (whoever cancels ctx broadcasts idle), false. Unlike wait, it does not
// wait for what others queue meanwhile: under a steady stream of writes
// the queue may never be empty, nor a cluster stay out of it.
func (e *policyEngine) waitFor(ctx context.Context, since uint64, ids []string) bool {
	if !e.active.Load() {
		return true // nothing was queued
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	left := map[string]bool{}
	for _, id := range ids {
		left[id] = true
	}
	for len(left) > 0 {
		if ctx.Err() != nil || e.ctx.Err() != nil {
			return false
		}
		for id := range left {
			if e.evaluated[id] > since {
				delete(left, id)
			}
		}
		if len(left) > 0 {
			e.idle.Wait()
		}
	}
	return true
}

func (e *policyEngine) stop() {
	e.cancel()
	e.mu.Lock()
	e.idle.Broadcast() // a wait returns
	e.mu.Unlock()
	<-e.done
	e.work.Wait()
}

func (e *policyEngine) run(ctx context.Context) {
	defer close(e.done)
	for {
		e.mu.Lock()
		for len(e.order) == 0 {
			e.busy, e.drained = false, e.triggers
			e.idle.Broadcast()
			e.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			}
			e.mu.Lock()
		}
		id := e.order[0]
		e.order = e.order[1:]
		deploy := e.pending[id]
		delete(e.pending, id)
		e.busy, e.current = true, id
		e.tickets++
		ticket := e.tickets
		e.mu.Unlock()
		err := e.evaluate(id, deploy)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			slog.Error("policy evaluation failed; it runs again later", "cluster", id, "error", err)
			e.retryLater(id, deploy)
		default:
			e.backoff.Forget(id)
		}
		e.mu.Lock()
		if err == nil {
			e.evaluated[id] = ticket
		}
		e.current = ""
		e.idle.Broadcast() // a waitFor may be waiting for this one
		e.mu.Unlock()
	}
}

// assigned is an assignment with its compiled definition and values; an
// assignment of a policy set is one assigned per member, with the set's
// ID and the member's reference ID.
type assigned struct {
	a      store.PolicyAssignment
	props  assignmentProperties
	def    *policy.Definition
	params map[string]any
	// defID is the definition's ID (a set's member's, for a set).
	defID, setID, ref string
}

// assignmentsFor are the assignments whose scope covers id and whose
// notScopes do not.
func assignmentsFor(tx store.Tx, id string) ([]assigned, error) {
	all, err := tx.PolicyAssignments()
	if err != nil {
		return nil, err
	}
	var out []assigned
	for _, a := range all {
		if !inScope(id, a.Scope) {
			continue
		}
		var p assignmentProperties
		if err := json.Unmarshal(a.Properties, &p); err != nil {
			return nil, err
		}
		excluded := false
		for _, ns := range p.NotScopes {
			excluded = excluded || inScope(id, ns)
		}
		if excluded {
			continue
		}
		if isSetID(p.PolicyDefinitionID) {
			members, err := setMembers(tx, p.PolicyDefinitionID, p.Parameters)
			if err != nil {
				return nil, fmt.Errorf("assignment %s: %w", a.ID, err)
			}
			for _, m := range members {
				out = append(out, assigned{a: a, props: p, def: m.Definition, params: m.Parameters,
					defID: m.DefinitionID, setID: p.PolicyDefinitionID, ref: m.ReferenceID})
			}
			continue
		}
		stored, err := policyDefinition(tx, p.PolicyDefinitionID)
		if err != nil {
			return nil, fmt.Errorf("assignment %s: definition %s: %w", a.ID, p.PolicyDefinitionID, err)
		}
		def, err := compiled(stored)
		if err != nil {
			return nil, err
		}
		params, err := def.ResolveParameters(p.Parameters)
		if err != nil {
			return nil, err
		}
		out = append(out, assigned{a: a, props: p, def: def, params: params, defID: p.PolicyDefinitionID})
	}
	return out, nil
}

// compiledDefinitions caches definitions compiled, by key of their ID, so
// that evaluating a fleet compiles each definition once; an entry is used
// only while the stored properties are the ones it was compiled from.
var compiledDefinitions sync.Map

type compiledDefinition struct {
	raw []byte
	def *policy.Definition
}

func compiled(d *store.PolicyDefinition) (*policy.Definition, error) {
	key := store.Key(d.ID)
	if c, ok := compiledDefinitions.Load(key); ok && bytes.Equal(c.(compiledDefinition).raw, d.Properties) {
		return c.(compiledDefinition).def, nil
	}
	var props policy.DefinitionProperties
	if err := json.Unmarshal(d.Properties, &props); err != nil {
		return nil, err
	}
	def, err := policy.ParseDefinition(props)
	if err != nil {
		return nil, err
	}
	compiledDefinitions.Store(key, compiledDefinition{raw: bytes.Clone(d.Properties), def: def})
	return def, nil
}

// clusterResource is a cluster as a policy sees it.
func clusterResource(c *store.Cluster) *policy.Resource {
	provider := "Microsoft.Kubernetes"
	if strings.EqualFold(c.Type, "managedClusters") {
		provider = "Microsoft.ContainerService"
	}
	return &policy.Resource{ID: c.ID, Name: c.Name, Type: provider + "/" + c.Type, Location: c.Location,
		Properties: map[string]any{"provisioningState": "Succeeded"}}
}

// configResources are a cluster's fluxConfigurations as a policy sees
// them: their GET shape.
func configResources(ref clusterRef, configs []store.Config) ([]*policy.Resource, error) {
	out := make([]*policy.Resource, 0, len(configs))
	for i := range configs {
		if configs[i].Deleting {
			continue
		}
		m, err := renderConfig(ref, &configs[i])
		if err != nil {
			return nil, err
		}
		props, _ := m["properties"].(map[string]any)
		out = append(out, &policy.Resource{ID: arm.FluxConfigID(ref.ID(), configs[i].Name), Name: configs[i].Name,
			Type: arm.FluxConfigurationsType, Properties: normalize(props)})
	}
	return out, nil
}

// relatedResources are what a cluster's policies see beside it: its
// configurations and its extensions.
func relatedResources(ref clusterRef, configs []store.Config, exts []store.Extension, cluster *store.Cluster) ([]*policy.Resource, error) {
	out, err := configResources(ref, configs)
	if err != nil {
		return nil, err
	}
	return append(out, extensionResources(exts, cluster)...), nil
}

// normalize gives a rendered map the JSON types the rule language reads.
func normalize(m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	v, err := armexpr.FromJSON(b)
	if err != nil {
		return m
	}
	out, _ := v.(map[string]any)
	return out
}

// evaluateCluster evaluates every assignment covering the cluster, records
// the verdicts, and deploys what deployIfNotExists asks when deploy.
func (e *policyEngine) evaluateCluster(clusterID string, deploy bool) error {
	s := e.s
	s.metrics.evaluations.Inc()
	var (
		cluster  *store.Cluster
		configs  []store.Config
		exts     []store.Extension
		assigns  []assigned
		group    *store.ResourceGroup
		notFound bool
	)
	err := s.store.View(func(tx store.Tx) error {
		var err error
		if cluster, err = tx.Cluster(clusterID); err != nil {
			return err
		}
		if configs, err = tx.Configs(clusterID); err != nil {
			return err
		}
		if exts, err = tx.Extensions(clusterID); err != nil {
			return err
		}
		group, _ = tx.ResourceGroup("/subscriptions/" + cluster.Subscription + "/resourceGroups/" + cluster.ResourceGroup)
		assigns, err = assignmentsFor(tx, clusterID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		notFound = true
	} else if err != nil {
		return err
	}
	if notFound {
		return e.forget(clusterID)
	}
	ref := refOf(cluster)
	res := clusterResource(cluster)
	related, err := relatedResources(ref, configs, exts, cluster)
	if err != nil {
		return err
	}
	env := func(params map[string]any) *policy.Env {
		return &policy.Env{Parameters: params, ResourceGroup: groupObject(cluster, group), Subscription: map[string]any{
			"id": "/subscriptions/" + cluster.Subscription, "subscriptionId": cluster.Subscription, "tenantId": s.opts.TenantID}}
	}
	seen := map[string]bool{}
	for _, as := range assigns {
		// The cluster, with its configurations as related resources; and
		// each configuration, for the rules written for them.
		for _, subject := range append([]*policy.Resource{res}, related...) {
			rel := related
			if subject != res {
				rel = nil
			}
			enforce := deploy && subject == res && as.props.EnforcementMode != "DoNotEnforce"
			st, applicable, err := e.verdict(as, subject, rel, env(as.params), enforce, cluster, nil)
			if err != nil {
				return err
			}
			if applicable {
				seen[st.Key()] = true
			}
			if err := e.record(st, applicable); err != nil {
				return err
			}
		}
	}
	return e.dropStale(clusterID, seen)
}

// deployGuard runs inside each deployment's transaction and refuses it
// with its error (nil: no guard).
type deployGuard func(store.Tx) error

// verdict evaluates one assignment on one resource, deploying when allowed
// (each deployment's transaction checked by guard). It fails only when
// guard refused a deployment.
func (e *policyEngine) verdict(as assigned, subject *policy.Resource, related []*policy.Resource, env *policy.Env, deploy bool, cluster *store.Cluster,
	guard deployGuard) (*store.PolicyState, bool, error) {
	v, err := as.def.Evaluate(subject, related, env)
	st := &store.PolicyState{AssignmentID: as.a.ID, DefinitionID: as.defID, ResourceID: subject.ID,
		ResourceType: subject.Type, ComplianceState: v.ComplianceState, Effect: v.Effect, SetDefinitionID: as.setID, ReferenceID: as.ref}
	if err != nil {
		st.ComplianceState, st.Error = policy.NonCompliant, "evaluation failed: "+err.Error()
		return st, true, nil
	}
	if v.Deploy && deploy {
		if err := e.deploy(as, subject, cluster, env, guard); err != nil {
			if errors.Is(err, errLostClaim) {
				return nil, false, err
			}
			st.Error = err.Error()
		} else {
			// The deployment made the related resource; its write queues
			// this cluster again, to evaluate it.
			st.ComplianceState = policy.Compliant
		}
	}
	return st, v.Applicable, nil
}

func refOf(c *store.Cluster) clusterRef {
	t := clusterTypes[strings.ToLower(clusterResource(c).Type)]
	return clusterRef{Subscription: c.Subscription, ResourceGroup: c.ResourceGroup, Provider: t[0], Type: t[1], Name: c.Name}
}

func groupObject(c *store.Cluster, g *store.ResourceGroup) map[string]any {
	out := map[string]any{"id": "/subscriptions/" + c.Subscription + "/resourceGroups/" + c.ResourceGroup, "name": c.ResourceGroup}
	if g != nil {
		out["location"] = g.Location
		tags := map[string]any{}
		for k, v := range g.Tags {
			tags[k] = v
		}
		out["tags"] = tags
	}
	return out
}

// record writes a state when it changed, or removes it when the
// assignment no longer applies; an unchanged verdict writes nothing.
func (e *policyEngine) record(st *store.PolicyState, applicable bool) error {
	var old *store.PolicyState
	err := e.s.store.View(func(tx store.Tx) error {
		var err error
		old, err = tx.PolicyState(st.AssignmentID, st.ResourceID, st.ReferenceID)
		if errors.Is(err, store.ErrNotFound) {
			old, err = nil, nil
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case !applicable && old == nil:
		return nil
	case !applicable:
		return e.s.store.Update(func(tx store.Tx) error { return tx.DeletePolicyState(st.AssignmentID, st.ResourceID, st.ReferenceID) })
	case old != nil && old.ComplianceState == st.ComplianceState && old.Effect == st.Effect && old.Error == st.Error:
		return nil
	}
	st.Timestamp = e.s.opts.Now().UTC()
	return e.s.store.Update(func(tx store.Tx) error { return tx.PutPolicyState(st) })
}

// dropStale removes the states of the cluster and its configurations that
// this evaluation did not produce (a deleted configuration, an assignment
// that no longer applies); when there are none it writes nothing.
func (e *policyEngine) dropStale(clusterID string, seen map[string]bool) error {
	var stale []store.PolicyState
	err := e.s.store.View(func(tx store.Tx) error {
		states, err := tx.PolicyStatesUnder(clusterID)
		for _, st := range states {
			if !seen[st.Key()] {
				stale = append(stale, st)
			}
		}
		return err
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	return e.s.store.Update(func(tx store.Tx) error {
		for _, st := range stale {
			if err := tx.DeletePolicyState(st.AssignmentID, st.ResourceID, st.ReferenceID); err != nil {
				return err
			}
		}
		return nil
	})
}

// forget removes a deleted cluster's states, and its configurations'.
func (e *policyEngine) forget(clusterID string) error {
	return e.dropStale(clusterID, nil)
}

// deploy runs the definition's deployment for the cluster, as the
// assignment's identity: every resource the template makes must be a
// fluxConfiguration the identity may write.
func (e *policyEngine) deploy(as assigned, res *policy.Resource, cluster *store.Cluster, env *policy.Env, guard deployGuard) error {
	s := e.s
	if as.a.Identity == nil {
		return errors.New("the assignment has no managed identity to deploy with")
	}
	dep, err := as.def.DeploymentFor(res, env)
	if err != nil {
		return err
	}
	grants, err := s.grantsOf(as.a.Identity.PrincipalID)
	if err != nil {
		return err
	}
	resources, err := armtemplate.Evaluate(dep.Template, armtemplate.Input{Parameters: dep.Parameters,
		ResourceGroup: env.ResourceGroup, Subscription: env.Subscription, KeyVault: s.vaultResolver(grants, as.a.Identity.PrincipalID)})
	if err != nil {
		return fmt.Errorf("the deployment's template: %w", err)
	}
	for _, r := range resources {
		isExtension := strings.EqualFold(r.Type, extensionsType)
		if !strings.EqualFold(r.Type, arm.FluxConfigurationsType) && !isExtension {
			return fmt.Errorf("the template deploys %s: only %s and %s deploy here", r.Type, arm.FluxConfigurationsType, extensionsType)
		}
		ref, err := deploymentTarget(cluster, r.Scope)
		if err != nil {
			return err
		}
		id, action := arm.FluxConfigID(ref.ID(), r.Name), writeConfigs
		if isExtension {
			id, action = extensionID(ref, r.Name), writeExtensions
		}
		if !armrbac.Allowed(grants, action, id) {
			return fmt.Errorf("the assignment's identity %s has no role allowing %s at %s: give it one of the definition's roles (%s) at the assignment's scope, e.g. az role assignment create --assignee %s --role Contributor --scope %s",
				as.a.Identity.PrincipalID, action, id, strings.Join(as.def.Details.RoleDefinitionIDs, ", "), as.a.Identity.PrincipalID, as.a.Scope)
		}
		if isExtension {
			err = e.putExtension(ref, r, "policy:"+as.a.Name, guard)
		} else {
			err = e.put(ref, r, "policy:"+as.a.Name, guard)
		}
		if err != nil {
			return fmt.Errorf("deploying %s: %w", id, err)
		}
	}
	return nil
}

// deploymentTarget resolves a template resource's scope (relative to the
// cluster's resource group, or an ID) to the cluster it extends.
func deploymentTarget(cluster *store.Cluster, scope string) (clusterRef, error) {
	if scope == "" {
		return clusterRef{}, errors.New("the fluxConfiguration has no scope: set the resource's \"scope\" to its cluster, e.g. Microsoft.Kubernetes/connectedClusters/<name>")
	}
	path := scope
	if !strings.HasPrefix(scope, "/") {
		path = "/subscriptions/" + cluster.Subscription + "/resourceGroups/" + cluster.ResourceGroup + "/providers/" + scope
	}
	ref, n := parseCluster(strings.Split(strings.Trim(path, "/"), "/"))
	if n != 8 {
		return clusterRef{}, fmt.Errorf("the scope %q is not a cluster", scope)
	}
	return ref, nil
}

// putExtension writes one template extension as an ARM PUT would.
func (e *policyEngine) putExtension(ref clusterRef, r armtemplate.Resource, by string, guard deployGuard) error {
	raw, err := json.Marshal(map[string]any{"identity": r.Identity, "properties": r.Properties})
	if err != nil {
		return err
	}
	var body extensionBody
	if err := json.Unmarshal(raw, &body); err != nil {
		return fmt.Errorf("the extension's properties: %w", err)
	}
	_, _, err = e.s.commitExtension(ref, r.Name, by, guard, &body)
	var failed errAPI
	if errors.As(err, &failed) {
		return errors.New(failed.e.message)
	}
	return err
}

// put writes one template resource as an ARM PUT with its api-version
// would.
func (e *policyEngine) put(ref clusterRef, r armtemplate.Resource, by string, guard deployGuard) error {
	raw, err := json.Marshal(r.Properties)
	if err != nil {
		return err
	}
	raw, ae := fromOldShapeVersion(r.APIVersion, raw)
	if ae != nil {
		return errors.New(ae.message)
	}
	d, protected, ae := parseProperties(r.Name, raw)
	if ae != nil {
		return errors.New(ae.message)
	}
	_, _, err = e.s.commitConfig(ref, r.Name, by, guard, func(*store.Config) (*agentapi.Properties, map[string]string, bool, *apiError) {
		return d, protected, protected != nil, nil
	})
	var failed errAPI
	if errors.As(err, &failed) {
		return errors.New(failed.e.message)
	}
	return err
}

// grantsOf are a principal's role grants.
func (s *Server) grantsOf(principalID string) ([]armrbac.Grant, error) {
	var grants []armrbac.Grant
	err := s.store.View(func(tx store.Tx) error {
		ras, err := tx.RoleAssignmentsOf(principalID)
		for _, a := range ras {
			if role, ok := armrbac.RoleByID(a.RoleDefinitionID); ok {
				grants = append(grants, armrbac.Grant{Scope: a.Scope, Role: role})
			}
		}
		return err
	})
	return grants, err
}

// evaluateScope queues every cluster under scope (an assignment changed).
func (e *policyEngine) evaluateScope(scope string) error {
	_, err := e.queueScope(scope)
	return err
}

// queueScope queues every cluster under scope and returns their IDs.
func (e *policyEngine) queueScope(scope string) ([]string, error) {
	ids, err := e.clustersIn(scope)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		e.enqueue(id, false)
	}
	return ids, nil
}

// clustersIn are the IDs of the clusters under scope.
func (e *policyEngine) clustersIn(scope string) ([]string, error) {
	var ids []string
	err := e.s.store.View(func(tx store.Tx) error {
		ids = ids[:0]
		clusters, err := tx.Clusters()
		for _, c := range clusters {
			if inScope(c.ID, scope) {
				ids = append(ids, c.ID)
			}
		}
		return err
	})
	return ids, err
}

// policyDenied is a write a deny assignment refused: ARM's
// RequestDisallowedByPolicy, with the assignment and definition named.
type policyDenied struct{ detail arm.ErrorDetail }

func (e *policyDenied) Error() string { return e.detail.Message }

// deny checks a fluxConfiguration about to be written against the deny
// assignments covering it.
func (e *policyEngine) deny(tx store.Tx, ref clusterRef, name string, d *agentapi.Properties) error {
	if e == nil || !e.active.Load() {
		return nil
	}
	id := arm.FluxConfigID(ref.ID(), name)
	assigns, err := assignmentsFor(tx, id)
	if err != nil || len(assigns) == 0 {
		return err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	var props map[string]any
	if err := json.Unmarshal(raw, &props); err != nil {
		return err
	}
	res := &policy.Resource{ID: id, Name: name, Type: arm.FluxConfigurationsType, Properties: normalize(props)}
	for _, as := range assigns {
		if as.props.EnforcementMode == "DoNotEnforce" {
			continue
		}
		effect, err := as.def.Effect(as.params)
		if err != nil || effect != policy.Deny {
			continue
		}
		env := &policy.Env{Parameters: as.params, Subscription: map[string]any{"subscriptionId": ref.Subscription},
			ResourceGroup: map[string]any{"name": ref.ResourceGroup}}
		matched, err := as.def.If.Eval(res, env)
		if err != nil {
			// A failed evaluation is an implicit deny, as in Azure.
			matched = true
		}
		if matched {
			return &policyDenied{detail: denyDetail(name, as)}
		}
	}
	return nil
}

func denyDetail(name string, as assigned) arm.ErrorDetail {
	display := func(s, fallback string) string {
		if s != "" {
			return s
		}
		return fallback
	}
	defName := lastSegment(as.defID)
	ids, _ := json.Marshal([]any{map[string]any{
		"policyAssignment": map[string]any{"name": display(as.props.DisplayName, as.a.Name), "id": as.a.ID},
		"policyDefinition": map[string]any{"name": display(as.def.Properties.DisplayName, defName), "id": as.defID},
	}})
	detail := arm.ErrorDetail{
		Code:    "RequestDisallowedByPolicy",
		Target:  name,
		Message: fmt.Sprintf("Resource '%s' was disallowed by policy. Policy identifiers: '%s'.", name, ids),
		AdditionalInfo: []arm.AdditionalInfo{{Type: "PolicyViolation", Info: map[string]any{
			"policyDefinitionDisplayName": as.def.Properties.DisplayName,
			"policyDefinitionId":          as.defID,
			"policyDefinitionName":        defName,
			"policyDefinitionEffect":      "deny",
			"policyAssignmentId":          as.a.ID,
			"policyAssignmentName":        as.a.Name,
			"policyAssignmentDisplayName": as.props.DisplayName,
			"policyAssignmentScope":       as.a.Scope,
			"policyAssignmentParameters":  as.props.Parameters,
		}}},
	}
	if as.setID != "" {
		info := detail.AdditionalInfo[0].Info.(map[string]any)
		info["policySetDefinitionId"], info["policySetDefinitionName"], info["policyDefinitionReferenceId"] = as.setID, lastSegment(as.setID), as.ref
	}
	return detail
}
