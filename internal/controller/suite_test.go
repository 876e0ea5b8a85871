package controller_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"go.uber.org/zap/zapcore"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/manager"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

var (
	env *testenv.Env
	// k is an uncached admin client.
	k client.Client
	// mgrClient is the manager's cached client.
	mgrClient client.Client
	mgrScheme = manager.Scheme()
	// logs captures everything the manager logs.
	logs = &testenv.LogBuffer{}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k = env.Client

	// Log at V(2) too, so that the secrets test sees every line.
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.UseDevMode(true), zap.Level(zapcore.Level(-2))))

	opts := manager.DefaultOptions()
	opts.MetricsAddr = "0"
	opts.ProbeAddr = "0"
	// ECDSA keeps the suite fast; RSA 4096 is covered by the auth tests' algorithm table.
	opts.SSHKeyAlgorithm = "ecdsa-p256"
	mgr, err := manager.New(env.Config, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	mgrClient = mgr.GetClient()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped with:", err)
		}
	}()
	return m.Run()
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fc-"}}
	if err := k.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// fluxConfig builds a FluxConfig; opts mutate it.
func fluxConfig(ns, name string, opts ...func(*v1alpha1.FluxConfig)) *v1alpha1.FluxConfig {
	fc := &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.FluxConfigSpec{
			GitRepository: &v1alpha1.GitRepositoryDefinition{
				URL:           "https://github.com/Azure/arc-k8s-demo",
				RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"},
			},
			Kustomizations: map[string]v1alpha1.KustomizationDefinition{
				"infra": {Path: "./infra", Prune: true},
				"apps":  {Path: "./apps", DependsOn: []string{"infra"}},
			},
		},
	}
	for _, o := range opts {
		o(fc)
	}
	return fc
}

// getFC reads a FluxConfig uncached.
func getFC(g Gomega, ns, name string) *v1alpha1.FluxConfig {
	fc := &v1alpha1.FluxConfig{}
	g.Expect(k.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, fc)).To(Succeed())
	return fc
}

const (
	timeout  = 20 * time.Second
	interval = 100 * time.Millisecond
)
