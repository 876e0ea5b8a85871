// Package install proves that what users install (the Helm chart and the
// Kustomize overlay) is valid for a real API server, and that the manager
// does its job with exactly the permissions it ships.
package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/manager"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

var (
	env       *testenv.Env
	k         client.Client
	helm      = os.Getenv("HELM")
	kustomize = os.Getenv("KUSTOMIZE")
	logs      = &testenv.LogBuffer{}
	ctx       = context.Background()
)

func TestMain(m *testing.M) {
	if helm == "" || kustomize == "" {
		fmt.Fprintln(os.Stderr, "HELM and KUSTOMIZE are not set: run the tests with make test, which installs them into bin/")
		os.Exit(1)
	}
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k = env.Client
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.UseDevMode(true)))
	if err := k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-system"}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = "../.."
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String() + errOut.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func helmTemplate(t *testing.T, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"template", "fluxconfig", "charts/fluxconfig", "-n", "flux-system", "--kube-version", "1.36.3", "--include-crds"}, extra...)
	return run(t, helm, args...)
}

// decode splits a multi-document YAML stream into objects.
func decode(g Gomega, manifests string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := d.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return out
		}
		g.Expect(err).NotTo(HaveOccurred())
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// dryRunApply is `kubectl apply --server-side --dry-run=server`.
func dryRunApply(g Gomega, objs []*unstructured.Unstructured) {
	for _, u := range objs {
		err := k.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("install-test"), client.ForceOwnership, client.DryRunAll)
		g.Expect(err).NotTo(HaveOccurred(), "%s %s", u.GetKind(), u.GetName())
	}
}

func TestHelmLint(t *testing.T) {
	g := NewWithT(t)
	out, err := run(t, helm, "lint", "charts/fluxconfig", "--kube-version", "1.36.3")
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = run(t, helm, "lint", "charts/fluxconfig", "--kube-version", "1.36.3", "-f", "test/install/testdata/all-values.yaml")
	g.Expect(err).NotTo(HaveOccurred(), out)
}

func TestManifestsApplyToARealAPIServer(t *testing.T) {
	// ServiceMonitor's CRD, as the Prometheus operator would install it.
	g := NewWithT(t)
	g.Expect(env.InstallOpenCRD(ctx, "monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors")).To(Succeed())

	for name, args := range map[string][]string{
		"default values":     nil,
		"all options":        {"-f", "test/install/testdata/all-values.yaml"},
		"without the policy": {"--set", "multiTenancy.admissionPolicy=false,leaderElection=false"},
	} {
		t.Run("helm "+name, func(t *testing.T) {
			g := NewWithT(t)
			out, err := helmTemplate(t, args...)
			g.Expect(err).NotTo(HaveOccurred(), out)
			objs := decode(g, out)
			g.Expect(len(objs)).To(BeNumerically(">=", 6))
			dryRunApply(g, objs)
		})
	}
	t.Run("kustomize config/default", func(t *testing.T) {
		g := NewWithT(t)
		out, err := run(t, kustomize, "build", "config/default")
		g.Expect(err).NotTo(HaveOccurred(), out)
		objs := decode(g, out)
		g.Expect(len(objs)).To(Equal(14)) // with the three admission policies and their bindings
		dryRunApply(g, objs)
	})
}

// hubTemplate renders the hub's chart.
func hubTemplate(t *testing.T, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"template", "hub", "charts/arcgitops-hub", "-n", "arcgitops", "--kube-version", "1.36.3"}, extra...)
	return run(t, helm, args...)
}

