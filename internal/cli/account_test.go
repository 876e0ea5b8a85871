package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// madePrincipal is what create-for-rbac printed.
type madePrincipal struct{ AppID, DisplayName, Password, Tenant string }

// withReader connects cluster1 with configuration cfg, has the owner make a
// Reader of rg1 with create-for-rbac, and signs it in with 'login' in its
// own config directory, returned.
func withReader(t *testing.T, d *testDataPlane) (madePrincipal, string) {
	t.Helper()
	connect(t, d)
	if code, _, stderr := run(t, d, args("k8s-configuration flux create "+cluster+" -n cfg --scope cluster -u https://github.com/Azure/arc-k8s-demo --branch main --kustomization name=infra path=./infra")...); code != 0 {
		t.Fatalf("create: %s", stderr)
	}
	code, out, stderr := run(t, d, "ad", "sp", "create-for-rbac", "-n", "ci-reader", "--role", "Reader",
		"--scopes", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1")
	if code != 0 || !strings.Contains(stderr, "credentials that you must protect") {
		t.Fatalf("create-for-rbac: %d %s", code, stderr)
	}
	var sp madePrincipal
	if err := json.Unmarshal([]byte(out), &sp); err != nil || sp.AppID == "" || sp.Password == "" || sp.Tenant != "adfs" {
		t.Fatalf("create-for-rbac printed %s (%v)", out, err)
	}
	home := t.TempDir()
	code, out, stderr = runWith(t, d, home, nil, "login", "--service-principal", "-u", sp.AppID, "-p", sp.Password, "--tenant", "adfs")
	if code != 0 || !strings.Contains(out, `"isDefault": true`) {
		t.Fatalf("login: %d %s %s", code, out, stderr)
	}
	return sp, home
}

// expect fails the test unless a command exited with code and its output
// holds want.
func expect(t *testing.T, what string, code int, output string, wantCode int, want string) {
	t.Helper()
	if code != wantCode || !strings.Contains(output, want) {
		t.Errorf("%s: exit %d (want %d), output lacks %q:\n%s", what, code, wantCode, want, output)
	}
}

// TestReaderSignsInAndIsRefusedAWrite: 'login' keeps the sign-in (0600),
// later commands use it, a Reader reads and is refused a delete, and the
// owner finds the refusal in the activity log.
func TestReaderSignsInAndIsRefusedAWrite(t *testing.T) {
	d := newTestDataPlane(t)
	sp, home := withReader(t, d)
	info, err := os.Stat(filepath.Join(home, "arcgitops", "profile.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("profile: %v %v, want mode 0600", info, err)
	}
	code, out, _ := runWith(t, d, home, nil, "account", "show")
	expect(t, "account show", code, out, 0, sp.AppID)
	code, out, _ = runWith(t, d, home, nil, append(args("k8s-configuration flux show "+cluster), "-n", "cfg")...)
	expect(t, "a Reader reads", code, out, 0, `"name": "cfg"`)
	code, _, stderr := runWith(t, d, home, nil, append(args("k8s-configuration flux delete "+cluster), "-n", "cfg", "--yes")...)
	expect(t, "a Reader deletes", code, stderr, 1, "(AuthorizationFailed)")
	expect(t, "a Reader deletes", code, stderr, 1, "Microsoft.KubernetesConfiguration/fluxConfigurations/delete")

	code, out, _ = run(t, d, "monitor", "activity-log", "list", "-g", "rg1", "--status", "Failed")
	var events []map[string]any
	if err := json.Unmarshal([]byte(out), &events); code != 0 || err != nil || len(events) != 1 || events[0]["caller"] != sp.AppID {
		t.Fatalf("failed events of rg1: %d %v %s", code, err, out)
	}
	code, out, _ = run(t, d, "monitor", "activity-log", "list", "-o", "table")
	expect(t, "activity-log table", code, out, 0, "Microsoft.Kubernetes/connectedClusters/write")
}

// TestRoleAndPrincipalLifecycle: role assignments listed and removed, a
// new secret, logout, and the secrets printed only by the commands that
// make them.
func TestRoleAndPrincipalLifecycle(t *testing.T) {
	d := newTestDataPlane(t)
	sp, home := withReader(t, d)
	show := append(args("k8s-configuration flux show "+cluster), "-n", "cfg")

	code, out, _ := run(t, d, "role", "assignment", "list", "--assignee", sp.AppID)
	var assignments []map[string]any
	if err := json.Unmarshal([]byte(out), &assignments); code != 0 || err != nil || len(assignments) != 1 {
		t.Fatalf("role assignment list: %d %s", code, out)
	}
	code, _, stderr := run(t, d, "role", "assignment", "delete", "--ids", assignments[0]["id"].(string))
	expect(t, "role assignment delete", code, stderr, 0, "")
	code, _, stderr = runWith(t, d, home, nil, show...)
	expect(t, "a principal without a role reads", code, stderr, 1, "AuthorizationFailed")
	code, _, stderr = run(t, d, "role", "assignment", "create", "--assignee", sp.AppID, "--role", "Nobody", "--scope", "/subscriptions/00000000-0000-0000-0000-000000000000")
	expect(t, "an unknown role", code, stderr, 2, `role "Nobody" does not exist`)

	code, out, _ = run(t, d, "ad", "sp", "credential", "reset", "--id", sp.AppID)
	var reset struct{ Password string }
	if err := json.Unmarshal([]byte(out), &reset); code != 0 || err != nil || reset.Password == "" || reset.Password == sp.Password {
		t.Fatalf("credential reset: %d %s", code, out)
	}
	code, _, stderr = runWith(t, d, t.TempDir(), nil, "login", "--service-principal", "-u", sp.AppID, "-p", reset.Password)
	expect(t, "login with the new secret", code, stderr, 0, "no subscription is visible")
	code, _, _ = runWith(t, d, home, nil, "logout")
	expect(t, "logout", code, "", 0, "")
	code, _, stderr = runWith(t, d, home, nil, show...)
	expect(t, "after logout", code, stderr, 1, "not signed in: run 'arcgitops login")
	code, _, stderr = runWith(t, d, t.TempDir(), nil, "login", "--service-principal", "-u", sp.AppID, "-p", "wrong")
	expect(t, "login with a wrong secret", code, stderr, 1, "invalid_client")

	code, list, _ := run(t, d, "ad", "sp", "list", "--display-name", "ci-reader")
	expect(t, "sp list", code, list, 0, sp.AppID)
	_, events, _ := run(t, d, "monitor", "activity-log", "list")
	for _, s := range []string{sp.Password, reset.Password} {
		if strings.Contains(list, s) || strings.Contains(events, s) {
			t.Error("a secret was printed by a command that does not make it")
		}
	}
	code, _, stderr = run(t, d, "ad", "sp", "delete", "--id", sp.AppID)
	expect(t, "sp delete", code, stderr, 0, "")
	code, _, _ = run(t, d, "ad", "sp", "show", "--id", sp.AppID)
	expect(t, "show of a deleted principal", code, "", 3, "")
}

// TestUserLifecycle: az ad user's commands make, read, change and delete a
// user; role assignment create takes its name as the assignee; a weak
// password is refused with the rule, and never printed.
func TestUserLifecycle(t *testing.T) {
	d := newTestDataPlane(t)
	const password = "Correct-Horse-7"
	code, _, stderr := run(t, d, "ad", "user", "create", "--display-name", "Ada", "--user-principal-name", "ada@contoso.com", "--password", "horsehorse")
	expect(t, "a weak password", code, stderr, 1, "three of lower-case letters, upper-case letters, digits and symbols")
	code, out, stderr := run(t, d, "ad", "user", "create", "--display-name", "Ada", "--user-principal-name", "ada@contoso.com", "--password", password)
	expect(t, "ad user create", code, out+stderr, 0, `"userPrincipalName": "ada@contoso.com"`)
	if strings.Contains(out+stderr, password) {
		t.Fatalf("the password was printed:\n%s", out)
	}
	code, out, _ = run(t, d, "ad", "user", "list", "-o", "table")
	expect(t, "ad user list", code, out, 0, "ada@contoso.com")
	code, out, _ = run(t, d, "role", "assignment", "create", "--assignee", "ada@contoso.com", "--role", "Reader",
		"--scope", "/subscriptions/00000000-0000-0000-0000-000000000000")
	expect(t, "role assignment create --assignee <user>", code, out, 0, `"principalType": "User"`)
	code, _, _ = run(t, d, "ad", "user", "update", "--id", "ada@contoso.com", "--account-enabled", "false")
	expect(t, "ad user update", code, "", 0, "")
	code, out, _ = run(t, d, "ad", "user", "show", "--id", "ada@contoso.com")
	expect(t, "ad user show", code, out, 0, `"accountEnabled": false`)
	code, _, stderr = run(t, d, "ad", "user", "update", "--id", "ada@contoso.com")
	expect(t, "an update without a change", code, stderr, 2, "give --display-name, --password or --account-enabled")
	code, _, _ = run(t, d, "ad", "user", "delete", "--id", "ada@contoso.com")
	expect(t, "ad user delete", code, "", 0, "")
	code, _, stderr = run(t, d, "ad", "user", "show", "--id", "ada@contoso.com")
	expect(t, "a deleted user", code, stderr, 3, "no user has the objectId or userPrincipalName")
}
