package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/policy"
)

// remediationAPIVersions are Microsoft.PolicyInsights' remediation
// api-versions (az policy remediation sends 2021-10-01).
var remediationAPIVersions = []string{"2018-07-01-preview", "2019-07-01", "2021-10-01", "2024-10-01"}

const (
	remediationType   = "Microsoft.PolicyInsights/remediations"
	readRemediations  = "Microsoft.PolicyInsights/remediations/read"
	writeRemediations = "Microsoft.PolicyInsights/remediations/write"
)

// splitPolicyInsights reads {scope}/providers/Microsoft.PolicyInsights/{kind}[/{name}[/{action}]].
func splitPolicyInsights(segs []string) (scope, kind, name, action string, ok bool) {
	for i := len(segs) - 3; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") && strings.EqualFold(segs[i+1], "Microsoft.PolicyInsights") {
			rest := segs[i+2:]
			scope = "/" + strings.Join(segs[:i], "/")
			kind = strings.ToLower(rest[0])
			if len(rest) > 1 {
				name = rest[1]
			}
			if len(rest) > 2 {
				action = strings.ToLower(strings.Join(rest[2:], "/"))
			}
			return scope, kind, name, action, true
		}
	}
	return "", "", "", "", false
}

// routePolicyInsights serves remediations, policy states and the
// evaluations triggered through them; it reports whether segs were
// one of Microsoft.PolicyInsights' routes.
func (s *Server) routePolicyInsights(w http.ResponseWriter, r *http.Request, segs []string) bool {
	scope, kind, name, action, ok := splitPolicyInsights(segs)
	if !ok {
		return false
	}
	switch kind {
	case "remediations":
	case "policystates":
		s.routePolicyStates(w, r, scope, name, action)
		return true
	case "asyncoperationresults":
		if e := checkAPIVersion(r, policyStatesAPIVersions, nil); e != nil {
			writeError(w, e)
			return true
		}
		setRoute(r, "policyinsights-operation")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readPolicyStates, scope,
			func(w http.ResponseWriter, r *http.Request) { s.evaluationResult(w, r, name) })})
		return true
	default:
		writeError(w, notFoundPath(r))
		return true
	}
	if e := checkAPIVersion(r, remediationAPIVersions, nil); e != nil {
		writeError(w, e)
		return true
	}
	if e := s.checkScope(scope); e != nil || scope == "/" {
		if e == nil {
			e = &apiError{http.StatusBadRequest, "InvalidScope", "Remediate at a subscription, a resource group or a resource, not at the root."}
		}
		writeError(w, e)
		return true
	}
	id := strings.TrimSuffix(scope, "/") + "/providers/" + remediationType + "/" + name
	switch {
	case name == "":
		setRoute(r, "remediations")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readRemediations, scope,
			func(w http.ResponseWriter, _ *http.Request) { s.listRemediations(w, scope) })})
	case action == "":
		setRoute(r, "remediation")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    s.guard(writeRemediations, scope, func(w http.ResponseWriter, r *http.Request) { s.putRemediation(w, r, scope, name, id) }),
			http.MethodGet:    s.guard(readRemediations, scope, func(w http.ResponseWriter, _ *http.Request) { s.getRemediation(w, id) }),
			http.MethodDelete: s.guard(writeRemediations, scope, func(w http.ResponseWriter, _ *http.Request) { s.deleteRemediation(w, id) }),
		})
	case action == "cancel":
		setRoute(r, "remediation-cancel")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: s.guard(writeRemediations, scope, func(w http.ResponseWriter, _ *http.Request) { s.cancelRemediation(w, id) }),
		})
	default:
		writeError(w, notFoundPath(r))
	}
	return true
}

