// Package e2e runs the whole path on real Flux controllers: data plane and
// CLI -> agent -> FluxConfig -> Flux objects -> the cluster, and status back.
//
// It runs in one of two modes (`make test-e2e`):
//   - local (the default): it starts the local environment
//     (internal/localenv), the manager a process beside Flux;
//   - external (E2E_KUBECONFIG set): against an existing cluster where Flux
//     runs, as a user would: the Git server and the data plane on this
//     machine at E2E_HOST, the operator installed with its Helm chart
//     (the image E2E_IMAGE; without one, for a cluster with no kubelets,
//     the chart's Deployment run here as its pod), and everything it made
//     or installed removed at the end, which is checked.
package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/localenv"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

var (
	env    *localenv.Env
	k      client.Client
	caFile string
	ctx    = context.Background()
	// host is the address the cluster reaches this machine at: the
	// suite's own servers (webhook receivers) listen there.
	host = "127.0.0.1"
)

const (
	wait = 3 * time.Minute
	poll = time.Second
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

// clusterScopeNamespaces are the namespaces the suite places cluster-scope
// configurations in: an installed chart allows cluster scope there only.
var clusterScopeNamespaces = []string{"flux-system", "sample", "e2e-ssh-config", "e2e-https", "e2e-plain", "e2e-policy",
	"e2e-helm", "e2e-alerts", "e2e-receiver", "e2e-rotation", "e2e-lockdown"}

// external is the cluster the suite attaches to (E2E_KUBECONFIG), or nil.
func external() (*localenv.External, error) {
	kubeconfig := os.Getenv("E2E_KUBECONFIG")
	if kubeconfig == "" {
		return nil, nil
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	x := &localenv.External{Kubeconfig: kubeconfig, Host: os.Getenv("E2E_HOST"), ReceiverAddr: os.Getenv("E2E_RECEIVER_ADDR"),
		Helm: os.Getenv("HELM"), Chart: filepath.Join(root, "charts", "fluxconfig"), Image: os.Getenv("E2E_IMAGE"),
		ClusterScopeNamespaces: clusterScopeNamespaces}
	if x.Host == "" {
		x.Host = "127.0.0.1"
	}
	if x.Helm == "" {
		return nil, errors.New("HELM is not set: run the suite through make test-e2e, which installs helm into bin/")
	}
	return x, nil
}

func run(m *testing.M) int {
	bins, crds, err := localenv.BinariesFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	x, err := external()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mode := "Local environment"
	if x != nil {
		mode = "External cluster " + x.Kubeconfig
		host = x.Host
	}
	dir, _ := os.MkdirTemp("", "arcgitops-e2e-")
	start := time.Now()
	env, err = localenv.Start(ctx, localenv.Options{Dir: dir, Bins: bins, CRDPaths: crds, Progress: os.Stdout, External: x})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", mode, err)
		return 1
	}
	fmt.Printf("==> %s ready in %s (state in %s)\n", mode, time.Since(start).Round(time.Second), dir)
	k = env.Client
	code := suite(m, dir)
	env.Stop()
	if x != nil {
		// Nothing the suite made or installed may stay in someone's cluster.
		left, err := env.Leftovers(ctx)
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, "checking the cluster for leftovers:", err)
			code = 1
		case len(left) > 0:
			fmt.Fprintf(os.Stderr, "FAIL: the suite left behind in the cluster:\n  %s\n", strings.Join(left, "\n  "))
			code = 1
		default:
			fmt.Println("==> Nothing left behind in the cluster: no release, FluxConfig CRD, namespace, lease, or labelled object of the suite's")
		}
	}
	if code == 0 {
		_ = os.RemoveAll(dir)
	}
	return code
}