// TestHubChart: the hub's chart lints, renders objects a real API server
// takes (a Deployment of replicas on etcd with its keys, TLS and probes, a
// Service, a PodDisruptionBudget, and cert-manager's Certificate when
// asked), and refuses values that cannot work, saying what to give.
func TestHubChart(t *testing.T) {
	g := NewWithT(t)
	g.Expect(env.InstallOpenCRD(ctx, "cert-manager.io", "v1", "Certificate", "certificates")).To(Succeed())
	for name, values := range map[string]string{"minimal": "test/install/testdata/hub-values.yaml", "all options": "test/install/testdata/hub-all-values.yaml"} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			out, err := run(t, helm, "lint", "charts/arcgitops-hub", "--kube-version", "1.36.3", "-f", values)
			g.Expect(err).NotTo(HaveOccurred(), out)
			out, err = hubTemplate(t, "-f", values)
			g.Expect(err).NotTo(HaveOccurred(), out)
			objs := decode(g, out)
			kinds := map[string]*unstructured.Unstructured{}
			for _, u := range objs {
				kinds[u.GetKind()] = u
			}
			g.Expect(kinds).To(HaveKey("Deployment"))
			g.Expect(kinds).To(HaveKey("Service"))
			g.Expect(kinds).To(HaveKey("PodDisruptionBudget"))
			containers, _, _ := unstructured.NestedSlice(kinds["Deployment"].Object, "spec", "template", "spec", "containers")
			args := fmt.Sprint(containers[0].(map[string]any)["args"])
			g.Expect(args).To(And(ContainSubstring("--store=etcd"), ContainSubstring("--etcd-endpoints=https://etcd-0.etcd:2379,https://etcd-1.etcd:2379,https://etcd-2.etcd:2379"),
				ContainSubstring("--keys-dir=/etc/arcgitops/keys"), ContainSubstring("--external-url=https://hub.example.com ")))
			if name == "all options" {
				g.Expect(kinds).To(HaveKey("Certificate"))
				g.Expect(args).To(And(ContainSubstring("--etcd-ca-file="), ContainSubstring("--oidc-issuer-url=https://login.example.com/realms/fleet")))
			}
			g.Expect(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "arcgitops"}})).To(Or(Succeed(), WithTransform(apierrors.IsAlreadyExists, BeTrue())))
			dryRunApply(g, objs)
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no etcd", []string{"--set", "externalURL=https://hub.example.com,tls.secretName=t"}, "at '/etcd/endpoints': minItems: got 0, want 1"},
		{"an http URL", []string{"-f", "test/install/testdata/hub-values.yaml", "--set", "externalURL=http://hub.example.com"}, "at '/externalURL'"},
		{"no TLS", []string{"-f", "test/install/testdata/hub-values.yaml", "--set", "tls.secretName="}, "tls.secretName is required"},
		{"cert-manager without an issuer", []string{"-f", "test/install/testdata/hub-values.yaml", "--set", "tls.certManager.enabled=true"}, "tls.certManager.issuerRef.name is required"},
		{"an etcd prefix without its slash", []string{"-f", "test/install/testdata/hub-values.yaml", "--set", "etcd.prefix=/hub"}, "at '/etcd/prefix'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := hubTemplate(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q\n%.300s", err, tc.want, out)
			}
		})
	}
}

func TestBadValuesAreRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"wrong type", []string{"--set", "replicas=two"}, "at '/replicas': got string, want integer"},
		{"unknown algorithm", []string{"--set", "sshKeyAlgorithm=dsa"}, "at '/sshKeyAlgorithm': value must be one of"},
		{"unknown log level", []string{"--set", "logLevel=verbose"}, "at '/logLevel': value must be one of"},
		{"memory limit ratio above one", []string{"--set", "memoryLimitRatio=1.5"}, "at '/memoryLimitRatio'"},
		{"unknown value", []string{"--set", "replica=2"}, "additional properties 'replica' not allowed"},
		{"a CA that is not PEM", []string{"--set", "agent.caCert=not-a-certificate"}, "at '/agent/caCert': 'not-a-certificate' does not match pattern"},
		{"agent without cluster ID", []string{"--set", "agent.dataplaneURL=http://dp:8090,agent.token=x"}, "agent.dataplaneURL needs agent.clusterResourceID"},
		{"agent without token", []string{"--set", "agent.dataplaneURL=http://dp:8090,agent.clusterResourceID=/subscriptions/s/resourceGroups/r/providers/Microsoft.Kubernetes/connectedClusters/c"}, "needs agent.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helmTemplate(t, tt.args...)
			if err == nil {
				t.Fatalf("accepted:\n%.300s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// rendered returns the chart's RBAC objects (default values).
func rendered(t *testing.T) (*rbacv1.ClusterRole, []*unstructured.Unstructured) {
	t.Helper()
	g := NewWithT(t)
	out, err := helmTemplate(t)
	g.Expect(err).NotTo(HaveOccurred())
	var role *rbacv1.ClusterRole
	var others []*unstructured.Unstructured
	for _, u := range decode(g, out) {
		switch u.GetKind() {
		case "ClusterRole":
			role = &rbacv1.ClusterRole{}
			g.Expect(runtimeFromUnstructured(u, role)).To(Succeed())
		case "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount":
			others = append(others, u)
		}
	}
	g.Expect(role).NotTo(BeNil())
	return role, others
}

const managerUser = "system:serviceaccount:flux-system:fluxconfig-manager"

// impersonate returns a client acting as user, with every RBAC right, so
// that only admission policies can refuse it.
func impersonate(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters", "system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// applyPolicies applies the chart's admission policies (and bindings) of
// the names given, waits until the API server enforces them, and returns
// what removes them.
func applyPolicies(t *testing.T, names ...string) (remove func()) {
	t.Helper()
	g := NewWithT(t)
	out, err := helmTemplate(t)
	g.Expect(err).NotTo(HaveOccurred(), out)
	var applied []*unstructured.Unstructured
	for _, u := range decode(g, out) {
		if strings.HasPrefix(u.GetKind(), "ValidatingAdmissionPolicy") && slices.Contains(names, u.GetName()) {
			g.Expect(k.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("install-test"), client.ForceOwnership)).To(Succeed())
			applied = append(applied, u)
		}
	}
	g.Expect(applied).To(HaveLen(2*len(names)), "a policy and a binding each")
	if slices.Contains(names, "fluxconfig-manager-writes") {
		// Enforced once a Secret the manager does not manage is refused.
		stray := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "stray"}}
		g.Eventually(func() error {
			return impersonate(t, managerUser).Create(ctx, stray.DeepCopy(), client.DryRunAll)
		}, 20*time.Second, 200*time.Millisecond).Should(MatchError(ContainSubstring("may only write the Secrets it manages")))
	}
	return func() {
		for _, u := range applied {
			_ = k.Delete(ctx, u)
		}
	}
}

// startManager runs the manager as the chart's ServiceAccount until stop.
func startManager(t *testing.T) (stop func()) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:flux-system", "system:authenticated"}}
	opts := manager.DefaultOptions()
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.SSHKeyAlgorithm = "ecdsa-p256"
	opts.LeaderElection = true
	opts.LeaderElectionNS = "flux-system"
	opts.SkipNameValidation = true
	mgr, err := manager.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = mgr.Start(c); close(done) }()
	return func() { cancel(); <-done }
}

