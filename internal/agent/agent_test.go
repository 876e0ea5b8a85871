package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agent"
	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/manager"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

const (
	clusterA = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/cluster-a"
	clusterB = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/cluster-b"
	fluxPath = "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/"
	timeout  = 30 * time.Second
	interval = 100 * time.Millisecond
)

var (
	env       *testenv.Env
	k         client.Client
	dp        *dataPlane
	tokenA    string
	tokenB    string
	tokenFile string // the agent's --agent-token-file
)

// dataPlane runs the real data plane in-process on 127.0.0.1, and can be
// stopped and started again on the same address and data.
type dataPlane struct {
	mu     sync.Mutex
	addr   string
	dir    string
	srv    *dataplane.Server
	cancel context.CancelFunc
	done   chan error
	// owner signs ARM requests in as the data plane's owner.
	owner oauth2.TokenSource
}

func (d *dataPlane) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	opts := dataplane.DefaultOptions()
	opts.DataDir = d.dir
	opts.RatePerSecond = 0
	opts.TokenGracePeriod = 0 // a regenerated token retires the old one at once
	srv, err := dataplane.New(opts)
	if err != nil {
		return err
	}
	var l net.Listener
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		if l, err = net.Listen("tcp", d.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		_ = srv.Close()
		return err
	}
	d.addr = l.Addr().String()
	creds, err := dataplane.ReadCredentials(filepath.Join(d.dir, dataplane.OwnerCredentialsFile))
	if err != nil {
		_ = srv.Close()
		return err
	}
	d.owner = armclient.ClientCredentials("http://"+d.addr+"/adfs/oauth2/token", creds.AppID, creds.Password, dataplane.DefaultAudience, nil)
	ctx, cancel := context.WithCancel(context.Background())
	d.srv, d.cancel, d.done = srv, cancel, make(chan error, 1)
	go func() { d.done <- srv.Serve(ctx, l) }()
	return nil
}

func (d *dataPlane) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cancel()
	if err := <-d.done; err != nil {
		fmt.Fprintln(os.Stderr, "data plane stopped with:", err)
	}
	_ = d.srv.Close()
}

func (d *dataPlane) url() string { return "http://" + d.addr }

// do sends an ARM request and returns the status and the JSON answer (nil
// when the data plane could not be reached or sent no JSON).
func (d *dataPlane) do(method, path, body string) (int, map[string]any) {
	c := &armclient.Client{BaseURL: d.url(), APIVersion: arm.FluxConfigAPIVersion, Token: d.owner}
	req := armclient.Request{Method: method, Path: path}
	if body != "" {
		req.Body = []byte(body)
	}
	resp, _ := c.Do(context.Background(), req, nil)
	if resp == nil {
		return 0, nil
	}
	var m map[string]any
	_ = json.Unmarshal(resp.Body, &m)
	return resp.StatusCode, m
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k = env.Client

	tmp, _ := os.MkdirTemp("", "agent-test-")
	defer os.RemoveAll(tmp)
	// The manager's logs go to a file, shown when a test fails.
	logFile, _ := os.Create(filepath.Join(tmp, "manager.log"))
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile), zap.UseDevMode(true)))
	dp = &dataPlane{addr: "127.0.0.1:0", dir: filepath.Join(tmp, "dataplane")}
	if err := dp.start(); err != nil {
		fmt.Fprintln(os.Stderr, "data plane:", err)
		return 1
	}
	defer dp.stop()
	if tokenA, err = register(clusterA); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if tokenB, err = register(clusterB); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tokenFile = filepath.Join(tmp, "token")
	if err := os.WriteFile(tokenFile, []byte(tokenA+"\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	opts := manager.DefaultOptions()
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.SSHKeyAlgorithm = "ecdsa-p256"
	opts.DataPlaneURL = dp.url()
	opts.AgentTokenFile = tokenFile
	opts.ClusterID = clusterA
	opts.Agent.LongPoll = 5 * time.Second
	opts.Agent.MinBackoff = 100 * time.Millisecond
	opts.Agent.MaxBackoff = time.Second
	opts.Agent.ClusterScopeNamespaces = []string{agent.AnyNamespace}
	mgr, err := manager.New(env.Config, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped with:", err)
		}
	}()
	code := m.Run()
	if code != 0 {
		b, _ := os.ReadFile(logFile.Name())
		if len(b) > 20000 {
			b = b[len(b)-20000:]
		}
		fmt.Fprintf(os.Stderr, "--- manager log (tail) ---\n%s\n", b)
	}
	return code
}

