package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the server-side apply field manager of everything the
// operator writes.
const FieldOwner = "fluxconfig-controller"

// appliedHashAnnotation holds a hash of the desired state last applied. It
// makes a no-op reconcile detect, without a write, that nothing it owns has
// changed, including fields it stopped setting.
const appliedHashAnnotation = "clusterconfig.azure.com/applied-hash"

// objectWriter writes desired objects with server-side apply, and only when
// the live object differs from them: a reconcile whose desired state is
// already in place sends no write request at all. (Not to be confused with
// flux-applier, the ServiceAccount Flux applies as: applier_controller.go.)
type objectWriter struct {
	client client.Client
	scheme *runtime.Scheme
	// reader reads Secrets whole, secretCache their cached metadata, and
	// secrets remembers their versions (applySecret); kinds cached whole
	// need none of them.
	reader, secretCache client.Reader
	secrets             *secretVersions
}

// apply makes the live object match desired, a typed object with its
// apiVersion and kind set, and returns the live object: from the cache when
// nothing had to be written, from the API server's answer otherwise.
func (a objectWriter) apply(ctx context.Context, desired client.Object) (client.Object, error) {
	if err := WithAppliedHash(desired); err != nil {
		return nil, err
	}
	u, err := toUnstructured(desired)
	if err != nil {
		return nil, err
	}
	gvk := desired.GetObjectKind().GroupVersionKind()
	key := client.ObjectKeyFromObject(desired)

	live, err := a.newObject(desired)
	if err != nil {
		return nil, err
	}
	err = a.client.Get(ctx, key, live)
	switch {
	case err == nil:
		liveU, err := toUnstructured(live)
		if err != nil {
			return nil, err
		}
		if contains(liveU.Object, u.Object) {
			live.GetObjectKind().SetGroupVersionKind(gvk)
			return live, nil
		}
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("failed to get %s %s: %w", gvk.Kind, key, err)
	}

	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("failed to apply %s %s: %w", gvk.Kind, key, err)
	}
	live, err = a.newObject(desired)
	if err != nil {
		return nil, err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, live); err != nil {
		return nil, fmt.Errorf("failed to read back %s %s: %w", gvk.Kind, key, err)
	}
	live.GetObjectKind().SetGroupVersionKind(gvk)
	return live, nil
}

// newObject returns an empty object of desired's type.
func (a objectWriter) newObject(desired client.Object) (client.Object, error) {
	gvk := desired.GetObjectKind().GroupVersionKind()
	o, err := a.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("unknown kind %s: %w", gvk, err)
	}
	obj, ok := o.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", gvk)
	}
	return obj, nil
}

// toUnstructured converts obj for apply: no status, no empty
// creationTimestamp, and the hash annotation of everything else.
func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("failed to convert %T: %w", obj, err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// WithAppliedHash sets the applied-hash annotation of desired to the hash
// of its content, so that content the operator stops setting is noticed.
// (Exported for the benchmark's floor, which writes the same objects.)
func WithAppliedHash(desired client.Object) error {
	u, err := toUnstructured(desired)
	if err != nil {
		return err
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "annotations", appliedHashAnnotation)
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	ann := desired.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[appliedHashAnnotation] = hex.EncodeToString(sum[:12])
	desired.SetAnnotations(ann)
	return nil
}

// contains reports whether every field set in want has the same value in
// have. Lists must match element by element; maps may hold more keys.
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok {
				if isEmpty(wv) {
					continue
				}
				return false
			}
			if !contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return isEmpty(w) && isEmpty(have)
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(normalizeNumber(have), normalizeNumber(want))
	}
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	default:
		return false
	}
}

func normalizeNumber(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		if n == float64(int64(n)) {
			return int64(n)
		}
	}
	return v
}
