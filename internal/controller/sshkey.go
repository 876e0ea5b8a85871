package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/builder"
	"github.com/arcgitops/arcgitops/internal/gitprobe"
)

// keyProbeRetry is how soon a switch the next key's probe refused is tried
// again.
const keyProbeRetry = time.Minute

// keySecret is a configuration's generated key Secret and what it holds.
type keySecret struct {
	secret *corev1.Secret
	state  auth.KeyState
}

// ensureKeyPair returns the configuration's generated key Secret, creating
// it once. The Secret is create-only: a key is never regenerated over an
// existing one, even when the cache has not seen it yet (only a rotation
// replaces it). It returns nil while the key pool is still generating the
// pair.
func (r *FluxConfigReconciler) ensureKeyPair(ctx context.Context, fc *v1alpha1.FluxConfig) (*keySecret, error) {
	key := client.ObjectKey{Namespace: fc.Namespace, Name: builder.KeySecretName(fc.Name)}
	// The cache holds Secrets' metadata only: a key Secret it has is read
	// whole from the API server; one it has not is created without a read
	// (a new configuration's case). Should the cache still miss a Secret
	// created a moment ago, the create fails with AlreadyExists, and the
	// real key is read uncached.
	secret := &corev1.Secret{}
	err := r.secretCache().Get(ctx, key, SecretMetadata())
	if err == nil {
		err = r.Get(ctx, key, secret)
	}
	if err == nil {
		return readKeySecret(secret)
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("failed to get SSH key Secret %s: %w", key, err)
	}

	kp, err := r.generateKeyPair(fc)
	if err != nil {
		return nil, err
	}
	if kp == nil {
		// Before saying a key is being generated, make sure the cache is
		// not merely behind a key Secret that exists (one read per new
		// configuration with a slow algorithm, while its key is made).
		if err := r.APIReader.Get(ctx, key, secret); err == nil {
			r.forgetKey(client.ObjectKeyFromObject(fc))
			return readKeySecret(secret)
		} else if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("failed to get SSH key Secret %s: %w", key, err)
		}
		return nil, nil
	}
	state := auth.KeyState{Current: kp, CreatedAt: r.now().UTC().Truncate(time.Second)}
	secret = KeySecret(fc, state)
	if err := r.Create(ctx, secret, client.FieldOwner(FieldOwner)); err != nil {
		if apierrors.IsAlreadyExists(err) {
			if err := r.APIReader.Get(ctx, key, secret); err != nil {
				return nil, fmt.Errorf("failed to get SSH key Secret %s: %w", key, err)
			}
			return readKeySecret(secret)
		}
		return nil, fmt.Errorf("failed to create SSH key Secret %s: %w", key, err)
	}
	r.event(fc, corev1.EventTypeNormal, "SSHKeyGenerated",
		"Generated an %s SSH key pair: add status.repositoryPublicKey to the repository as a deploy key", r.KeyAlgorithm)
	return &keySecret{secret: secret, state: state}, nil
}

// KeySecret is the key Secret of fc holding state, as the controller
// creates it. (Exported for the benchmark's floor, which writes the same
// objects.)
func KeySecret(fc *v1alpha1.FluxConfig, state auth.KeyState) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: builder.KeySecretName(fc.Name), Namespace: fc.Namespace,
			Labels:          builder.Labels(fc),
			Annotations:     state.Annotations(),
			OwnerReferences: []metav1.OwnerReference{builder.OwnerReference(fc)},
		},
		Type: corev1.SecretTypeOpaque,
		Data: state.SecretData(),
	}
}

func readKeySecret(secret *corev1.Secret) (*keySecret, error) {
	st, err := auth.KeyStateFromSecret(secret.Data, secret.Annotations, secret.CreationTimestamp.Time)
	if err != nil {
		return nil, err
	}
	return &keySecret{secret: secret, state: st}, nil
}