func register(id string) (string, error) {
	status, body := dp.do(http.MethodPut, id, `{"location":"westeurope"}`)
	if status != http.StatusCreated {
		return "", fmt.Errorf("register %s: %d", id, status)
	}
	return body["properties"].(map[string]any)["agentToken"].(string), nil
}

// configBody is a PUT body in namespace ns; gitExtra is added to
// gitRepository and extra to properties.
func configBody(ns, gitExtra, extra string) string {
	return `{"properties":{"namespace":"` + ns + `","gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","repositoryRef":{"branch":"main"}` + gitExtra + `},` +
		`"kustomizations":{"infra":{"path":"./infra"},"apps":{"path":"./apps","dependsOn":["infra"]}}` + extra + `}}`
}

func fcKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// props are the ARM properties of cluster A's configuration name.
func props(g Gomega, name string) map[string]any {
	status, body := dp.do(http.MethodGet, clusterA+fluxPath+name, "")
	g.Expect(status).To(Equal(http.StatusOK))
	return body["properties"].(map[string]any)
}

func setReady(g Gomega, obj client.Object) {
	g.Expect(testenv.SetReady(context.Background(), k, obj, metav1.ConditionTrue, "Succeeded", "ok")).To(Succeed())
}

func TestCreateUpdateStatusDelete(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "team-one" // created by the agent
	status, _ := dp.do(http.MethodPut, clusterA+fluxPath+"web",
		configBody(ns, `,"httpsUser":"bot"`, `,"configurationProtectedSettings":{"httpsKey":"c2VjcmV0LXRva2Vu"}`))
	g.Expect(status).To(Equal(http.StatusCreated))

	// The FluxConfig appears, owned by the agent, with its protected settings in a Secret.
	fc := &v1alpha1.FluxConfig{}
	g.Eventually(func() error { return k.Get(ctx, fcKey(ns, "web"), fc) }, timeout, interval).Should(Succeed())
	g.Expect(fc.Labels).To(HaveKeyWithValue(v1alpha1.LabelManagedBy, v1alpha1.ManagedByAgent))
	g.Expect(fc.Annotations).To(HaveKeyWithValue(v1alpha1.DataPlaneGenerationAnnotation, "1"))
	g.Expect(fc.Spec.GitRepository.HTTPSUser).To(Equal("bot"))
	g.Expect(fc.Spec.ConfigurationProtectedSettingsRef.Name).To(Equal("web-protected-parameters"))
	secret := &corev1.Secret{}
	g.Expect(k.Get(ctx, fcKey(ns, "web-protected-parameters"), secret)).To(Succeed())
	g.Expect(string(secret.Data["httpsKey"])).To(Equal("c2VjcmV0LXRva2Vu"))
	// The controller used them.
	auth := &corev1.Secret{}
	g.Eventually(func() error { return k.Get(ctx, fcKey(ns, "web-auth"), auth) }, timeout, interval).Should(Succeed())
	g.Expect(string(auth.Data["password"])).To(Equal("secret-token"))

	// Acknowledged: gone from the data plane's answers.
	g.Eventually(func(g Gomega) {
		c := &agentapi.Client{BaseURL: dp.url(), ClusterID: clusterA, Token: tokenA}
		state, _, _, err := c.List(ctx, "", 0)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(state.Configurations).To(ContainElement(HaveField("ProtectedSettings", BeNil())))
	}, timeout, interval).Should(Succeed())

	// Status flows back to ARM: Flux objects ready -> Compliant.
	g.Eventually(func() error { return k.Get(ctx, fcKey(ns, "web-apps"), &kustomizev1.Kustomization{}) }, timeout, interval).Should(Succeed())
	setReady(g, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})
	setReady(g, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-infra"}})
	setReady(g, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-apps"}})
	g.Eventually(func(g Gomega) {
		p := props(g, "web")
		g.Expect(p["complianceState"]).To(Equal("Compliant"))
		g.Expect(p["provisioningState"]).To(Equal("Succeeded"))
		g.Expect(p["statuses"]).To(HaveLen(3))
	}, timeout, interval).Should(Succeed())
	// The finalizer came with the agent's first write: the controller never
	// had to patch the FluxConfig itself (only its status).
	g.Expect(k.Get(ctx, fcKey(ns, "web"), fc)).To(Succeed())
	g.Expect(fc.Finalizers).To(ConsistOf(v1alpha1.FluxConfigFinalizer))
	for _, mf := range fc.ManagedFields {
		if mf.Subresource == "" {
			g.Expect(mf.Manager).To(Equal(agent.FieldOwner), "%s %s wrote the FluxConfig besides the agent", mf.Manager, mf.Operation)
		}
	}

	// Update.
	status, _ = dp.do(http.MethodPatch, clusterA+fluxPath+"web", `{"properties":{"kustomizations":{"apps":null}}}`)
	g.Expect(status).To(Equal(http.StatusAccepted), "ARM's PATCH of a configuration is a long-running operation")
	g.Eventually(func(g Gomega) {
		g.Expect(k.Get(ctx, fcKey(ns, "web"), fc)).To(Succeed())
		g.Expect(fc.Spec.Kustomizations).To(HaveLen(1))
		g.Expect(fc.Annotations).To(HaveKeyWithValue(v1alpha1.DataPlaneGenerationAnnotation, "2"))
		g.Expect(fc.Spec.ConfigurationProtectedSettingsRef).NotTo(BeNil(), "delivered protected settings stay in use")
	}, timeout, interval).Should(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k.Get(ctx, fcKey(ns, "web-apps"), &kustomizev1.Kustomization{}))
	}, timeout, interval).Should(BeTrue())

	// Delete: the cluster cleans up, then the ARM resource disappears.
	status, _ = dp.do(http.MethodDelete, clusterA+fluxPath+"web", "")
	g.Expect(status).To(Equal(http.StatusAccepted))
	g.Eventually(func(g Gomega) {
		g.Expect(apierrors.IsNotFound(k.Get(ctx, fcKey(ns, "web"), &v1alpha1.FluxConfig{}))).To(BeTrue())
		st, _ := dp.do(http.MethodGet, clusterA+fluxPath+"web", "")
		g.Expect(st).To(Equal(http.StatusNotFound))
	}, timeout, interval).Should(Succeed())
}

