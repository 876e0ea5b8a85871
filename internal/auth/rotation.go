package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// The generated key Secret (<config>-ssh-key) holds the key pair in use
// under Flux's identity keys and, during a rotation, the next pair beside
// it; its annotations record the pair's life. It is the only record of a
// rotation: the FluxConfig's status is derived from it.
const (
	// NextIdentity and NextIdentityPub hold the pending key pair.
	NextIdentity    = "next.identity"
	NextIdentityPub = "next.identity.pub"

	// AnnotationKeyCreatedAt: when the pair in use was generated (RFC 3339).
	AnnotationKeyCreatedAt = "clusterconfig.azure.com/ssh-key-created-at"
	// AnnotationKeyRotatedAt: when the pair in use replaced the one before.
	AnnotationKeyRotatedAt = "clusterconfig.azure.com/ssh-key-rotated-at"
	// AnnotationRotationHandled: the rotation request the pair in use answered.
	AnnotationRotationHandled = "clusterconfig.azure.com/ssh-key-rotation-handled"
	// AnnotationPendingRequest: the rotation request the pending pair answers.
	AnnotationPendingRequest = "clusterconfig.azure.com/ssh-key-pending-request"
	// AnnotationPendingSince: when the pending pair was published.
	AnnotationPendingSince = "clusterconfig.azure.com/ssh-key-pending-since"
)

// DefaultRotationGracePeriod is how long a new public key is published
// before it replaces the old one unconfirmed.
const DefaultRotationGracePeriod = 24 * time.Hour

// KeyState is a generated key Secret as read.
type KeyState struct {
	Current   *KeyPair
	CreatedAt time.Time
	RotatedAt time.Time
	// Handled is the rotation request the current pair answered.
	Handled string

	// Pending is the next pair, during a rotation.
	Pending        *KeyPair
	PendingRequest string
	PendingSince   time.Time
}

// KeyStateFromSecret reads a generated key Secret. created is the Secret's
// creation time, the key's age when it predates the annotations.
func KeyStateFromSecret(data map[string][]byte, annotations map[string]string, created time.Time) (KeyState, error) {
	cur, err := KeyPairFromSecretData(data)
	if err != nil {
		return KeyState{}, err
	}
	st := KeyState{Current: cur, CreatedAt: created, Handled: annotations[AnnotationRotationHandled]}
	if t, ok := parseTime(annotations[AnnotationKeyCreatedAt]); ok {
		st.CreatedAt = t
	}
	st.RotatedAt, _ = parseTime(annotations[AnnotationKeyRotatedAt])
	if len(data[NextIdentity]) > 0 && len(data[NextIdentityPub]) > 0 {
		st.Pending = &KeyPair{PrivateKey: data[NextIdentity], PublicKey: data[NextIdentityPub]}
		st.PendingRequest = annotations[AnnotationPendingRequest]
		st.PendingSince, _ = parseTime(annotations[AnnotationPendingSince])
	}
	return st, nil
}

// SecretData returns the Secret data of st.
func (st KeyState) SecretData() map[string][]byte {
	data := st.Current.SecretData()
	if st.Pending != nil {
		data[NextIdentity], data[NextIdentityPub] = st.Pending.PrivateKey, st.Pending.PublicKey
	}
	return data
}

// Annotations returns the Secret annotations of st.
func (st KeyState) Annotations() map[string]string {
	a := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	put(AnnotationKeyCreatedAt, formatTime(st.CreatedAt))
	put(AnnotationKeyRotatedAt, formatTime(st.RotatedAt))
	put(AnnotationRotationHandled, st.Handled)
	if st.Pending != nil {
		put(AnnotationPendingRequest, st.PendingRequest)
		put(AnnotationPendingSince, formatTime(st.PendingSince))
	}
	return a
}

// RotationStep is what a rotation needs next.
type RotationStep int