// writeKeys replaces the key Secret's pairs and record with st. The
// update carries the resourceVersion read: a stale read fails with a
// conflict and the reconcile starts over, never overwriting a newer key.
func (r *FluxConfigReconciler) writeKeys(ctx context.Context, ks *keySecret, st auth.KeyState) error {
	updated := ks.secret.DeepCopy()
	updated.Data = st.SecretData()
	annotations := map[string]string{}
	for k, v := range updated.Annotations {
		annotations[k] = v
	}
	for _, k := range []string{auth.AnnotationKeyCreatedAt, auth.AnnotationKeyRotatedAt, auth.AnnotationRotationHandled,
		auth.AnnotationPendingRequest, auth.AnnotationPendingSince} {
		delete(annotations, k)
	}
	for k, v := range st.Annotations() {
		annotations[k] = v
	}
	updated.Annotations = annotations
	if err := r.Update(ctx, updated, client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("failed to update SSH key Secret %s/%s: %w", updated.Namespace, updated.Name, err)
	}
	ks.secret, ks.state = updated, st
	return nil
}

// rotateKey takes a key rotation one step (see auth.PlanRotation), records
// it in the key Secret, and reflects the key's life in fc's status and
// conditions. The result asks for the reconcile when the next step is due.
func (r *FluxConfigReconciler) rotateKey(ctx context.Context, fc *v1alpha1.FluxConfig, ks *keySecret, protected map[string][]byte) (ctrl.Result, error) {
	now := r.now()
	spec := fc.Spec.GitRepository.SSHKeyRotation
	plan := auth.PlanRotation(spec, ks.state, now)
	var result ctrl.Result
	switch plan.Step {
	case auth.RotationGenerate:
		next, err := r.generateKeyPair(fc)
		if err != nil {
			return result, err
		}
		if next == nil {
			// The key pool enqueues this FluxConfig when the pair is ready.
			conditions.MarkTrue(fc, v1alpha1.KeyRotationInProgressCondition, v1alpha1.ReasonGeneratingKey,
				"generating the next %s SSH key pair (rotation %q)", r.KeyAlgorithm, plan.Request)
			fc.Status.SSHKey = keyStatus(ks.state, plan)
			return result, nil
		}
		if err := r.writeKeys(ctx, ks, ks.state.Publish(next, plan.Request, now)); err != nil {
			return result, err
		}
		plan = auth.PlanRotation(spec, ks.state, now)
		r.event(fc, corev1.EventTypeNormal, "SSHKeyRotationStarted",
			"Generated the next SSH key pair: add status.sshKey.pendingPublicKey to the repository as a deploy key; it replaces the current key at %s, or once confirmed",
			plan.SwitchAfter.UTC().Format(time.RFC3339))
	case auth.RotationCancel:
		if err := r.writeKeys(ctx, ks, ks.state.Cancel()); err != nil {
			return result, err
		}
		r.event(fc, corev1.EventTypeNormal, "SSHKeyRotationCancelled",
			"The rotation request was withdrawn: the next SSH key pair is dropped and the current one stays in use")
		plan = auth.RotationPlan{Step: auth.RotationNone}
	}

	switch plan.Step {
	case auth.RotationWait:
		conditions.MarkTrue(fc, v1alpha1.KeyRotationInProgressCondition, v1alpha1.ReasonNewKeyPublished,
			"add status.sshKey.pendingPublicKey to the repository as a deploy key: it replaces the current key at %s, or once sshKeyRotation.confirmedAt is %q",
			plan.SwitchAfter.UTC().Format(time.RFC3339), plan.Request)
		result.RequeueAfter = plan.SwitchAfter.Sub(now)
	case auth.RotationSwitch:
		if err := r.switchKey(ctx, fc, ks, protected, now); err != nil {
			return result, err
		}
		if ks.state.Pending != nil {
			result.RequeueAfter = keyProbeRetry
		}
	default:
		conditions.Delete(fc, v1alpha1.KeyRotationInProgressCondition)
	}
	fc.Status.SSHKey = keyStatus(ks.state, plan)

	_, over, dueAt := auth.KeyAge(spec, ks.state, now)
	switch {
	case over:
		if !conditions.IsTrue(fc, v1alpha1.KeyRotationDueCondition) {
			r.event(fc, corev1.EventTypeWarning, "SSHKeyTooOld", "The SSH key pair in use was created at %s, more than sshKeyRotation.maxKeyAgeInDays (%d) ago: rotate it",
				ks.state.CreatedAt.UTC().Format(time.RFC3339), *spec.MaxKeyAgeInDays)
		}
		conditions.MarkTrue(fc, v1alpha1.KeyRotationDueCondition, v1alpha1.ReasonMaxKeyAgeExceeded,
			"the SSH key pair in use was created at %s, more than sshKeyRotation.maxKeyAgeInDays (%d) ago: rotate it (arcgitops k8s-configuration flux update --rotate-ssh-key, or a new sshKeyRotation.requestedAt)",
			ks.state.CreatedAt.UTC().Format(time.RFC3339), *spec.MaxKeyAgeInDays)
	default:
		conditions.Delete(fc, v1alpha1.KeyRotationDueCondition)
		if !dueAt.IsZero() && (result.RequeueAfter == 0 || dueAt.Sub(now) < result.RequeueAfter) {
			result.RequeueAfter = dueAt.Sub(now) + time.Second
		}
	}
	return result, nil
}