// TestReconcileNow: the data plane's "reconcile now" reaches the Flux
// objects as reconcile.fluxcd.io/requestedAt, without a new generation; a
// suspended configuration refuses it.
func TestReconcileNow(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "team-now"
	status, _ := dp.do(http.MethodPut, clusterA+fluxPath+"now", configBody(ns, "", ""))
	g.Expect(status).To(Equal(http.StatusCreated))
	g.Eventually(func() error { return k.Get(ctx, fcKey(ns, "now-apps"), &kustomizev1.Kustomization{}) }, timeout, interval).Should(Succeed())

	status, body := dp.do(http.MethodPost, clusterA+fluxPath+"now/reconcile", "")
	g.Expect(status).To(Equal(http.StatusAccepted), "%v", body)
	var asked string
	g.Eventually(func(g Gomega) {
		fc := &v1alpha1.FluxConfig{}
		g.Expect(k.Get(ctx, fcKey(ns, "now"), fc)).To(Succeed())
		asked = fc.Annotations[meta.ReconcileRequestAnnotation]
		g.Expect(asked).NotTo(BeEmpty())
		g.Expect(fc.Annotations).To(HaveKeyWithValue(v1alpha1.DataPlaneGenerationAnnotation, "1"))
	}, timeout, interval).Should(Succeed())
	g.Eventually(func(g Gomega) {
		for _, o := range []struct {
			name string
			obj  client.Object
		}{{"now", &sourcev1.GitRepository{}}, {"now-infra", &kustomizev1.Kustomization{}}, {"now-apps", &kustomizev1.Kustomization{}}} {
			g.Expect(k.Get(ctx, fcKey(ns, o.name), o.obj)).To(Succeed())
			g.Expect(o.obj.GetAnnotations()).To(HaveKeyWithValue(meta.ReconcileRequestAnnotation, asked), o.name)
		}
	}, timeout, interval).Should(Succeed())
	g.Expect(props(g, "now")["provisioningState"]).NotTo(Equal("Updating"), "no new generation to wait for")

	// Suspended: refused, with what to do.
	status, _ = dp.do(http.MethodPatch, clusterA+fluxPath+"now", `{"properties":{"suspend":true}}`)
	g.Expect(status).To(Equal(http.StatusAccepted))
	status, body = dp.do(http.MethodPost, clusterA+fluxPath+"now/reconcile", "")
	g.Expect(status).To(Equal(http.StatusConflict))
	g.Expect(body["error"].(map[string]any)["message"]).To(ContainSubstring("resume it first"))
	status, _ = dp.do(http.MethodPost, clusterA+fluxPath+"absent/reconcile", "")
	g.Expect(status).To(Equal(http.StatusNotFound))
	status, _ = dp.do(http.MethodDelete, clusterA+fluxPath+"now", "")
	g.Expect(status).To(Equal(http.StatusAccepted))
}

