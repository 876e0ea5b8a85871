package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
)

// Reconcile reports the status of one agent-managed FluxConfig to the data
// plane whenever it changes, and confirms deletions once the FluxConfig is
// gone. Only the FluxConfig at the namespace and name of a desired
// configuration speaks for it: a same-named one elsewhere, even labelled as
// the agent's, is ignored. Failures are retried with backoff; the latest
// status wins.
func (a *Agent) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	owned, deleting, known := a.state.owner(req.NamespacedName)
	if !known {
		// Not synced with the data plane yet: ask again shortly.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if !owned {
		return ctrl.Result{}, nil
	}
	fc := &v1alpha1.FluxConfig{}
	if err := a.Client.Get(ctx, req.NamespacedName, fc); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		if deleting {
			if err := a.DataPlane.ConfirmDeleted(ctx, req.Name); err != nil {
				return ctrl.Result{}, err
			}
			a.state.setReported(req.Name, "")
		}
		return ctrl.Result{}, nil
	}
	if fc.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByAgent {
		return ctrl.Result{}, nil
	}
	report, err := Report(fc)
	if err != nil {
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return ctrl.Result{}, a.reportOnce(ctx, fc.Name, report)
}

// Report turns a FluxConfig's status into the data plane's report. The
// generation is the data plane's, and only once the controller has handled
// the FluxConfig's current spec.
func Report(fc *v1alpha1.FluxConfig) (*agentapi.StatusReport, error) {
	st := &fc.Status
	r := &agentapi.StatusReport{
		ComplianceState:      string(st.ComplianceState),
		ProvisioningState:    string(st.ProvisioningState),
		ErrorMessage:         st.ErrorMessage,
		RepositoryPublicKey:  st.RepositoryPublicKey,
		SSHKey:               st.SSHKey,
		SourceSyncedCommitID: st.SourceSyncedCommitID,
	}
	if gen, err := strconv.ParseInt(fc.Annotations[v1alpha1.DataPlaneGenerationAnnotation], 10, 64); err == nil && st.ObservedGeneration == fc.Generation {
		r.Generation = gen
	}
	if st.SourceUpdatedAt != nil {
		t := st.SourceUpdatedAt.UTC()
		r.SourceUpdatedAt = &t
	}
	if st.StatusUpdatedAt != nil {
		t := st.StatusUpdatedAt.UTC()
		r.StatusUpdatedAt = &t
	}
	if len(st.Statuses) > 0 {
		b, err := json.Marshal(st.Statuses)
		if err != nil {
			return nil, fmt.Errorf("failed to encode statuses: %w", err)
		}
		r.Statuses = b
	}
	return r, nil
}

// SetupWithManager registers the agent: the sync loop as a leader-elected
// runnable, and the status reporter as a controller of agent-managed
// FluxConfigs whose retries back off up to MaxBackoff.
func (a *Agent) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.Add(a); err != nil {
		return err
	}
	managed := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[v1alpha1.LabelManagedBy] == v1alpha1.ManagedByAgent
	})
	limiter := workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](a.Options.MinBackoff, a.Options.MaxBackoff),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(50), 100)},
	)
	return ctrl.NewControllerManagedBy(mgr).
		Named("fluxconfig-agent-status").
		For(&v1alpha1.FluxConfig{}, builder.WithPredicates(managed)).
		WithOptions(controller.Options{RateLimiter: limiter, MaxConcurrentReconciles: 4}).
		Complete(a)
}