type remediationBody struct {
	Properties struct {
		PolicyAssignmentID          string          `json:"policyAssignmentId"`
		PolicyDefinitionReferenceID string          `json:"policyDefinitionReferenceId,omitempty"`
		ResourceDiscoveryMode       string          `json:"resourceDiscoveryMode,omitempty"`
		Filters                     json.RawMessage `json:"filters,omitempty"`
		ResourceCount               int             `json:"resourceCount,omitempty"`
		ParallelDeployments         int             `json:"parallelDeployments,omitempty"`
		FailureThreshold            *struct {
			Percentage float64 `json:"percentage"`
		} `json:"failureThreshold,omitempty"`
	} `json:"properties"`
}

func remediationNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "RemediationNotFound", fmt.Sprintf("The remediation '%s' could not be found.", id)}
}

// terminal states of a remediation.
func finished(state string) bool {
	return state == "Succeeded" || state == "Failed" || state == "Canceled"
}

func (s *Server) putRemediation(w http.ResponseWriter, r *http.Request, scope, name, id string) {
	var body remediationBody
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	p := body.Properties
	mode := "ExistingNonCompliant"
	switch strings.ToLower(p.ResourceDiscoveryMode) {
	case "", "existingnoncompliant":
	case "reevaluatecompliance":
		mode = "ReEvaluateCompliance"
	default:
		writeError(w, &apiError{http.StatusBadRequest, "InvalidRequestContent", fmt.Sprintf("properties.resourceDiscoveryMode '%s' is not ExistingNonCompliant or ReEvaluateCompliance.", p.ResourceDiscoveryMode)})
		return
	}
	now := s.opts.Now().UTC()
	var out *store.Remediation
	created := false
	err := s.store.Update(func(tx store.Tx) error {
		if e := checkRemediation(tx, scope, p.PolicyAssignmentID, p.PolicyDefinitionReferenceID); e != nil {
			return errAPI{e}
		}
		old, err := tx.Remediation(id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if old != nil && !finished(old.ProvisioningState) {
			return errAPI{&apiError{http.StatusConflict, "RemediationInProgress", fmt.Sprintf("The remediation '%s' is still running (%s): wait for it, or cancel it.", name, old.ProvisioningState)}}
		}
		rem := &store.Remediation{ID: id, Name: name, Scope: scope, AssignmentID: p.PolicyAssignmentID, ReferenceID: p.PolicyDefinitionReferenceID, DiscoveryMode: mode,
			ProvisioningState: "Accepted", CreatedOn: now, LastUpdatedOn: now, CreatedBy: callerOf(r).name()}
		if p.FailureThreshold != nil {
			rem.FailureThresholdPc = p.FailureThreshold.Percentage
		}
		created, out = old == nil, rem
		if old != nil { // a new run: the last one's done marks go
			if err := tx.DeleteRemediation(id); err != nil {
				return err
			}
		}
		return tx.PutRemediation(rem)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	s.policy.startRemediation(id)
	writeJSON(w, putStatus(created), renderRemediation(out))
}

// checkRemediation: the assignment exists, covers the scope (or lies
// within it), and deploys.
func checkRemediation(tx store.Tx, scope, assignmentID, ref string) *apiError {
	if assignmentID == "" {
		return &apiError{http.StatusBadRequest, "InvalidRequestContent", "properties.policyAssignmentId is required: the assignment whose deployIfNotExists to run."}
	}
	a, err := tx.PolicyAssignment(assignmentID)
	if err != nil {
		return policyAssignmentNotFound(assignmentID)
	}
	if !inScope(scope, a.Scope) && !inScope(a.Scope, scope) {
		return &apiError{http.StatusBadRequest, "InvalidScope", fmt.Sprintf("The assignment '%s' (at %s) does not apply at %s.", assignmentID, a.Scope, scope)}
	}
	var p assignmentProperties
	if err := json.Unmarshal(a.Properties, &p); err != nil {
		return internalError()
	}
	members, e := assignedMembers(tx, a.Name, &p)
	if e != nil {
		return e
	}
	var refs []string
	for _, m := range members {
		refs = append(refs, m.ReferenceID)
	}
	var member *policy.Member
	switch {
	case isSetID(p.PolicyDefinitionID) && ref == "":
		return &apiError{http.StatusBadRequest, "InvalidRemediation", fmt.Sprintf(
			"The assignment '%s' is of a policy set: name the member to remediate in properties.policyDefinitionReferenceId (one of %s).", assignmentID, strings.Join(refs, ", "))}
	case isSetID(p.PolicyDefinitionID):
		for i := range members {
			if strings.EqualFold(members[i].ReferenceID, ref) {
				member = &members[i]
			}
		}
		if member == nil {
			return &apiError{http.StatusBadRequest, "InvalidRemediation", fmt.Sprintf(
				"The policy set of assignment '%s' has no member '%s' (it has %s).", assignmentID, ref, strings.Join(refs, ", "))}
		}
	case ref != "":
		return &apiError{http.StatusBadRequest, "InvalidRemediation", fmt.Sprintf(
			"The assignment '%s' is of a single policy definition: leave properties.policyDefinitionReferenceId out.", assignmentID)}
	default:
		member = &members[0]
	}
	if effect, err := member.Definition.Effect(member.Parameters); err != nil || effect != policy.DeployIfNotExists {
		return &apiError{http.StatusBadRequest, "InvalidRemediation", fmt.Sprintf(
			"The assignment '%s' has effect %s: only deployIfNotExists assignments can be remediated.", assignmentID, effect)}
	}
	if a.Identity == nil {
		return &apiError{http.StatusBadRequest, "InvalidRemediation", fmt.Sprintf("The assignment '%s' has no managed identity to deploy with.", assignmentID)}
	}
	return nil
}

func renderRemediation(rem *store.Remediation) map[string]any {
	props := map[string]any{
		"policyAssignmentId":          rem.AssignmentID,
		"policyDefinitionReferenceId": rem.ReferenceID,
		"resourceDiscoveryMode":       rem.DiscoveryMode,
		"provisioningState":           rem.ProvisioningState,
		"createdOn":                   rem.CreatedOn,
		"lastUpdatedOn":               rem.LastUpdatedOn,
		"deploymentStatus": map[string]any{"totalDeployments": rem.Total, "successfulDeployments": rem.Succeeded,
			"failedDeployments": rem.Failed},
	}
	if rem.StatusMessage != "" {
		props["statusMessage"] = rem.StatusMessage
	}
	return map[string]any{"id": rem.ID, "name": rem.Name, "type": remediationType, "properties": props}
}

func (s *Server) getRemediation(w http.ResponseWriter, id string) {
	serveOne(s, w, func(tx store.Tx) (*store.Remediation, error) { return tx.Remediation(id) }, remediationNotFound(id), renderRemediation)
}

func (s *Server) listRemediations(w http.ResponseWriter, scope string) {
	serveList(s, w, nil, func(tx store.Tx) ([]store.Remediation, error) { return tx.Remediations() },
		func(r *store.Remediation) bool { return inScope(r.Scope, scope) }, renderRemediation)
}

func (s *Server) cancelRemediation(w http.ResponseWriter, id string) {
	rem, err := s.policy.updateRemediation(id, func(rem *store.Remediation) {
		if !finished(rem.ProvisioningState) {
			rem.ProvisioningState = "Canceled"
		}
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, remediationNotFound(id))
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, renderRemediation(rem))
	}
}

func (s *Server) deleteRemediation(w http.ResponseWriter, id string) {
	var gone *store.Remediation
	err := s.store.Update(func(tx store.Tx) error {
		rem, err := tx.Remediation(id)
		if err != nil {
			return err
		}
		gone = rem
		return tx.DeleteRemediation(id)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, renderRemediation(gone))
	}
}

// ---- the remediation worker ----

// startRemediation runs a remediation in the background, once.
func (e *policyEngine) startRemediation(id string) {
	key := store.Key(id)
	e.mu.Lock()
	if e.running == nil {
		e.running = map[string]bool{}
	}
	if e.running[key] {
		e.mu.Unlock()
		return
	}
	e.running[key] = true
	e.mu.Unlock()
	e.work.Add(1)
	go func() {
		defer e.work.Done()
		defer func() {
			e.mu.Lock()
			delete(e.running, key)
			e.mu.Unlock()
		}()
		if claimed, err := e.claim(id); err != nil || !claimed {
			if err != nil && e.ctx.Err() == nil {
				slog.Error("claiming a remediation failed", "remediation", id, "error", err)
			}
			return
		}
		ctx, cancel := context.WithCancel(e.ctx)
		defer cancel()
		go e.keepClaim(ctx, cancel, id, e.s.opts.RemediationClaimTTL/3)
		if err := e.remediate(ctx, id); err != nil && ctx.Err() == nil {
			slog.Error("remediation failed", "remediation", id, "error", err)
		}
	}()
}

// keepClaim renews this process's claim on remediation id every while the
// remediation runs (a third of the claim's TTL: its evaluation of the
// scope may take longer than the TTL, and writes no batch meanwhile); when
// another replica has taken it over, it ends the run (cancel).
func (e *policyEngine) keepClaim(ctx context.Context, cancel context.CancelFunc, id string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lost := false
		err := e.s.store.Update(func(tx store.Tx) error {
			r, err := tx.Remediation(id)
			if err != nil {
				return err
			}
			if lost = r.Runner != e.boot; lost || finished(r.ProvisioningState) {
				return nil
			}
			r.RunnerSeen = e.s.opts.Now().UTC()
			return tx.PutRemediation(r)
		})
		if lost || errors.Is(err, store.ErrNotFound) {
			cancel()
			e.mu.Lock()
			e.idle.Broadcast() // its waitFor returns
			e.mu.Unlock()
			return
		}
	}
}

// RunnerTTL is how long a remediation's runner may go without renewing
// its claim before another replica takes the remediation over, by default
// (Options.RemediationClaimTTL); MinRunnerTTL, the least it may be.
const (
	RunnerTTL    = 30 * time.Second
	MinRunnerTTL = 3 * time.Second
)

// claimable reports whether process me may run remediation r now: it is
// not finished, and nobody else holds a live claim on it (in a store no
// other process uses, an earlier claim is an earlier run's, now gone).
func claimable(r *store.Remediation, me string, shared bool, now time.Time, ttl time.Duration) bool {
	switch {
	case finished(r.ProvisioningState):
		return false
	case r.Runner == "" || r.Runner == me || !shared:
		return true
	}
	return now.Sub(r.RunnerSeen) >= ttl
}

// claim makes this process the runner of remediation id, if it may run it.
func (e *policyEngine) claim(id string) (bool, error) {
	claimed := false
	err := e.s.store.Update(func(tx store.Tx) error {
		r, err := tx.Remediation(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := e.s.opts.Now().UTC()
		if claimed = claimable(r, e.boot, e.shared, now, e.s.opts.RemediationClaimTTL); !claimed {
			return nil
		}
		r.Runner, r.RunnerSeen = e.boot, now
		return tx.PutRemediation(r)
	})
	return claimed, err
}

// resumeRemediations restarts the remediations a stop interrupted.
func (e *policyEngine) resumeRemediations() {
	var ids []string
	_ = e.s.store.View(func(tx store.Tx) error {
		all, err := tx.Remediations()
		for _, rem := range all {
			if !finished(rem.ProvisioningState) {
				ids = append(ids, rem.ID)
			}
		}
		return err
	})
	for _, id := range ids {
		e.startRemediation(id)
	}
}

func (e *policyEngine) updateRemediation(id string, fn func(*store.Remediation)) (*store.Remediation, error) {
	var out *store.Remediation
	err := e.s.store.Update(func(tx store.Tx) error {
		rem, err := tx.Remediation(id)
		if err != nil {
			return err
		}
		fn(rem)
		rem.LastUpdatedOn = e.s.opts.Now().UTC()
		out = rem
		return tx.PutRemediation(rem)
	})
	return out, err
}

// remediate deploys the assignment's deployIfNotExists for each
// non-compliant cluster of the remediation's scope, marking each one done,
// so that a resumed remediation skips them; a cluster that became
// compliant meanwhile is evaluated and left alone. Progress is written in
// batches (100 clusters, or a second): a cancel takes effect at the next
// one, and a crash loses at most a batch's counts (its deployments are
// recorded as compliant states, so none is redone).
func (e *policyEngine) remediate(ctx context.Context, id string) error {
	rem, targets, err := e.remediationPlan(ctx, id)
	if err != nil || rem == nil {
		return err
	}
	p := &remediationProgress{e: e, id: id, flushed: time.Now()}
	for _, clusterID := range targets {
		if ctx.Err() != nil {
			_, err := p.flush()
			return err // resumed at the next start
		}
		deployErr := e.remediateCluster(rem.AssignmentID, rem.ReferenceID, clusterID, e.holdsClaim(id))
		if errors.Is(deployErr, errLostClaim) {
			return nil // the replica that took it over goes on
		}
		if canceled, err := p.add(clusterID, deployErr); canceled || err != nil {
			return err
		}
	}
	if canceled, err := p.flush(); canceled || err != nil {
		return err
	}
	_, err = e.updateRemediation(id, func(r *store.Remediation) {
		if r.ProvisioningState == "Canceled" {
			return
		}
		r.ProvisioningState = "Succeeded"
		if r.Failed > 0 {
			r.ProvisioningState = "Failed"
		}
	})
	return err
}

// remediationPlan starts (or resumes) a remediation: Evaluating, the
// scope evaluated first for ReEvaluateCompliance, and the clusters still to
// handle counted. A finished remediation gives no plan (nil).
func (e *policyEngine) remediationPlan(ctx context.Context, id string) (*store.Remediation, []string, error) {
	rem, err := e.updateRemediation(id, func(rem *store.Remediation) {
		if rem.ProvisioningState == "Accepted" {
			rem.ProvisioningState = "Evaluating"
		}
	})
	if err != nil || finished(rem.ProvisioningState) {
		return nil, nil, err
	}
	var done map[string]bool
	if err := e.s.store.View(func(tx store.Tx) (err error) { done, err = tx.Remediated(id); return err }); err != nil {
		return nil, nil, err
	}
	if rem.DiscoveryMode == "ReEvaluateCompliance" && len(done) == 0 {
		e.refresh() // the assignment may have been made through another replica
		since := e.mark()
		ids, err := e.queueScope(rem.Scope)
		if err != nil {
			return nil, nil, err
		}
		if !e.waitFor(ctx, since, ids) {
			return nil, nil, nil // taken over, or stopping
		}
	}
	targets, err := e.remediationTargets(rem, done)
	if err != nil {
		return nil, nil, err
	}
	_, err = e.updateRemediation(id, func(r *store.Remediation) { r.Total = len(done) + len(targets) })
	return rem, targets, err
}

// remediationProgress writes a remediation's progress in batches.
type remediationProgress struct {
	e       *policyEngine
	id      string
	batch   []remediated
	flushed time.Time
}

type remediated struct {
	cluster string
	err     error
}

// add notes one cluster handled, flushing when a batch is due; it reports
// whether the remediation was canceled meanwhile.
func (p *remediationProgress) add(cluster string, deployErr error) (bool, error) {
	p.batch = append(p.batch, remediated{cluster, deployErr})
	if len(p.batch) < 100 && time.Since(p.flushed) < time.Second {
		return false, nil
	}
	return p.flush()
}

// flush records the batch: the clusters marked done, the counts; it
// reports whether the remediation was canceled meanwhile.
func (p *remediationProgress) flush() (bool, error) {
	canceled := false
	err := p.e.s.store.Update(func(tx store.Tx) error {
		r, err := tx.Remediation(p.id)
		if err != nil {
			return err
		}
		for _, b := range p.batch {
			if err := tx.MarkRemediated(p.id, b.cluster); err != nil {
				return err
			}
			if b.err != nil {
				r.Failed++
				r.StatusMessage = b.err.Error()
			} else {
				r.Succeeded++
			}
		}
		if r.Runner != p.e.boot {
			// Another replica took it over (this one went unheard for
			// RunnerTTL): it goes on from the marks it finds; stop here.
			canceled = true
			return errLostClaim
		}
		r.LastUpdatedOn = p.e.s.opts.Now().UTC()
		r.RunnerSeen = r.LastUpdatedOn
		canceled = r.ProvisioningState == "Canceled"
		return tx.PutRemediation(r)
	})
	p.batch, p.flushed = p.batch[:0], time.Now()
	if errors.Is(err, errLostClaim) {
		return true, nil
	}
	return canceled, err
}

// errLostClaim rolls back a batch, or a deployment, of a runner that lost
// its claim.
var errLostClaim = errors.New("another data plane took the remediation over")

// holdsClaim fences a remediation's deployments: each commits only while
// this process still holds the remediation's claim, in the same
// transaction, so that a runner that went unheard and lost it deploys
// nothing more; the one that took over evaluates those clusters afresh,
// after its claim, and so sees every deployment made before it.
func (e *policyEngine) holdsClaim(id string) deployGuard {
	return func(tx store.Tx) error {
		r, err := tx.Remediation(id)
		if err != nil {
			return err
		}
		if r.Runner != e.boot {
			return errLostClaim
		}
		return nil
	}
}

// remediationTargets are the clusters under the remediation's scope that
// the assignment found non-compliant and the remediation has not handled.
func (e *policyEngine) remediationTargets(rem *store.Remediation, done map[string]bool) ([]string, error) {
	var out []string
	err := e.s.store.View(func(tx store.Tx) error {
		states, err := tx.PolicyStates(rem.AssignmentID)
		for _, st := range states {
			if st.ComplianceState == policy.NonCompliant && inScope(st.ResourceID, rem.Scope) && strings.EqualFold(st.ReferenceID, rem.ReferenceID) &&
				clusterTypes[strings.ToLower(st.ResourceType)] != [2]string{} && !done[store.Key(st.ResourceID)] {
				out = append(out, st.ResourceID)
			}
		}
		return err
	})
	return out, err
}

// remediateCluster evaluates one assignment on one cluster, deploying when
// its related resource is still missing.
func (e *policyEngine) remediateCluster(assignmentID, refID, clusterID string, guard deployGuard) error {
	var (
		cluster *store.Cluster
		configs []store.Config
		exts    []store.Extension
		target  *assigned
		group   *store.ResourceGroup
	)
	err := e.s.store.View(func(tx store.Tx) error {
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
		all, err := assignmentsFor(tx, clusterID)
		for i := range all {
			if strings.EqualFold(all[i].a.ID, assignmentID) && strings.EqualFold(all[i].ref, refID) {
				target = &all[i]
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if target == nil {
		return fmt.Errorf("the assignment no longer applies to %s", clusterID)
	}
	ref := refOf(cluster)
	related, err := relatedResources(ref, configs, exts, cluster)
	if err != nil {
		return err
	}
	env := &policy.Env{Parameters: target.params, ResourceGroup: groupObject(cluster, group), Subscription: map[string]any{
		"id": "/subscriptions/" + cluster.Subscription, "subscriptionId": cluster.Subscription, "tenantId": e.s.opts.TenantID}}
	st, applicable, err := e.verdict(*target, clusterResource(cluster), related, env, true, cluster, guard)
	if err != nil {
		return err
	}
	if err := e.record(st, applicable); err != nil {
		return err
	}
	if st.Error != "" {
		return errors.New(st.Error)
	}
	return nil
}