// suite runs the tests with the environment up.
func suite(m *testing.M, dir string) int {
	caFile = filepath.Join(dir, "git-ca.pem")
	if err := os.WriteFile(caFile, env.Git.CACert, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// dumpOnFailure prints FluxConfigs, Flux objects, events and every
// component's log tail when the test failed.
func dumpOnFailure(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var b strings.Builder
		dump := func(title string, list client.ObjectList) {
			if err := k.List(ctx, list); err != nil {
				fmt.Fprintf(&b, "%s: %v\n", title, err)
				return
			}
			j, _ := json.MarshalIndent(list, "", "  ")
			fmt.Fprintf(&b, "----- %s\n%s\n", title, j)
		}
		dump("FluxConfigs", &v1alpha1.FluxConfigList{})
		dump("GitRepositories", &sourcev1.GitRepositoryList{})
		dump("Kustomizations", &kustomizev1.KustomizationList{})
		var events corev1.EventList
		if err := k.List(ctx, &events); err == nil {
			fmt.Fprintf(&b, "----- Events\n")
			for _, e := range events.Items {
				fmt.Fprintf(&b, "%s %s/%s %s: %s\n", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
		for name, log := range env.Components() {
			fmt.Fprintf(&b, "----- %s (%s), last lines\n%s\n", name, log, env.LogTail(name, 40))
		}
		t.Log(b.String())
	})
}

// cli runs the CLI and fails the test on a non-zero exit.
func cli(g Gomega, args ...string) string {
	out, err := env.CLI(args...)
	g.Expect(err).NotTo(HaveOccurred(), "arcgitops %s\n%s", strings.Join(args, " "), out)
	return out
}

var cluster = []string{"-g", "local", "-c", "local", "-t", "connectedClusters"}

func flux(args ...string) []string {
	return append(append([]string{"k8s-configuration", "flux"}, args...), cluster...)
}

// show returns the configuration as the CLI prints it: az's flattened
// shape, its properties at the top level.
func show(g Gomega, name string) map[string]any {
	out := cli(g, flux("show", "-n", name)...)
	var cfg map[string]any
	g.Expect(json.Unmarshal([]byte(out), &cfg)).To(Succeed(), out)
	g.Expect(cfg).NotTo(HaveKey("properties"), "the CLI prints az's flattened shape")
	return cfg
}

func waitCompliance(t *testing.T, name, state string) map[string]any {
	t.Helper()
	g := NewWithT(t)
	var props map[string]any
	g.Eventually(func(g Gomega) {
		props = show(g, name)
		g.Expect(props["complianceState"]).To(Equal(state), "errorMessage: %v", props["errorMessage"])
	}, wait, poll).Should(Succeed())
	return props
}

func configMap(g Gomega, ns, name string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{}
	g.Expect(k.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm)).To(Succeed())
	return cm
}

func namespaceYAML(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
}

func configMapYAML(ns, name, msg string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\ndata:\n  message: " + msg + "\n"
}

// TestSSHLifecycle follows one SSH configuration through its life: a
// generated deploy key, dependsOn order, new commits, drift, a broken
// manifest, removing a kustomization, and deleting the configuration.
func TestSSHLifecycle(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	began := time.Now()
	step := func(name string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), name) }
	sha, err := env.Git.Commit("ssh-repo", map[string]string{
		"infra/ns.yaml":      namespaceYAML("e2e-ssh"),
		"apps/config.yaml":   configMapYAML("e2e-ssh", "app", "v1"),
		"extras/config.yaml": configMapYAML("e2e-ssh", "extra", "x"),
	}, "initial")
	g.Expect(err).NotTo(HaveOccurred())
	khFile := filepath.Join(t.TempDir(), "known_hosts")
	g.Expect(os.WriteFile(khFile, []byte(env.Git.KnownHosts), 0o600)).To(Succeed())

	step("1. create with a generated key")
	// 1. SSH with a generated key.
	cli(g, flux("create", "-n", "ssh", "--namespace", "e2e-ssh-config", "-u", env.Git.SSHRepoURL("ssh-repo"), "--branch", "main",
		"--known-hosts-file", khFile, "--interval", "10s",
		"--kustomization", "name=infra", "path=./infra", "prune=true", "sync_interval=10s", "retry_interval=5s",
		"--kustomization", "name=apps", "path=./apps", "prune=true", "depends_on=infra", "sync_interval=10s", "retry_interval=5s",
		"--kustomization", "name=extras", "path=./extras", "prune=true", "depends_on=infra", "sync_interval=10s", "retry_interval=5s",
		"-o", "none")...)
	var publicKey string
	g.Eventually(func(g Gomega) {
		publicKey, _ = show(g, "ssh")["repositoryPublicKey"].(string)
		g.Expect(publicKey).To(HavePrefix("ssh-rsa "), "an RSA 4096 key, Azure's default")
	}, wait, poll).Should(Succeed())
	step("deploy key added")
	g.Expect(env.Git.AddDeployKey(publicKey)).To(Succeed())
	props := waitCompliance(t, "ssh", "Compliant")
	g.Expect(props["sourceSyncedCommitId"]).To(Equal("main/" + sha))
	g.Expect(configMap(g, "e2e-ssh", "app").Data["message"]).To(Equal("v1"))
	// dependsOn order: apps is wired to wait for infra, which Flux
	// enforces. (Comparing creation times of what each applied proves
	// nothing: a ConfigMap cannot exist before its namespace.)
	apps := &kustomizev1.Kustomization{}
	g.Expect(k.Get(ctx, client.ObjectKey{Namespace: "e2e-ssh-config", Name: "ssh-apps"}, apps)).To(Succeed())
	g.Expect(apps.Spec.DependsOn).To(ConsistOf(kustomizev1.DependencyReference{Name: "ssh-infra"}))

	// 2. A new commit is followed.
	sha2, err := env.Git.Commit("ssh-repo", map[string]string{"apps/config.yaml": configMapYAML("e2e-ssh", "app", "v2")}, "v2")
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		g.Expect(show(g, "ssh")["sourceSyncedCommitId"]).To(Equal("main/" + sha2))
		g.Expect(configMap(g, "e2e-ssh", "app").Data["message"]).To(Equal("v2"))
	}, wait, poll).Should(Succeed())
	waitCompliance(t, "ssh", "Compliant")

	step("3. drift")
	// 3. Drift: a deleted object comes back.
	g.Expect(k.Delete(ctx, configMap(g, "e2e-ssh", "app"))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(configMap(g, "e2e-ssh", "app").Data["message"]).To(Equal("v2"))
	}, wait, poll).Should(Succeed())
	waitCompliance(t, "ssh", "Compliant")

	step("4. broken manifest")
	// 4. A broken manifest: Non-Compliant with Flux's message; fixed: Compliant.
	_, err = env.Git.Commit("ssh-repo", map[string]string{"apps/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, map]\n"}, "broken")
	g.Expect(err).NotTo(HaveOccurred())
	props = waitCompliance(t, "ssh", "Non-Compliant")
	statuses, _ := json.Marshal(props["statuses"])
	g.Expect(string(statuses)).To(ContainSubstring("ssh-apps"))
	g.Expect(props["errorMessage"]).To(ContainSubstring("Kustomization e2e-ssh-config/ssh-apps"))
	t.Logf("broken manifest reported as: %v", props["errorMessage"])
	_, err = env.Git.Commit("ssh-repo", map[string]string{"apps/broken.yaml": ""}, "fix")
	g.Expect(err).NotTo(HaveOccurred())
	waitCompliance(t, "ssh", "Compliant")

	step("7. remove a kustomization")
	// 7. Removing a kustomization (PATCH with null) prunes its objects.
	cli(g, append(flux("kustomization", "delete", "-n", "ssh", "-k", "extras"), "--yes")...)
	g.Eventually(func(g Gomega) {
		err := k.Get(ctx, client.ObjectKey{Namespace: "e2e-ssh-config", Name: "ssh-extras"}, &kustomizev1.Kustomization{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue())
		err = k.Get(ctx, client.ObjectKey{Namespace: "e2e-ssh", Name: "extra"}, &corev1.ConfigMap{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the pruned kustomization's ConfigMap is gone")
	}, wait, poll).Should(Succeed())
	g.Expect(configMap(g, "e2e-ssh", "app").Data["message"]).To(Equal("v2"))

	step("8. delete")
	// 8. Delete: every object goes, then the ARM resource.
	cli(g, append(flux("delete", "-n", "ssh"), "--yes")...)
	g.Eventually(func(g Gomega) {
		for _, obj := range []client.Object{
			&v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-ssh-config", Name: "ssh"}},
			&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-ssh-config", Name: "ssh"}},
			&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-ssh-config", Name: "ssh-apps"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-ssh-config", Name: "ssh-auth"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-ssh-config", Name: "ssh-ssh-key"}},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-ssh", Name: "app"}},
		} {
			err := k.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s still exists", obj, obj.GetName())
		}
		out, err := env.CLI(flux("show", "-n", "ssh")...)
		g.Expect(err).To(HaveOccurred())
		g.Expect(out).To(ContainSubstring("ResourceNotFound"))
	}, wait, poll).Should(Succeed())
	step("done")
}