func TestIsolationAndTokens(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// A configuration of cluster B never reaches cluster A.
	status, _ := dp.do(http.MethodPut, clusterB+fluxPath+"only-b", configBody("team-b", "", ""))
	g.Expect(status).To(Equal(http.StatusCreated))
	status, _ = dp.do(http.MethodPut, clusterA+fluxPath+"marker-a", configBody("team-a", "", ""))
	g.Expect(status).To(Equal(http.StatusCreated))
	g.Eventually(func() error { return k.Get(ctx, fcKey("team-a", "marker-a"), &v1alpha1.FluxConfig{}) }, timeout, interval).Should(Succeed())
	var all v1alpha1.FluxConfigList
	g.Expect(k.List(ctx, &all)).To(Succeed())
	for _, fc := range all.Items {
		g.Expect(fc.Name).NotTo(Equal("only-b"))
	}

	// Wrong token: 401; B's token on A's path: 403.
	bad := &agentapi.Client{BaseURL: dp.url(), ClusterID: clusterA, Token: "wrong"}
	_, _, _, err := bad.List(ctx, "", 0)
	g.Expect(err).To(MatchError(ContainSubstring("401")))
	other := &agentapi.Client{BaseURL: dp.url(), ClusterID: clusterA, Token: tokenB}
	_, _, _, err = other.List(ctx, "", 0)
	g.Expect(err).To(MatchError(ContainSubstring("403")))
	g.Expect(other.ReportStatus(ctx, "marker-a", &agentapi.StatusReport{ComplianceState: "Compliant"})).To(MatchError(ContainSubstring("403")))
}

func TestHandAppliedFluxConfigIsLeftAlone(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	g.Expect(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "by-hand"}})).To(Succeed())
	manual := &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: "by-hand", Name: "mine"},
		Spec: v1alpha1.FluxConfigSpec{
			GitRepository: &v1alpha1.GitRepositoryDefinition{URL: "https://example.com/mine", RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"}},
		},
	}
	g.Expect(k.Create(ctx, manual)).To(Succeed())
	status, _ := dp.do(http.MethodPut, clusterA+fluxPath+"mine", configBody("by-hand", "", ""))
	g.Expect(status).To(Equal(http.StatusCreated))
	g.Eventually(func(g Gomega) {
		p := props(g, "mine")
		g.Expect(p["provisioningState"]).To(Equal("Failed"))
		g.Expect(p["errorMessage"]).To(ContainSubstring("that the agent does not manage exists in the cluster"))
	}, timeout, interval).Should(Succeed())
	got := &v1alpha1.FluxConfig{}
	g.Expect(k.Get(ctx, fcKey("by-hand", "mine"), got)).To(Succeed())
	g.Expect(got.Spec.GitRepository.URL).To(Equal("https://example.com/mine"))
	g.Expect(got.Labels).NotTo(HaveKey(v1alpha1.LabelManagedBy))
}

