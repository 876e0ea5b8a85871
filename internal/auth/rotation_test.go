package auth

import (
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

func TestPlanRotation(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	old, next := &KeyPair{PrivateKey: []byte("old"), PublicKey: []byte("old.pub")}, &KeyPair{PrivateKey: []byte("next"), PublicKey: []byte("next.pub")}
	idle := KeyState{Current: old, CreatedAt: now.Add(-100 * 24 * time.Hour)}
	pending := func(req string, since time.Duration) KeyState {
		return idle.Publish(next, req, now.Add(-since))
	}
	ask := func(req, confirmed string, grace int64) *v1alpha1.SSHKeyRotationDefinition {
		r := &v1alpha1.SSHKeyRotationDefinition{RequestedAt: req, ConfirmedAt: confirmed}
		if grace >= 0 {
			r.GracePeriodInSeconds = ptr.To(grace)
		}
		return r
	}
	handled := idle
	handled.Handled = "r1"
	cases := []struct {
		name  string
		spec  *v1alpha1.SSHKeyRotationDefinition
		state KeyState
		want  RotationPlan
	}{
		{"no rotation asked", nil, idle, RotationPlan{Step: RotationNone}},
		{"max age alone asks nothing", &v1alpha1.SSHKeyRotationDefinition{MaxKeyAgeInDays: ptr.To[int64](90)}, idle, RotationPlan{Step: RotationNone}},
		{"a new request generates", ask("r1", "", -1), idle, RotationPlan{Step: RotationGenerate, Request: "r1"}},
		{"a handled request is done", ask("r1", "", -1), handled, RotationPlan{Step: RotationNone}},
		{"a handled request that is confirmed is done", ask("r1", "r1", -1), handled, RotationPlan{Step: RotationNone}},
		{"published, within the default day", ask("r1", "", -1), pending("r1", time.Hour),
			RotationPlan{Step: RotationWait, Request: "r1", SwitchAfter: now.Add(23 * time.Hour)}},
		{"published, the default day passed", ask("r1", "", -1), pending("r1", 25*time.Hour),
			RotationPlan{Step: RotationSwitch, Request: "r1", SwitchAfter: now.Add(-time.Hour)}},
		{"published, exactly at the grace period's end", ask("r1", "", 600), pending("r1", 10*time.Minute),
			RotationPlan{Step: RotationSwitch, Request: "r1", SwitchAfter: now}},
		{"confirmed before the grace period ends", ask("r1", "r1", 3600), pending("r1", time.Minute),
			RotationPlan{Step: RotationSwitch, Request: "r1", SwitchAfter: now.Add(59 * time.Minute), Confirmed: true}},
		{"a grace period of 0 switches at once", ask("r1", "", 0), pending("r1", 0),
			RotationPlan{Step: RotationSwitch, Request: "r1", SwitchAfter: now}},
		{"a newer request replaces the pending pair", ask("r2", "", -1), pending("r1", time.Hour),
			RotationPlan{Step: RotationGenerate, Request: "r2"}},
		{"a withdrawn request cancels", nil, pending("r1", time.Hour), RotationPlan{Step: RotationCancel}},
		{"a request set back to the handled one cancels", ask("r0", "", -1), func() KeyState {
			st := pending("r1", time.Hour)
			st.Handled = "r0"
			return st
		}(), RotationPlan{Step: RotationCancel}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlanRotation(tc.spec, tc.state, now); got != tc.want {
				t.Errorf("PlanRotation = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestKeyAge(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	days := func(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
	maxAge := &v1alpha1.SSHKeyRotationDefinition{MaxKeyAgeInDays: ptr.To[int64](90)}
	cases := []struct {
		name    string
		spec    *v1alpha1.SSHKeyRotationDefinition
		created time.Time
		over    bool
		dueAt   time.Time
	}{
		{"no limit", nil, now.Add(-days(400)), false, time.Time{}},
		{"young", maxAge, now.Add(-days(10)), false, now.Add(days(80))},
		{"exactly at the limit", maxAge, now.Add(-days(90)), false, now},
		{"over the limit", maxAge, now.Add(-days(91)), true, time.Time{}},
		{"age unknown", maxAge, time.Time{}, false, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, over, dueAt := KeyAge(tc.spec, KeyState{CreatedAt: tc.created}, now)
			if over != tc.over || !dueAt.Equal(tc.dueAt) {
				t.Errorf("KeyAge = over %v, due %v; want %v, %v", over, dueAt, tc.over, tc.dueAt)
			}
		})
	}
}

// TestKeyStateRoundTrip: a rotation's whole life survives being written to
// the Secret and read back, and the switch keeps nothing of the old pair.
func TestKeyStateRoundTrip(t *testing.T) {
	created := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	old, next := &KeyPair{PrivateKey: []byte("old"), PublicKey: []byte("old.pub")}, &KeyPair{PrivateKey: []byte("next"), PublicKey: []byte("next.pub")}
	reread := func(st KeyState) KeyState {
		t.Helper()
		back, err := KeyStateFromSecret(st.SecretData(), st.Annotations(), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return back
	}

	// A Secret from before rotation existed: its age is its creation time.
	legacy, err := KeyStateFromSecret(old.SecretData(), nil, created)
	if err != nil || !legacy.CreatedAt.Equal(created) || legacy.Pending != nil {
		t.Fatalf("legacy Secret read as %+v, %v", legacy, err)
	}

	published := reread(legacy.Publish(next, "r1", now))
	if string(published.Current.PrivateKey) != "old" || string(published.Pending.PublicKey) != "next.pub" ||
		published.PendingRequest != "r1" || !published.PendingSince.Equal(now) || !published.CreatedAt.Equal(created) {
		t.Fatalf("published state read back as %+v", published)
	}
	if c := reread(published.Cancel()); c.Pending != nil || string(c.Current.PrivateKey) != "old" {
		t.Errorf("cancelled state read back as %+v", c)
	}

	later := now.Add(time.Hour)
	switched, err := published.Switch(later)
	if err != nil {
		t.Fatal(err)
	}
	switched = reread(switched)
	if string(switched.Current.PrivateKey) != "next" || switched.Pending != nil || switched.Handled != "r1" ||
		!switched.CreatedAt.Equal(now) || !switched.RotatedAt.Equal(later) {
		t.Errorf("switched state read back as %+v", switched)
	}
	for k, v := range switched.SecretData() {
		if string(v) == "old" || string(v) == "old.pub" {
			t.Errorf("the old pair is still in the Secret under %s", k)
		}
	}
	if keys := switched.Annotations(); keys[AnnotationPendingRequest] != "" || keys[AnnotationPendingSince] != "" {
		t.Errorf("annotations after the switch still name a pending pair: %v", keys)
	}
	if _, err := switched.Switch(later); err == nil {
		t.Error("a switch without a pending pair succeeded")
	}
}
