package cli

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// rotationFlags are flux update's flags for the generated SSH key
// (gitRepository.sshKeyRotation, an arcgitops extension: Azure has no
// rotation).
type rotationFlags struct {
	Rotate, Confirm bool
	GracePeriod     string
	MaxAgeDays      int64
	// now is the clock that stamps a rotation request.
	now func() time.Time
	// requested is the request block stamped.
	requested string
}

func bindRotationFlags(cmd *cobra.Command, f *rotationFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&f.Rotate, "rotate-ssh-key", false, "Generate a new SSH key pair for the repository (a configuration whose key the cluster generated); its public key is printed and published as sshKey.pendingPublicKey while the old key stays in use, and replaces it once confirmed or after --ssh-key-grace-period, and only once it can read the repository.")
	fl.BoolVar(&f.Confirm, "confirm-ssh-key-rotation", false, "Confirm that the pending public key is a deploy key of the repository: the switch does not wait for the grace period.")
	fl.StringVar(&f.GracePeriod, "ssh-key-grace-period", "", "How long a new public key is published before it replaces the old one unconfirmed, e.g. 24h (the default) or 0.")
	fl.Int64Var(&f.MaxAgeDays, "ssh-key-max-age-days", 0, "Warn (the KeyRotationDue condition and a Warning event in the cluster) once the key in use is older than this many days, e.g. 90.")
}

func (f *rotationFlags) given(changed func(string) bool) bool {
	return f.Rotate || f.Confirm || changed("ssh-key-grace-period") || changed("ssh-key-max-age-days")
}

// block returns the sshKeyRotation merge patch of the flags given; current
// is the configuration's properties (what --confirm-ssh-key-rotation
// confirms).
func (f *rotationFlags) block(changed func(string) bool, current map[string]any) (map[string]any, error) {
	b := map[string]any{}
	if changed("ssh-key-grace-period") {
		n, err := graceSeconds(f.GracePeriod)
		if err != nil {
			return nil, err
		}
		b["gracePeriodInSeconds"] = n
	}
	if changed("ssh-key-max-age-days") {
		if f.MaxAgeDays < 1 || f.MaxAgeDays > 3650 {
			return nil, usagef("--ssh-key-max-age-days %d is out of range: use 1 to 3650", f.MaxAgeDays)
		}
		b["maxKeyAgeInDays"] = f.MaxAgeDays
	}
	switch {
	case f.Rotate:
		req := f.now().UTC().Format(time.RFC3339Nano)
		b["requestedAt"], f.requested = req, req
		b["confirmedAt"] = nil // confirms an older request, if any
		if f.Confirm {
			b["confirmedAt"] = req
		}
	case f.Confirm:
		req, pending := pendingRotation(current)
		if !pending {
			return nil, errNoPendingRotation
		}
		b["confirmedAt"] = req
	}
	return b, nil
}

// errNoPendingRotation: --confirm-ssh-key-rotation with nothing to confirm.
var errNoPendingRotation = usagef("no SSH key rotation is pending for this configuration: start one with --rotate-ssh-key")

// pendingRotation returns the configuration's rotation request and whether
// the cluster has yet to switch to its key.
func pendingRotation(props map[string]any) (string, bool) {
	git, _ := props["gitRepository"].(map[string]any)
	rot, _ := git["sshKeyRotation"].(map[string]any)
	req, _ := rot["requestedAt"].(string)
	key, _ := props["sshKey"].(map[string]any)
	handled, _ := key["lastHandledRotationRequest"].(string)
	return req, req != "" && req != handled
}

// graceSeconds parses a grace period: a Go duration or seconds, 0 allowed.
func graceSeconds(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		d, derr := time.ParseDuration(v)
		if derr != nil || d%time.Second != 0 {
			return 0, usagef("--ssh-key-grace-period %q is not a duration: use whole seconds or a Go duration such as 1h or 24h", v)
		}
		n = int64(d / time.Second)
	}
	if n < 0 || n > 365*24*3600 {
		return 0, usagef("--ssh-key-grace-period %s is out of range: use 0 to 8760h (a year)", v)
	}
	return n, nil
}

// rotationTimeout bounds how long update waits for the cluster to publish
// the new public key after the change is applied (RSA keys are generated
// in the background).
const rotationTimeout = 5 * time.Minute

// awaitPendingKey waits until the cluster has published the public key of
// request (or already switched to it) and tells the user what to do with
// it.
func (a *App) awaitPendingKey(c *configFlags, request string) error {
	path, err := a.fluxPath(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), rotationTimeout)
	defer cancel()
	for {
		var cfg map[string]any
		if _, err := a.call(http.MethodGet, path, nil, &cfg); err != nil {
			return err
		}
		props, _ := cfg["properties"].(map[string]any)
		key, _ := props["sshKey"].(map[string]any)
		pendingKey, _ := key["pendingPublicKey"].(string)
		if handled, _ := key["lastHandledRotationRequest"].(string); handled == request {
			a.warn("the new SSH key is already in use: remove the old public key from the repository's deploy keys")
			return nil
		}
		if pendingKey != "" {
			switchAfter, _ := key["switchAfter"].(string)
			a.warn("add this public key to the repository as a deploy key (read access):\n%s\nIt replaces the current key at %s, or sooner with --confirm-ssh-key-rotation, once it can read the repository; then remove the old key.",
				pendingKey, switchAfter)
			return nil
		}
		wait := a.PollInterval
		if wait <= 0 {
			wait = time.Second // as the long-running operations' polls
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster has not published the new public key after %s: see the configuration's KeyRotationInProgress condition in the cluster", rotationTimeout)
		case <-time.After(wait):
		}
	}
}