// TestHTTPSWithToken: a private repository over HTTPS with a
// user and token, then a wrong token.
func TestHTTPSWithToken(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	_, err := env.Git.Commit("private", map[string]string{"app/config.yaml": configMapYAML("e2e-https", "private", "ok")}, "initial")
	g.Expect(err).NotTo(HaveOccurred())
	env.Git.SetBasicAuth("private", "git-bot", "right-token")
	g.Expect(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-https"}})).To(Succeed())

	cli(g, flux("create", "-n", "https", "--namespace", "e2e-https", "-u", env.Git.HTTPSRepoURL("private"), "--branch", "main",
		"--https-user", "git-bot", "--https-key", "right-token", "--https-ca-cert-file", caFile, "--interval", "10s",
		"--kustomization", "name=app", "path=./app", "prune=true", "sync_interval=10s", "-o", "none")...)
	waitCompliance(t, "https", "Compliant")
	g.Expect(configMap(g, "e2e-https", "private").Data["message"]).To(Equal("ok"))

	cli(g, flux("update", "-n", "https", "--https-key", "wrong-token", "-o", "none")...)
	props := waitCompliance(t, "https", "Non-Compliant")
	g.Expect(props["errorMessage"]).To(ContainSubstring("GitRepository e2e-https/https"))
	g.Expect(strings.ToLower(props["errorMessage"].(string))).To(Or(ContainSubstring("authentication"), ContainSubstring("401")))
	t.Logf("wrong token reported as: %v", props["errorMessage"])
	// The token never reaches the status.
	out := cli(g, flux("show", "-n", "https")...)
	g.Expect(out).NotTo(ContainSubstring("wrong-token"))
	g.Expect(out).NotTo(ContainSubstring(base64.StdEncoding.EncodeToString([]byte("wrong-token"))))
}

// TestNamespaceScope: a namespace-scope configuration applies
// inside its namespace and is refused outside it.
func TestNamespaceScope(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	_, err := env.Git.Commit("tenant", map[string]string{
		"inside/config.yaml": configMapYAML("whatever", "tenant-config", "inside"),
		"outside/ns.yaml":    namespaceYAML("tenant-escape"),
	}, "initial")
	g.Expect(err).NotTo(HaveOccurred())
	cli(g, flux("create", "-n", "tenant", "--namespace", "e2e-tenant", "--scope", "namespace",
		"-u", env.Git.HTTPSRepoURL("tenant"), "--branch", "main", "--https-ca-cert-file", caFile, "--interval", "10s",
		"--kustomization", "name=inside", "path=./inside", "sync_interval=10s",
		"--kustomization", "name=outside", "path=./outside", "sync_interval=10s", "retry_interval=5s", "-o", "none")...)
	// Transient failures (the source not fetched yet) may come first: wait
	// for the refusal of the object outside the namespace.
	g.Eventually(func(g Gomega) {
		props := show(g, "tenant")
		g.Expect(props["complianceState"]).To(Equal("Non-Compliant"))
		msg, _ := props["errorMessage"].(string)
		g.Expect(msg).To(ContainSubstring("tenant-outside"))
		g.Expect(strings.ToLower(msg)).To(ContainSubstring("forbidden"))
	}, wait, poll).Should(Succeed())
	g.Eventually(func(g Gomega) {
		// Applied inside the namespace, whatever the manifest says.
		g.Expect(configMap(g, "e2e-tenant", "tenant-config").Data["message"]).To(Equal("inside"))
	}, wait, poll).Should(Succeed())
	err = k.Get(ctx, client.ObjectKey{Name: "tenant-escape"}, &corev1.Namespace{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a namespace-scope configuration created a namespace")
}

// TestKubectlAppliedFluxConfig: a FluxConfig applied with kubectl, no data plane involved.
func TestKubectlAppliedFluxConfig(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	_, err := env.Git.Commit("plain", map[string]string{"manifests/config.yaml": configMapYAML("e2e-plain", "plain", "hello")}, "initial")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-plain"}})).To(Succeed())
	interval := int64(10)
	fc := &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-plain", Name: "plain"},
		Spec: v1alpha1.FluxConfigSpec{
			GitRepository: &v1alpha1.GitRepositoryDefinition{
				URL: env.Git.HTTPSRepoURL("plain"), RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"},
				HTTPSCACert: base64.StdEncoding.EncodeToString(env.Git.CACert), SyncIntervalInSeconds: &interval,
			},
			Kustomizations: map[string]v1alpha1.KustomizationDefinition{"manifests": {Path: "./manifests", SyncIntervalInSeconds: &interval}},
		},
	}
	g.Expect(k.Create(ctx, fc)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := &v1alpha1.FluxConfig{}
		g.Expect(k.Get(ctx, client.ObjectKeyFromObject(fc), got)).To(Succeed())
		g.Expect(got.Status.ComplianceState).To(Equal(v1alpha1.ComplianceCompliant), "%s", got.Status.ErrorMessage)
		g.Expect(configMap(g, "e2e-plain", "plain").Data["message"]).To(Equal("hello"))
	}, wait, poll).Should(Succeed())
	// The agent leaves it alone: not in the data plane.
	out := cli(g, append(flux("list"), "-o", "tsv")...)
	g.Expect(out).NotTo(ContainSubstring("plain"))
}

// TestBuiltinPolicyReachesCompliant: Azure's built-in "Flux v2
// configuration using Git repository and HTTPS CA Certificate", assigned
// through the CLI, is remediated onto the cluster, and the configuration
// it deploys reaches Compliant on real Flux; the policy state says so.
func TestBuiltinPolicyReachesCompliant(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	_, err := env.Git.Commit("policy", map[string]string{"app/config.yaml": configMapYAML("e2e-policy", "from-policy", "baseline")}, "initial")
	g.Expect(err).NotTo(HaveOccurred())
	const builtin = "2630c91f-8a20-8f43-14a2-2485b648e2a9"
	params, _ := json.Marshal(map[string]any{
		"configurationName":      map[string]any{"value": "policy-baseline"},
		"configurationNamespace": map[string]any{"value": "e2e-policy"},
		"repositoryUrl":          map[string]any{"value": env.Git.HTTPSRepoURL("policy")},
		"repositoryRefBranch":    map[string]any{"value": "main"},
		"repositoryHttpsCACert":  map[string]any{"value": base64.StdEncoding.EncodeToString(env.Git.CACert)},
		"kustomizationPath":      map[string]any{"value": "./app"},
		"kustomizationPrune":     map[string]any{"value": true},
	})
	scope := []string{"-g", "local"}
	cli(g, append([]string{"policy", "assignment", "create", "-n", "e2e-builtin", "--policy", builtin, "--mi-system-assigned", "-l", "westeurope",
		"--role", "Contributor", "-p", string(params), "-o", "none"}, scope...)...)
	t.Cleanup(func() {
		_, _ = env.CLI(append([]string{"policy", "assignment", "delete", "-n", "e2e-builtin"}, scope...)...)
		_, _ = env.CLI(flux("delete", "-n", "policy-baseline", "--yes")...)
	})
	assignmentID := strings.TrimSpace(cli(g, append([]string{"policy", "assignment", "show", "-n", "e2e-builtin", "--query", "id", "-o", "tsv"}, scope...)...))

	// The cluster was there first: non-compliant until remediated.
	cli(g, "policy", "state", "trigger-scan", "-g", "local")
	state := func(g Gomega) string {
		return strings.TrimSpace(cli(g, "policy", "state", "list", "-g", "local", "--filter", "policyAssignmentName eq 'e2e-builtin'",
			"--query", "[0].complianceState", "-o", "tsv"))
	}
	g.Expect(state(g)).To(Equal("NonCompliant"))
	cli(g, "policy", "remediation", "create", "-n", "e2e-builtin", "-a", assignmentID, "-g", "local", "-o", "none")
	g.Eventually(func(g Gomega) {
		g.Expect(strings.TrimSpace(cli(g, "policy", "remediation", "show", "-n", "e2e-builtin", "-g", "local",
			"--query", "properties.provisioningState", "-o", "tsv"))).To(Equal("Succeeded"))
	}, wait, poll).Should(Succeed())

	props := waitCompliance(t, "policy-baseline", "Compliant")
	g.Expect(props["gitRepository"]).To(HaveKeyWithValue("url", env.Git.HTTPSRepoURL("policy")))
	g.Eventually(func(g Gomega) {
		g.Expect(configMap(g, "e2e-policy", "from-policy").Data["message"]).To(Equal("baseline"))
	}, wait, poll).Should(Succeed())
	g.Expect(state(g)).To(Equal("Compliant"))
}

// helmChart is a one-template chart whose ConfigMap says .Values.message,
// which it requires.
var helmChart = map[string]string{
	"charts/hello/Chart.yaml":  "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
	"charts/hello/values.yaml": "message: from the chart\n",
	"charts/hello/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n" +
		"data:\n  message: {{ required \"message is required\" .Values.message | quote }}\n",
}

// release is a HelmRelease of the test chart (charts/hello of the
// configuration's repository).
type release struct {
	name, namespace string
	// annotations, one "key: value" each.
	annotations []string
	// source names the GitRepository (namespace/name or name); none for
	// a release that leaves it to use-managed-source.
	source          string
	targetNamespace string
	message         string
}

func (r release) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: %s\n  namespace: %s\n", r.name, r.namespace)
	if len(r.annotations) > 0 {
		b.WriteString("  annotations:\n")
		for _, a := range r.annotations {
			fmt.Fprintf(&b, "    %s\n", a)
		}
	}
	b.WriteString("spec:\n  interval: 10s\n")
	if r.targetNamespace != "" {
		fmt.Fprintf(&b, "  targetNamespace: %s\n", r.targetNamespace)
	}
	b.WriteString("  chart:\n    spec:\n      chart: ./charts/hello\n      interval: 10s\n")
	if r.source != "" {
		ns, name, cross := strings.Cut(r.source, "/")
		if !cross {
			name = ns
		}
		fmt.Fprintf(&b, "      sourceRef:\n        kind: GitRepository\n        name: %s\n", name)
		if cross {
			fmt.Fprintf(&b, "        namespace: %s\n", ns)
		}
	}
	// Retry a failed install or upgrade forever: a fixed value recovers.
	b.WriteString("  install:\n    remediation:\n      retries: -1\n  upgrade:\n    remediation:\n      retries: -1\n")
	fmt.Fprintf(&b, "  values:\n    message: %q\n", r.message)
	return b.String()
}