const (
	// RotationNone means: no rotation is asked for, or the current pair answers it.
	RotationNone RotationStep = iota
	// RotationGenerate means: generate a pending pair for Plan.Request (replacing
	// a pending pair of an older request).
	RotationGenerate
	// RotationCancel means: drop the pending pair: its request was withdrawn.
	RotationCancel
	// RotationWait means: the pending pair is published; nothing is due before
	// Plan.SwitchAfter unless the request is confirmed.
	RotationWait
	// RotationSwitch means: the pending pair may replace the current one, once it
	// can read the repository.
	RotationSwitch
)

// RotationPlan is the next step of a key rotation.
type RotationPlan struct {
	Step RotationStep
	// Request is the rotation request the step serves.
	Request string
	// SwitchAfter is when an unconfirmed pending pair is due (Wait and
	// Switch).
	SwitchAfter time.Time
	// Confirmed: the user confirmed the pending pair (Switch).
	Confirmed bool
}

// PlanRotation decides the next step of a key rotation from what the spec
// asks and the key Secret holds.
func PlanRotation(spec *v1alpha1.SSHKeyRotationDefinition, st KeyState, now time.Time) RotationPlan {
	var req, confirmed string
	grace := DefaultRotationGracePeriod
	if spec != nil {
		req, confirmed = spec.RequestedAt, spec.ConfirmedAt
		if spec.GracePeriodInSeconds != nil {
			grace = time.Duration(*spec.GracePeriodInSeconds) * time.Second
		}
	}
	switch {
	case (req == "" || req == st.Handled) && st.Pending != nil:
		// The pending pair's request was withdrawn.
		return RotationPlan{Step: RotationCancel}
	case req == "" || req == st.Handled:
		return RotationPlan{Step: RotationNone}
	case st.Pending == nil || st.PendingRequest != req:
		return RotationPlan{Step: RotationGenerate, Request: req}
	}
	p := RotationPlan{Request: req, SwitchAfter: st.PendingSince.Add(grace), Confirmed: confirmed == req}
	if p.Confirmed || !now.Before(p.SwitchAfter) {
		p.Step = RotationSwitch
	} else {
		p.Step = RotationWait
	}
	return p
}

// Publish returns st with pending as the pair for request, published now.
func (st KeyState) Publish(pending *KeyPair, request string, now time.Time) KeyState {
	st.Pending, st.PendingRequest, st.PendingSince = pending, request, now.UTC().Truncate(time.Second)
	return st
}

// Cancel returns st without its pending pair.
func (st KeyState) Cancel() KeyState {
	st.Pending, st.PendingRequest, st.PendingSince = nil, "", time.Time{}
	return st
}

// Switch returns st with the pending pair in use, rotated now.
func (st KeyState) Switch(now time.Time) (KeyState, error) {
	if st.Pending == nil {
		return st, errors.New("no pending SSH key pair to switch to")
	}
	return KeyState{Current: st.Pending, CreatedAt: st.PendingSince, RotatedAt: now.UTC().Truncate(time.Second),
		Handled: st.PendingRequest}, nil
}

// KeyAge says whether the pair in use is older than the spec allows: the
// age, whether it is over the limit, and when it will be (zero without a
// limit or once over).
func KeyAge(spec *v1alpha1.SSHKeyRotationDefinition, st KeyState, now time.Time) (age time.Duration, over bool, dueAt time.Time) {
	if st.CreatedAt.IsZero() {
		return 0, false, time.Time{}
	}
	age = now.Sub(st.CreatedAt)
	if spec == nil || spec.MaxKeyAgeInDays == nil {
		return age, false, time.Time{}
	}
	limit := time.Duration(*spec.MaxKeyAgeInDays) * 24 * time.Hour
	if age > limit {
		return age, true, time.Time{}
	}
	return age, false, st.CreatedAt.Add(limit)
}

// FormatAge prints a key age in days, or hours under two days.
func FormatAge(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
