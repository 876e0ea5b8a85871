package controller

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// statusMemo remembers the status this controller last wrote for each
// FluxConfig. The cache can hand the next reconcile a FluxConfig older than
// that write (its children's events often arrive first); the memo keeps such
// a reconcile from writing the same status again. The zero value is ready.
type statusMemo struct {
	mu      sync.Mutex
	written map[types.NamespacedName]writtenStatus
}

// writtenStatus identifies the status last written for one FluxConfig.
type writtenStatus struct {
	uid  types.UID
	hash [sha256.Size]byte
}

// statusHash hashes st without its timestamps: statusUpdatedAt stamps a
// change of the rest, and a condition's lastTransitionTime is when it first
// took its state, which a reconcile reading a stale copy cannot know (the
// copy it would write back is newer than the one in place).
func statusHash(st *v1alpha1.FluxConfigStatus) ([sha256.Size]byte, error) {
	c := st.DeepCopy()
	c.StatusUpdatedAt = nil
	for i := range c.Conditions {
		c.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// alreadyWritten reports whether st is the status this controller last
// wrote for fc: the server has it, whatever the cached copy says.
func (w *statusMemo) alreadyWritten(fc *v1alpha1.FluxConfig, st *v1alpha1.FluxConfigStatus) bool {
	h, err := statusHash(st)
	if err != nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok := w.written[client.ObjectKeyFromObject(fc)]
	return ok && last.uid == fc.UID && last.hash == h
}

// remember records st as written (or found in place) for fc.
func (w *statusMemo) remember(fc *v1alpha1.FluxConfig, st *v1alpha1.FluxConfigStatus) {
	h, err := statusHash(st)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written == nil {
		w.written = map[types.NamespacedName]writtenStatus{}
	}
	w.written[client.ObjectKeyFromObject(fc)] = writtenStatus{uid: fc.UID, hash: h}
}

// forget drops what was remembered for a FluxConfig that is gone.
func (w *statusMemo) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.written, key)
}

// writeStatus applies fc's whole status in one server-side apply: this
// controller is the status's only writer.
func (r *FluxConfigReconciler) writeStatus(ctx context.Context, fc *v1alpha1.FluxConfig) error {
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&fc.Status)
	if err != nil {
		return fmt.Errorf("failed to convert status: %w", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": st}}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("FluxConfig"))
	u.SetNamespace(fc.Namespace)
	u.SetName(fc.Name)
	// The apply fails instead of creating a status-only object when the
	// FluxConfig was deleted (and replaced) meanwhile.
	u.SetUID(fc.UID)
	return r.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldOwner), client.ForceOwnership)
}