func fluxConfigs(t *testing.T, suffix string) (cluster, namespaced *v1alpha1.FluxConfig) {
	t.Helper()
	g := NewWithT(t)
	for _, ns := range []string{"rbac-c-" + suffix, "rbac-n-" + suffix} {
		g.Expect(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}
	mk := func(ns string, scope v1alpha1.ScopeType, url string) *v1alpha1.FluxConfig {
		fc := &v1alpha1.FluxConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cfg"},
			Spec: v1alpha1.FluxConfigSpec{Scope: scope,
				GitRepository:  &v1alpha1.GitRepositoryDefinition{URL: url, RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"}},
				Kustomizations: map[string]v1alpha1.KustomizationDefinition{"apps": {Path: "./apps"}}},
		}
		g.Expect(k.Create(ctx, fc)).To(Succeed())
		return fc
	}
	return mk("rbac-c-"+suffix, v1alpha1.ScopeCluster, "ssh://git@github.com/o/r"), mk("rbac-n-"+suffix, v1alpha1.ScopeNamespace, "https://github.com/o/r")
}

// complete reports whether every object of both configurations exists.
func complete(g Gomega, cluster, namespaced *v1alpha1.FluxConfig) {
	for _, fc := range []*v1alpha1.FluxConfig{cluster, namespaced} {
		g.Expect(k.Get(ctx, client.ObjectKey{Namespace: fc.Namespace, Name: "cfg"}, &sourcev1.GitRepository{})).To(Succeed())
		g.Expect(k.Get(ctx, client.ObjectKey{Namespace: fc.Namespace, Name: "cfg-apps"}, &kustomizev1.Kustomization{})).To(Succeed())
		g.Expect(k.Get(ctx, client.ObjectKey{Namespace: fc.Namespace, Name: "flux-applier"}, &corev1.ServiceAccount{})).To(Succeed())
		got := &v1alpha1.FluxConfig{}
		g.Expect(k.Get(ctx, client.ObjectKeyFromObject(fc), got)).To(Succeed())
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}
	g.Expect(k.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: "cfg-ssh-key"}, &corev1.Secret{})).To(Succeed())
	g.Expect(k.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: "cfg-auth"}, &corev1.Secret{})).To(Succeed())
	crb := &rbacv1.ClusterRoleBinding{}
	g.Expect(k.Get(ctx, client.ObjectKey{Name: "flux-applier-binding"}, crb)).To(Succeed())
	g.Expect(crb.Subjects).To(ContainElement(HaveField("Namespace", cluster.Namespace)))
	g.Expect(k.Get(ctx, client.ObjectKey{Namespace: namespaced.Namespace, Name: "flux-applier-binding"}, &rbacv1.RoleBinding{})).To(Succeed())
}

