package e2e

import (
	"testing"

	. "github.com/onsi/gomega"
)

// TestMultiTenancyLockdown: with the extension's default
// multiTenancy.enforce=true, Azure's documented case is refused (a
// HelmRelease in an application namespace referring to the configuration's
// source in another), and the configuration says why (Flux does not);
// Azure's documented fix (every Flux object in the configuration's
// namespace, the workload placed by targetNamespace) is Compliant, the
// release applied as flux-applier.
func TestMultiTenancyLockdown(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	tenant := release{name: "tenant", namespace: "e2e-lockdown-apps", source: "e2e-lockdown/lockdown", targetNamespace: "e2e-lockdown-apps",
		message: "from the tenant"}
	_, err := env.Git.Commit("lockdown", withChart(map[string]string{
		"apps/namespace.yaml": namespaceYAML("e2e-lockdown-apps"),
		"apps/release.yaml":   tenant.yaml(),
	}), "a release outside the configuration's namespace")
	g.Expect(err).NotTo(HaveOccurred())
	cli(g, flux("create", "-n", "lockdown", "--namespace", "e2e-lockdown", "-u", env.Git.HTTPSRepoURL("lockdown"), "--branch", "main",
		"--https-ca-cert-file", caFile, "--interval", "10s",
		"--kustomization", "name=apps", "path=./apps", "prune=true", "sync_interval=10s", "retry_interval=5s", "timeout=30s", "-o", "none")...)
	// helm-controller refuses it without writing any condition (only its
	// log says why), and the Kustomization's health check just times out:
	// the configuration says why, and what to do.
	g.Eventually(func(g Gomega) {
		props := show(g, "lockdown")
		g.Expect(props["complianceState"]).To(Equal("Non-Compliant"))
		g.Expect(props["errorMessage"]).To(ContainSubstring("HelmRelease e2e-lockdown-apps/tenant takes its chart from namespace e2e-lockdown, " +
			"and multi-tenancy refuses references across namespaces"))
	}, wait, poll).Should(Succeed())
	// The configuration says so from the release's spec, possibly before
	// helm-controller has tried it; it does refuse it (its log says so,
	// which the suite reads when it runs helm-controller itself).
	if _, ours := env.Components()["helm-controller"]; ours {
		g.Eventually(func() string { return env.LogTail("helm-controller", 200) }, wait, poll).Should(
			ContainSubstring("cross-namespace references are not allowed"), "helm-controller refuses it")
	} else {
		t.Log("helm-controller runs in the cluster, not here: its log's refusal is not checked, the configuration's message is")
	}
	t.Logf("refused as: %s", show(g, "lockdown")["errorMessage"])

	tenant.namespace = "e2e-lockdown"
	_, err = env.Git.Commit("lockdown", map[string]string{"apps/release.yaml": tenant.yaml()}, "the release in the configuration's namespace")
	g.Expect(err).NotTo(HaveOccurred())
	waitCompliance(t, "lockdown", "Compliant")
	g.Expect(configMap(g, "e2e-lockdown-apps", "e2e-lockdown-apps-tenant").Data["message"]).To(Equal("from the tenant"))
}