// TestDataPlaneOutage stops the data plane: nothing in the cluster is
// deleted, status changes are reported once it is back, and new desired
// state arrives within one poll.
func TestDataPlaneOutage(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "outage"
	status, _ := dp.do(http.MethodPut, clusterA+fluxPath+"steady", configBody(ns, "", ""))
	g.Expect(status).To(Equal(http.StatusCreated))
	g.Eventually(func() error { return k.Get(ctx, fcKey(ns, "steady-apps"), &kustomizev1.Kustomization{}) }, timeout, interval).Should(Succeed())

	dp.stop()
	// Status changes while the data plane is away.
	setReady(g, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "steady"}})
	setReady(g, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "steady-infra"}})
	setReady(g, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "steady-apps"}})
	g.Consistently(func(g Gomega) {
		g.Expect(k.Get(ctx, fcKey(ns, "steady"), &v1alpha1.FluxConfig{})).To(Succeed())
		g.Expect(k.Get(ctx, fcKey(ns, "steady-apps"), &kustomizev1.Kustomization{})).To(Succeed())
	}, 3*time.Second, 250*time.Millisecond).Should(Succeed())

	g.Expect(dp.start()).To(Succeed())
	// The latest status is reported after reconnecting.
	g.Eventually(func(g Gomega) {
		g.Expect(props(g, "steady")["complianceState"]).To(Equal("Compliant"))
	}, timeout, interval).Should(Succeed())
	// And new desired state arrives within one poll (+ the capped backoff).
	start := time.Now()
	status, _ = dp.do(http.MethodPut, clusterA+fluxPath+"after-outage", configBody(ns, "", ""))
	g.Expect(status).To(Equal(http.StatusCreated))
	g.Eventually(func() error { return k.Get(ctx, fcKey(ns, "after-outage"), &v1alpha1.FluxConfig{}) }, 10*time.Second, 50*time.Millisecond).Should(Succeed())
	t.Logf("desired state reached the cluster %s after the PUT", time.Since(start).Round(time.Millisecond))
}

// TestSameNamedFluxConfigElsewhereCannotSpeakForTheFleet: a tenant creates,
// in its own namespace, a FluxConfig named like a fleet configuration and
// labelled as the agent's, with an SSH URL so that it gets a generated key.
// The data plane keeps showing the fleet configuration's own status, never
// the tenant's public key (an admin adding that as a deploy key would hand
// the tenant the fleet repository), and the tenant's object is left alone.
func TestSameNamedFluxConfigElsewhereCannotSpeakForTheFleet(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	status, _ := dp.do(http.MethodPut, clusterA+fluxPath+"spoofed", configBody("fleet-a", "", ""))
	g.Expect(status).To(Equal(http.StatusCreated))
	g.Eventually(func() error { return k.Get(ctx, fcKey("fleet-a", "spoofed"), &v1alpha1.FluxConfig{}) }, timeout, interval).Should(Succeed())

	g.Expect(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenant-a"}})).To(Succeed())
	tenant := &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a", Name: "spoofed",
			Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByAgent}},
		Spec: v1alpha1.FluxConfigSpec{Scope: v1alpha1.ScopeNamespace, GitRepository: &v1alpha1.GitRepositoryDefinition{
			URL: "git@github.com:org/fleet.git", RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"}},
			Kustomizations: map[string]v1alpha1.KustomizationDefinition{"apps": {Path: "./apps"}}},
	}
	g.Expect(k.Create(ctx, tenant)).To(Succeed())
	var tenantKey string
	g.Eventually(func(g Gomega) {
		g.Expect(k.Get(ctx, fcKey("tenant-a", "spoofed"), tenant)).To(Succeed())
		tenantKey = tenant.Status.RepositoryPublicKey
		g.Expect(tenantKey).NotTo(BeEmpty())
	}, timeout, interval).Should(Succeed())

	g.Consistently(func(g Gomega) {
		p := props(g, "spoofed")
		g.Expect(p["repositoryPublicKey"]).NotTo(Equal(tenantKey), "the tenant's key is shown for the fleet configuration")
	}, 3*time.Second, interval).Should(Succeed())
	g.Expect(k.Get(ctx, fcKey("tenant-a", "spoofed"), &v1alpha1.FluxConfig{})).To(Succeed(), "the agent deleted the tenant's FluxConfig")
}