// TestManagerRunsWithTheShippedRBAC runs the manager as the chart's
// ServiceAccount with exactly the chart's RBAC, then with one rule less.
func TestManagerRunsWithTheShippedRBAC(t *testing.T) {
	g := NewWithT(t)
	role, others := rendered(t)
	for _, u := range others {
		g.Expect(k.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("install-test"), client.ForceOwnership)).To(Succeed())
	}
	applyRole := func(r *rbacv1.ClusterRole) {
		current := &rbacv1.ClusterRole{}
		if err := k.Get(ctx, client.ObjectKey{Name: r.Name}, current); err == nil {
			current.Rules = r.Rules
			g.Expect(k.Update(ctx, current)).To(Succeed())
			return
		}
		g.Expect(k.Create(ctx, r.DeepCopy())).To(Succeed())
	}

	t.Run("with the shipped rules", func(t *testing.T) {
		g := NewWithT(t)
		applyRole(role)
		// The policy on the manager's own writes is in force: what it
		// really writes passes it.
		defer applyPolicies(t, "fluxconfig-manager-writes")()
		logs.Reset()
		stop := startManager(t)
		defer stop()
		cluster, namespaced := fluxConfigs(t, "ok")
		g.Eventually(func(g Gomega) { complete(g, cluster, namespaced) }, 60*time.Second, 250*time.Millisecond).Should(Succeed())
		g.Expect(strings.ToLower(logs.String())).NotTo(ContainSubstring("forbidden"))
	})

	removals := []struct {
		name  string
		match func(rbacv1.PolicyRule) bool
	}{
		{"secrets", func(r rbacv1.PolicyRule) bool { return contains(r.Resources, "secrets") }},
		{"kustomizations", func(r rbacv1.PolicyRule) bool { return contains(r.Resources, "kustomizations") }},
		{"bind on cluster-admin and admin", func(r rbacv1.PolicyRule) bool { return contains(r.Verbs, "bind") }},
		{"fluxconfigs/status", func(r rbacv1.PolicyRule) bool { return contains(r.Resources, "fluxconfigs/status") }},
	}
	for i, rm := range removals {
		t.Run("without "+rm.name, func(t *testing.T) {
			g := NewWithT(t)
			reduced := role.DeepCopy()
			reduced.Rules = nil
			removed := 0
			for _, r := range role.Rules {
				if rm.match(r) {
					removed++
					continue
				}
				reduced.Rules = append(reduced.Rules, r)
			}
			g.Expect(removed).To(BeNumerically(">", 0), "no rule matched")
			applyRole(reduced)
			defer applyRole(role)
			logs.Reset()
			stop := startManager(t)
			defer stop()
			cluster, namespaced := fluxConfigs(t, fmt.Sprint(i))
			g.Consistently(func() error {
				return func() (err error) {
					defer func() {
						if recover() != nil {
							err = errors.New("incomplete")
						}
					}()
					complete(NewGomega(func(message string, _ ...int) { panic(message) }), cluster, namespaced)
					return nil
				}()
			}, 8*time.Second, 500*time.Millisecond).ShouldNot(Succeed(), "the manager did its job without the %s rule", rm.name)
			g.Eventually(func() string { return strings.ToLower(logs.String()) }, 20*time.Second, 250*time.Millisecond).
				Should(ContainSubstring("forbidden"))
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func runtimeFromUnstructured(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)
}

// TestClusterScopePolicy applies the chart's admission policy for real:
// cluster scope only from the manager or in the listed namespaces.
func TestClusterScopePolicy(t *testing.T) {
	g := NewWithT(t)
	out, err := helmTemplate(t, "--set", "multiTenancy.clusterScopeNamespaces={flux-system,platform}")
	g.Expect(err).NotTo(HaveOccurred(), out)
	for _, u := range decode(g, out) {
		if strings.HasPrefix(u.GetKind(), "ValidatingAdmissionPolicy") {
			g.Expect(k.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("install-test"), client.ForceOwnership)).To(Succeed())
		}
	}
	defer func() {
		for _, u := range decode(g, out) {
			if strings.HasPrefix(u.GetKind(), "ValidatingAdmissionPolicy") {
				_ = k.Delete(ctx, u)
			}
		}
	}()
	for _, ns := range []string{"platform", "team-x"} {
		g.Expect(client.IgnoreAlreadyExists(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
	}
	as := func(user string) client.Client {
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters", "system:authenticated"}}
		c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
		g.Expect(err).NotTo(HaveOccurred())
		return c
	}
	fc := func(ns, name string, scope v1alpha1.ScopeType) *v1alpha1.FluxConfig {
		return &v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.FluxConfigSpec{Scope: scope, GitRepository: &v1alpha1.GitRepositoryDefinition{
				URL: "https://github.com/o/r", RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"}}}}
	}
	alice := as("alice")
	manager := as(managerUser)
	// The policy takes a moment to be enforced after it is created.
	g.Eventually(func() error {
		return alice.Create(ctx, fc("team-x", "probe", v1alpha1.ScopeCluster), client.DryRunAll)
	}, 20*time.Second, 200*time.Millisecond).Should(MatchError(ContainSubstring(
		"cluster-scope FluxConfigs may be created only in the namespaces flux-system, platform")))
	g.Expect(alice.Create(ctx, fc("team-x", "tenant", v1alpha1.ScopeNamespace), client.DryRunAll)).To(Succeed())
	g.Expect(alice.Create(ctx, fc("platform", "infra", v1alpha1.ScopeCluster), client.DryRunAll)).To(Succeed())
	// The agent is held to the same list: a data plane cannot place cluster
	// scope where an administrator did not allow it.
	g.Expect(manager.Create(ctx, fc("team-x", "from-agent", v1alpha1.ScopeCluster), client.DryRunAll)).To(MatchError(ContainSubstring(
		"cluster-scope FluxConfigs may be created only in the namespaces flux-system, platform")))

	// Only the manager marks a FluxConfig as the agent's.
	agentOwned := func(ns, name string) *v1alpha1.FluxConfig {
		f := fc(ns, name, v1alpha1.ScopeNamespace)
		f.Labels = map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByAgent}
		f.Annotations = map[string]string{v1alpha1.DataPlaneGenerationAnnotation: "1"}
		return f
	}
	g.Eventually(func() error {
		return alice.Create(ctx, agentOwned("team-x", "spoof"), client.DryRunAll)
	}, 20*time.Second, 200*time.Millisecond).Should(MatchError(ContainSubstring(
		"only the fluxconfig manager may set or change the clusterconfig.azure.com/managed-by label")))
	owned := agentOwned("team-x", "fleet")
	g.Expect(manager.Create(ctx, owned)).To(Succeed())
	defer func() { _ = k.Delete(ctx, owned) }()
	// Others may still annotate it (a reconcile request) ...
	g.Expect(alice.Get(ctx, client.ObjectKeyFromObject(owned), owned)).To(Succeed())
	owned.Annotations["reconcile.fluxcd.io/requestedAt"] = "now"
	g.Expect(alice.Update(ctx, owned)).To(Succeed())
	// ... but not take the mark off, or change the generation.
	delete(owned.Labels, v1alpha1.LabelManagedBy)
	g.Expect(alice.Update(ctx, owned)).To(MatchError(ContainSubstring("only the fluxconfig manager")))
	g.Expect(alice.Get(ctx, client.ObjectKeyFromObject(owned), owned)).To(Succeed())
	owned.Annotations[v1alpha1.DataPlaneGenerationAnnotation] = "7"
	g.Expect(alice.Update(ctx, owned)).To(MatchError(ContainSubstring("only the fluxconfig manager")))
}

// TestManagerWritesPolicy: with RBAC that allows it everything, the manager
// still cannot bind cluster-admin to another subject, write another binding
// or ServiceAccount, or write or delete a Secret it does not manage.
func TestManagerWritesPolicy(t *testing.T) {
	g := NewWithT(t)
	defer applyPolicies(t, "fluxconfig-manager-writes")()
	manager := impersonate(t, managerUser)
	binding := func(name, subject, role string) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: subject, Namespace: "flux-system"}}}
	}
	secret := func(name string, managed bool) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
		if managed {
			s.Labels = map[string]string{v1alpha1.LabelIsManaged: "true"}
		}
		return s
	}
	allowed := []client.Object{
		binding("flux-applier-binding", "flux-applier", "cluster-admin"),
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "flux-applier-binding"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "flux-applier", Namespace: "default"}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "flux-applier"}},
		secret("web-auth", true), secret("web-ssh-key", true), secret("web-protected-parameters", true),
	}
	for _, o := range allowed {
		// AlreadyExists (the manager test's binding) comes from storage,
		// after admission: the policy let it through.
		g.Expect(client.IgnoreAlreadyExists(manager.Create(ctx, o, client.DryRunAll))).To(Succeed(), "%T %s", o, o.GetName())
	}
	refused := map[client.Object]string{
		binding("evil", "flux-applier", "cluster-admin"):                                             "may only write bindings named flux-applier-binding",
		binding("flux-applier-binding", "default", "cluster-admin"):                                  "to flux-applier ServiceAccounts",
		binding("flux-applier-binding", "flux-applier", "secret-god"):                                "of cluster-admin or admin",
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "builder"}}: "only write the flux-applier ServiceAccount",
		secret("web-auth", false):   "may only write the Secrets it manages",
		secret("db-password", true): "may only write the Secrets it manages",
	}
	for o, want := range refused {
		g.Expect(manager.Create(ctx, o, client.DryRunAll)).To(MatchError(ContainSubstring(want)), "%T %s", o, o.GetName())
	}
	// Deleting a Secret it does not manage is refused too.
	victim := secret("someone-elses", false)
	g.Expect(k.Create(ctx, victim)).To(Succeed())
	defer func() { _ = k.Delete(ctx, victim) }()
	g.Expect(manager.Delete(ctx, victim)).To(MatchError(ContainSubstring("may only write the Secrets it manages")))
}
