package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// FluxKinds are the Flux kinds the FluxConfig controller writes.
var FluxKinds = []schema.GroupVersionKind{
	sourcev1.GroupVersion.WithKind(sourcev1.GitRepositoryKind),
	sourcev1.GroupVersion.WithKind(sourcev1.BucketKind),
	sourcev1.GroupVersion.WithKind(sourcev1.OCIRepositoryKind),
	kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind),
}

// MissingFluxKinds lists the kinds of FluxKinds that the API server does
// not serve (their CRDs are not installed).
func MissingFluxKinds(mapper meta.RESTMapper) ([]string, error) {
	var missing []string
	for _, gvk := range FluxKinds {
		_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case meta.IsNoMatchError(err):
			missing = append(missing, gvk.Kind)
		case err != nil:
			return nil, err
		}
	}
	return missing, nil
}

// FluxMissingReconciler stands in for the FluxConfig controller while
// Flux's CRDs are not installed: every FluxConfig says so in its status, and
// deleting one finishes (its finalizer would otherwise wait for Flux objects
// that cannot exist): its Secrets are deleted and the finalizer removed.
type FluxMissingReconciler struct {
	client.Client
	// Missing names the missing kinds, for the message.
	Missing []string
}

// Reconcile reports the missing CRDs, or finishes a deletion.
func (r *FluxMissingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	fc := &v1alpha1.FluxConfig{}
	if err := r.Get(ctx, req.NamespacedName, fc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !fc.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(fc, v1alpha1.FluxConfigFinalizer) {
			return ctrl.Result{}, nil
		}
		var secrets corev1.SecretList
		if err := r.List(ctx, &secrets, ownedBy(fc)...); err != nil {
			return ctrl.Result{}, fmt.Errorf("failed to list Secrets: %w", err)
		}
		for i := range secrets.Items {
			if err := r.Delete(ctx, &secrets.Items[i]); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("failed to delete Secret %s: %w", secrets.Items[i].Name, err)
			}
		}
		patch := client.MergeFrom(fc.DeepCopy())
		controllerutil.RemoveFinalizer(fc, v1alpha1.FluxConfigFinalizer)
		return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, fc, patch))
	}
	msg := fmt.Sprintf("Flux is not installed in this cluster (no CRD for %s): install Flux's source-controller and kustomize-controller; "+
		"the manager restarts by itself once their CRDs are there", strings.Join(r.Missing, ", "))
	if c := conditions.Get(fc, v1alpha1.ReadyCondition); c != nil && c.Reason == v1alpha1.ReasonFluxNotInstalled && c.Message == msg {
		return ctrl.Result{}, nil // said already: a no-op reconcile writes nothing
	}
	patch := client.MergeFrom(fc.DeepCopy())
	conditions.MarkFalse(fc, v1alpha1.ReadyCondition, v1alpha1.ReasonFluxNotInstalled, "%s", msg)
	conditions.MarkStalled(fc, v1alpha1.ReasonFluxNotInstalled, "%s", msg)
	fc.Status.ErrorMessage = msg
	fc.Status.ProvisioningState = v1alpha1.ProvisioningFailed
	if err := r.Status().Patch(ctx, fc, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("failed to patch the status: %w", err)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager watches FluxConfigs only.
func (r *FluxMissingReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).Named("fluxconfig").For(&v1alpha1.FluxConfig{}).WithOptions(opts).Complete(r)
}

// FluxArrival ends the manager once Flux's CRDs are installed, so that it
// restarts (its Deployment does that) with the FluxConfig controller in
// place of FluxMissingReconciler.
type FluxArrival struct {
	Mapper   meta.RESTMapper
	Interval time.Duration
}

// Start checks every Interval; it returns an error when the CRDs are there.
func (f *FluxArrival) Start(ctx context.Context) error {
	t := time.NewTicker(f.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		meta.MaybeResetRESTMapper(f.Mapper)
		missing, err := MissingFluxKinds(f.Mapper)
		if err == nil && len(missing) == 0 {
			return ErrFluxArrived
		}
	}
}

// ErrFluxArrived is what FluxArrival ends the manager with.
var ErrFluxArrived = fmt.Errorf("flux's CRDs are installed now: the manager stops so that it restarts with the FluxConfig controller")
