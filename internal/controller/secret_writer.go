package controller

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The manager caches Secrets as metadata only: with RSA keys they would be
// the largest objects it holds, two per configuration. What a reconcile
// needs of their data it reads from the API server (the key Secret, the
// protected settings); the Secrets it writes are compared without reading
// them, through the applied-hash annotation in their metadata and the
// resourceVersion each had when it was last known to hold what was applied.

// SecretMetadata is the object Secrets are cached and watched as.
func SecretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// secretVersions remembers, per Secret, the resourceVersion at which it was
// last known to hold what the controller applies.
type secretVersions struct {
	mu sync.Mutex
	rv map[types.NamespacedName]string
}

func (v *secretVersions) matches(key types.NamespacedName, rv string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return rv != "" && v.rv[key] == rv
}

func (v *secretVersions) remember(key types.NamespacedName, rv string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.rv == nil {
		v.rv = map[types.NamespacedName]string{}
	}
	v.rv[key] = rv
}

func (v *secretVersions) forget(keys ...types.NamespacedName) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range keys {
		delete(v.rv, k)
	}
}

// applySecret makes the live Secret match desired (typed, with its
// apiVersion and kind set), writing only when it differs. From the cached
// metadata: a different applied-hash means a different desired state, so
// it is applied unread; the same hash at the remembered resourceVersion
// means nothing changed. Otherwise (changed by someone else since, or not
// seen since the manager started) the Secret is read whole and compared.
func (a objectWriter) applySecret(ctx context.Context, desired *corev1.Secret) error {
	if err := WithAppliedHash(desired); err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(desired)
	cached := SecretMetadata()
	err := a.secretCache.Get(ctx, key, cached)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("failed to get Secret %s: %w", key, err)
	case cached.Annotations[appliedHashAnnotation] != desired.Annotations[appliedHashAnnotation]:
	case a.secrets.matches(key, cached.ResourceVersion):
		return nil
	default:
		same, rv, err := a.holds(ctx, desired)
		if err != nil {
			return err
		}
		if same {
			a.secrets.remember(key, rv)
			return nil
		}
	}
	u, err := toUnstructured(desired)
	if err != nil {
		return err
	}
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to apply Secret %s: %w", key, err)
	}
	a.secrets.remember(key, u.GetResourceVersion())
	return nil
}

// holds reads the Secret of desired from the API server and reports
// whether it holds desired, and its resourceVersion.
func (a objectWriter) holds(ctx context.Context, desired *corev1.Secret) (bool, string, error) {
	key := client.ObjectKeyFromObject(desired)
	live := &corev1.Secret{}
	if err := a.reader.Get(ctx, key, live); err != nil {
		if apierrors.IsNotFound(err) {
			return false, "", nil
		}
		return false, "", fmt.Errorf("failed to get Secret %s: %w", key, err)
	}
	// A typed read leaves apiVersion and kind empty.
	live.GetObjectKind().SetGroupVersionKind(desired.GroupVersionKind())
	liveU, err := toUnstructured(live)
	if err != nil {
		return false, "", err
	}
	want, err := toUnstructured(desired)
	if err != nil {
		return false, "", err
	}
	return contains(liveU.Object, want.Object), live.ResourceVersion, nil
}