// withChart adds the test chart to a repository's files.
func withChart(files map[string]string) map[string]string {
	for k, v := range helmChart {
		files[k] = v
	}
	return files
}

// TestHelmRelease: a repository whose Kustomization applies a HelmRelease
// (the most common Flux layout) through a FluxConfig, on the real
// helm-controller: Compliant once the release is installed, with the
// HelmRelease and its HelmChart among statuses[]; a second release that
// names no source but carries Azure's use-managed-source annotation is
// released from the configuration's GitRepository; a chart value the
// chart refuses makes it
// Non-Compliant with Helm's own message, in the HelmRelease's status and
// in errorMessage; deleting the configuration uninstalls both releases.
func TestHelmRelease(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	hello := release{name: "hello", namespace: "e2e-helm", source: "helm", message: "from the release"}
	files := withChart(map[string]string{"release/hello.yaml": hello.yaml(),
		"release/managed.yaml": release{name: "managed", namespace: "e2e-helm", message: "from the managed source",
			annotations: []string{`clusterconfig.azure.com/use-managed-source: "true"`}}.yaml()})
	_, err := env.Git.Commit("helm", files, "a chart and its release")
	g.Expect(err).NotTo(HaveOccurred())
	cli(g, flux("create", "-n", "helm", "--namespace", "e2e-helm", "-u", env.Git.HTTPSRepoURL("helm"), "--branch", "main",
		"--https-ca-cert-file", caFile, "--interval", "10s",
		// A short timeout: a failing release fails the health check soon.
		"--kustomization", "name=release", "path=./release", "prune=true", "sync_interval=10s", "retry_interval=5s", "timeout=30s", "-o", "none")...)
	props := waitCompliance(t, "helm", "Compliant")
	g.Expect(configMap(g, "e2e-helm", "hello").Data["message"]).To(Equal("from the release"))
	// use-managed-source: the Kustomization gave the release the
	// configuration's GitRepository as its chart source.
	g.Expect(configMap(g, "e2e-helm", "managed").Data["message"]).To(Equal("from the managed source"))
	g.Expect(props["statuses"]).To(ContainElement(And(HaveKeyWithValue("kind", "HelmRelease"), HaveKeyWithValue("name", "hello"),
		HaveKeyWithValue("complianceState", "Compliant"))))
	// The HelmChart helm-controller made for the release, as Azure lists it.
	g.Expect(props["statuses"]).To(ContainElement(And(HaveKeyWithValue("kind", "HelmChart"), HaveKeyWithValue("name", "e2e-helm-hello"),
		HaveKeyWithValue("complianceState", "Compliant"))))

	// An empty message: the chart's `required` fails the upgrade.
	hello.message = ""
	_, err = env.Git.Commit("helm", map[string]string{"release/hello.yaml": hello.yaml()}, "no message")
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		props := show(g, "helm")
		g.Expect(props["complianceState"]).To(Equal("Non-Compliant"))
		g.Expect(helmMessages(props)).To(ContainSubstring("message is required"), "the HelmRelease's status carries Helm's message")
		g.Expect(props["errorMessage"]).To(ContainSubstring("message is required"), "the HelmRelease, not the health check waiting for it, explains")
	}, wait, poll).Should(Succeed())
	props = show(g, "helm")
	t.Logf("a refused chart value reported as: errorMessage %q; the HelmRelease's conditions %q", props["errorMessage"], helmMessages(props))

	// Deleting the configuration uninstalls both releases (prune=true, the
	// failing one too): helm-controller does it as flux-applier, which the
	// configuration keeps until the releases are gone.
	cli(g, append(flux("delete", "-n", "helm"), "--yes")...)
	g.Eventually(func(g Gomega) {
		for _, name := range []string{"hello", "managed"} {
			err := k.Get(ctx, client.ObjectKey{Namespace: "e2e-helm", Name: name}, &corev1.ConfigMap{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "release %s is uninstalled: its ConfigMap is gone", name)
		}
		var records corev1.SecretList
		g.Expect(k.List(ctx, &records, client.InNamespace("e2e-helm"), client.MatchingLabels{"owner": "helm"})).To(Succeed())
		g.Expect(records.Items).To(BeEmpty(), "Helm's release records are gone")
		out, err := env.CLI(flux("show", "-n", "helm")...)
		g.Expect(err).To(HaveOccurred())
		g.Expect(out).To(ContainSubstring("ResourceNotFound"))
	}, wait, poll).Should(Succeed())
}

// helmMessages joins the condition messages of the HelmReleases among a
// configuration's statuses.
func helmMessages(props map[string]any) string {
	var out []string
	statuses, _ := props["statuses"].([]any)
	for _, s := range statuses {
		st, _ := s.(map[string]any)
		if st["kind"] != "HelmRelease" {
			continue
		}
		conds, _ := st["statusConditions"].([]any)
		for _, c := range conds {
			if m, ok := c.(map[string]any)["message"].(string); ok {
				out = append(out, m)
			}
		}
	}
	return strings.Join(out, " | ")
}