// TestRegeneratedTokenIsPickedUpFromItsFile: the token is regenerated (the
// old one revoked at once here), the new one written over the agent's token
// file; the agent goes on without a restart, and its health metrics say it
// synced.
func TestRegeneratedTokenIsPickedUpFromItsFile(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	status, body := dp.do(http.MethodPost, clusterA+"/regenerateAgentToken", "")
	g.Expect(status).To(Equal(http.StatusOK))
	tokenA = body["properties"].(map[string]any)["agentToken"].(string)
	next := tokenFile + ".new"
	g.Expect(os.WriteFile(next, []byte(tokenA+"\n"), 0o600)).To(Succeed())
	g.Expect(os.Rename(next, tokenFile)).To(Succeed())

	status, _ = dp.do(http.MethodPut, clusterA+fluxPath+"after-rotation", configBody("rotated", "", ""))
	g.Expect(status).To(Equal(http.StatusCreated))
	g.Eventually(func() error { return k.Get(ctx, fcKey("rotated", "after-rotation"), &v1alpha1.FluxConfig{}) }, timeout, interval).Should(Succeed())

	g.Eventually(func(g Gomega) {
		families, err := metrics.Registry.Gather()
		g.Expect(err).NotTo(HaveOccurred())
		got := map[string]float64{}
		for _, f := range families {
			if strings.HasPrefix(f.GetName(), "fluxconfig_agent_") {
				got[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		g.Expect(got["fluxconfig_agent_consecutive_sync_failures"]).To(BeZero())
		g.Expect(got["fluxconfig_agent_last_sync_timestamp_seconds"]).To(BeNumerically(">", float64(time.Now().Add(-time.Minute).Unix())))
	}, timeout, interval).Should(Succeed())
}

// TestRefusedConfigurationFailsAlone: a desired state with a configuration
// the API server refuses (a data plane that checks less than the CRD) is
// still synced: the others are applied, the refused one is reported Failed
// with the API server's reason, and Sync succeeds, so the agent goes back
// to long-polling instead of retrying the same state.
func TestRefusedConfigurationFailsAlone(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	var mu sync.Mutex
	reports := map[string]agentapi.StatusReport{}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/status") {
			var rep agentapi.StatusReport
			_ = json.NewDecoder(r.Body).Decode(&rep)
			parts := strings.Split(r.URL.Path, "/")
			mu.Lock()
			reports[parts[len(parts)-2]] = rep
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer fake.Close()
	a := &agent.Agent{Client: k, APIReader: k, Log: logr.Discard(), Options: agent.DefaultOptions(),
		DataPlane: &agentapi.Client{BaseURL: fake.URL, ClusterID: clusterB, Token: "t"}}
	a.Options.ClusterScopeNamespaces = []string{agent.AnyNamespace}
	props := func(ns, user string) json.RawMessage {
		return json.RawMessage(`{"namespace":"` + ns + `","scope":"cluster","sourceKind":"GitRepository","gitRepository":{"url":"https://github.com/o/r",` +
			`"repositoryRef":{"branch":"main"},"httpsUser":"` + user + `"},"kustomizations":{"apps":{"path":"./apps"}}}`)
	}
	state := &agentapi.DesiredState{Revision: 1, Configurations: []agentapi.Configuration{
		{Name: "healthy", Generation: 1, Properties: props("poison-ok", "bot")},
		{Name: "poisoned", Generation: 1, Properties: props("poison-bad", strings.Repeat("u", 300))},
	}}
	g.Expect(a.Sync(ctx, state)).To(Succeed())
	g.Expect(k.Get(ctx, fcKey("poison-ok", "healthy"), &v1alpha1.FluxConfig{})).To(Succeed())
	g.Expect(apierrors.IsNotFound(k.Get(ctx, fcKey("poison-bad", "poisoned"), &v1alpha1.FluxConfig{}))).To(BeTrue())
	mu.Lock()
	defer mu.Unlock()
	g.Expect(reports["poisoned"].ProvisioningState).To(Equal("Failed"))
	g.Expect(reports["poisoned"].ErrorMessage).To(And(ContainSubstring("The cluster refused the configuration"), ContainSubstring("Too long")))
}