// switchKey puts the pending pair in use once it can read the repository;
// until then the current pair stays and the condition says why.
func (r *FluxConfigReconciler) switchKey(ctx context.Context, fc *v1alpha1.FluxConfig, ks *keySecret, protected map[string][]byte, now time.Time) error {
	pending := ks.state.Pending
	data, err := auth.SecretData(auth.Input{Spec: &fc.Spec, Protected: protected, Generated: pending})
	if err != nil {
		return err
	}
	probe := r.ProbeKey
	if probe == nil {
		probe = gitprobe.CanRead
	}
	if err := probe(ctx, fc.Spec.GitRepository.URL, pending.PrivateKey, data[auth.FluxKnownHosts]); err != nil {
		msg := fmt.Sprintf("the next SSH key cannot read the repository yet, so the current key stays in use (tried again every %s): %v; add status.sshKey.pendingPublicKey to the repository as a deploy key",
			keyProbeRetry, err)
		if c := conditions.Get(fc, v1alpha1.KeyRotationInProgressCondition); c == nil || c.Reason != v1alpha1.ReasonNewKeyRefused {
			r.event(fc, corev1.EventTypeWarning, "SSHKeyRotationBlocked", "%s", msg)
		}
		conditions.MarkTrue(fc, v1alpha1.KeyRotationInProgressCondition, v1alpha1.ReasonNewKeyRefused, "%s", msg)
		return nil
	}
	old := ks.state.Current
	switched, err := ks.state.Switch(now)
	if err != nil {
		return err
	}
	if err := r.writeKeys(ctx, ks, switched); err != nil {
		return err
	}
	conditions.Delete(fc, v1alpha1.KeyRotationInProgressCondition)
	r.event(fc, corev1.EventTypeNormal, "SSHKeyRotated",
		"The new SSH key pair is in use; remove the old public key (%s) from the repository's deploy keys", fingerprint(old.PublicKey))
	return nil
}

// keyStatus is the status of a key Secret: public keys and times only.
func keyStatus(st auth.KeyState, plan auth.RotationPlan) *v1alpha1.SSHKeyStatus {
	out := &v1alpha1.SSHKeyStatus{
		CreatedAt: metaTime(st.CreatedAt), LastRotatedAt: metaTime(st.RotatedAt), LastHandledRotationRequest: st.Handled,
	}
	if st.Pending != nil {
		out.PendingPublicKey = string(st.Pending.PublicKey)
		out.PendingSince = metaTime(st.PendingSince)
		out.SwitchAfter = metaTime(plan.SwitchAfter)
	}
	return out
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// fingerprint is an authorized_keys line's SHA256 fingerprint, as ssh-keygen -l and Git hosts show it.
func fingerprint(authorizedKey []byte) string {
	key, _, _, _, err := ssh.ParseAuthorizedKey(authorizedKey)
	if err != nil {
		return "unparsable key"
	}
	return ssh.FingerprintSHA256(key)
}
