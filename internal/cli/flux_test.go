package cli

import (
	"strings"
	"testing"
)

const createSSH = "k8s-configuration flux create " + cluster + " -n cluster-config --namespace cluster-config --scope cluster" +
	" -u git@github.com:Azure/gitops-flux2-kustomize-helm-mt.git --branch main --ssh-private-key-file testdata/id_test_key" +
	" --kustomization name=infra path=./infrastructure prune=true" +
	" --kustomization name=apps path=./apps/staging prune=true depends_on=infra"

func TestFluxCreateGolden(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	runGolden(t, d, []goldenStep{
		{"create-ssh-two-kustomizations", createSSH},
		{"create-https-pat", "k8s-configuration flux create " + cluster + " -n private-repo --namespace team-a --scope namespace" +
			" -u https://dev.azure.com/org/project/_git/repo --branch main --https-user git --https-key s3cr3t-pat --interval 1m"},
		{"create-bucket", "k8s-configuration flux create " + cluster + " -n bucket-config --kind bucket -u https://s3.amazonaws.com" +
			" --bucket-name my-configs --bucket-access-key AKIAEXAMPLE --bucket-secret-key bucket-s3cr3t --timeout 2m"},
	})
}

func TestFluxUpdateGolden(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	mustRun(t, d, createSSH)
	runGolden(t, d, []goldenStep{
		{"update-interval", "k8s-configuration flux update " + cluster + " -n cluster-config --interval 5m"},
	})
}

// TestFluxUpdateSSHKeyRotationGolden: rotating a generated key is a PATCH
// of gitRepository.sshKeyRotation; confirming names the pending request.
func TestFluxUpdateSSHKeyRotationGolden(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	mustRun(t, d, "k8s-configuration flux create "+cluster+" -n generated -u git@github.com:o/r --branch main")
	confirm := "k8s-configuration flux update " + cluster + " -n generated --confirm-ssh-key-rotation --no-wait"
	if code, _, stderr := run(t, d, args(confirm)...); code != 2 || !strings.Contains(stderr, "no SSH key rotation is pending") {
		t.Errorf("confirming with nothing pending: exit %d, %q", code, stderr)
	}
	d.take()
	runGolden(t, d, []goldenStep{
		{"update-rotate-ssh-key", "k8s-configuration flux update " + cluster + " -n generated --rotate-ssh-key --ssh-key-grace-period 1h --ssh-key-max-age-days 90 --no-wait"},
		{"update-confirm-ssh-key-rotation", confirm},
	})
}

func TestFluxDeleteGolden(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	mustRun(t, d, "k8s-configuration flux create "+cluster+" -n private-repo --namespace team-a --scope namespace"+
		" -u https://dev.azure.com/org/project/_git/repo --branch main")
	runGolden(t, d, []goldenStep{
		{"delete", "k8s-configuration flux delete " + cluster + " -n private-repo --yes"},
	})
}
