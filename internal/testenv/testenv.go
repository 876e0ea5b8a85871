// Package testenv starts a real kube-apiserver and etcd (controller-runtime's
// envtest) with the FluxConfig CRD and Flux's CRDs installed, for integration
// tests.
//
// The binaries and CRDs come from the environment that `make test` sets
// (KUBEBUILDER_ASSETS, FLUX_CRDS). When they are not set, as under a plain
// `go test`, Start runs hack/envtest.sh and hack/flux.sh itself, which build
// or locate them from the pinned modules in hack/tools.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	fluxconfigv1alpha1 "github.com/arcgitops/arcgitops/api/v1alpha1"
)

// Scheme knows the Kubernetes built-in types, FluxConfig and the Flux
// source and kustomize types.
var Scheme = NewScheme()

// NewScheme returns a scheme with every type the operator reads or writes.
func NewScheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(fluxconfigv1alpha1.AddToScheme(s))
	utilruntime.Must(sourcev1.AddToScheme(s))
	utilruntime.Must(kustomizev1.AddToScheme(s))
	return s
}

// Env is a running API server with the CRDs installed.
type Env struct {
	*envtest.Environment
	// Config is an admin rest.Config for the API server.
	Config *rest.Config
	// Client is an uncached admin client with Scheme.
	Client client.Client
}

// Option changes what Start sets up.
type Option func(*settings)

type settings struct{ withoutFlux, withoutFluxConfig bool }

// WithoutFluxConfigCRD starts an API server with Flux's CRDs only, as a
// cluster the operator has yet to be installed in (its chart brings the
// FluxConfig CRD).
func WithoutFluxConfigCRD() Option { return func(s *settings) { s.withoutFluxConfig = true } }

// WithoutFluxCRDs starts an API server with the FluxConfig CRD only, as a
// cluster where Flux is not installed (yet).
func WithoutFluxCRDs() Option { return func(s *settings) { s.withoutFlux = true } }

// FluxCRDPaths are the directories of Flux's CRDs (FLUX_CRDS, or what
// hack/flux.sh says).
func FluxCRDPaths() ([]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	fluxCRDs, err := fromEnvOrScript("FLUX_CRDS", root, "hack/flux.sh", "crds")
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(fluxCRDs, func(r rune) bool { return r == ':' || r == '\n' }), nil
}

// Start starts kube-apiserver and etcd and installs the CRDs. Call Stop when done.
func Start(opts ...Option) (*Env, error) {
	var set settings
	for _, o := range opts {
		o(&set)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := fromEnvOrScript("KUBEBUILDER_ASSETS", root, "hack/envtest.sh")
	if err != nil {
		return nil, err
	}
	var crdPaths []string
	if !set.withoutFluxConfig {
		crdPaths = append(crdPaths, filepath.Join(root, "config", "crd", "bases"))
	}
	if !set.withoutFlux {
		flux, err := FluxCRDPaths()
		if err != nil {
			return nil, err
		}
		crdPaths = append(crdPaths, flux...)
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crdPaths,
		ErrorIfCRDPathMissing: true,
		Scheme:                Scheme,
	}
	// envtest looks up its binaries through KUBEBUILDER_ASSETS first.
	if err := os.Setenv("KUBEBUILDER_ASSETS", assets); err != nil {
		return nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("failed to start kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("failed to create client: %w", err)
	}
	return &Env{Environment: env, Config: cfg, Client: c}, nil
}

// InstallOpenCRD installs a namespaced CRD whose schema keeps every field,
// with a status subresource: a stand-in for another project's CRD (Helm
// releases, ServiceMonitors) in tests. It returns once the API serves it.
func (e *Env) InstallOpenCRD(ctx context.Context, group, version, kind, plural string) error {
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: plural, Kind: kind},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: version, Served: true, Storage: true,
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve}}}},
		},
	}
	if err := client.IgnoreAlreadyExists(e.Client.Create(ctx, crd)); err != nil {
		return err
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := e.Client.List(ctx, list)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CRD %s is not served: %w", crd.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WriteKubeconfig writes a kubeconfig for a system:masters user to path, for
// processes (kubectl, Flux controllers) that talk to this API server.
func (e *Env) WriteKubeconfig(path string) error {
	user, err := e.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("failed to add admin user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("failed to render kubeconfig: %w", err)
	}
	return os.WriteFile(path, kc, 0o600)
}

// LogBuffer collects logs from concurrent writers, for tests that check
// what a component logged.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Reset forgets everything written so far.
func (l *LogBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// RepoRoot is the repository's root directory, found from this file's path.
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot find the repository root: runtime.Caller failed")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("cannot find the repository root from %s: %w", file, err)
	}
	return filepath.Abs(root)
}

// fromEnvOrScript returns $name, or else the trimmed stdout of the script,
// whose progress (stderr) is passed through so a slow first build is visible.
func fromEnvOrScript(name, root string, script ...string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(context.Background(), filepath.Join(root, script[0]), script[1:]...)
	cmd.Dir = root
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s is not set and %s failed: %w (run the tests with `make test`)",
			name, strings.Join(script, " "), err)
	}
	return strings.TrimSpace(out.String()), nil
}

// SetReady plays Flux, which does not run under envtest: it sets obj's
// Ready condition (a GitRepository or Kustomization, for its current
// generation) with reason and message, and gives a GitRepository an
// artifact. Conflicts with other writers are retried.
func SetReady(ctx context.Context, c client.Client, obj client.Object, status metav1.ConditionStatus, reason, msg string) error {
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		cond := metav1.Condition{Type: "Ready", Status: status, Reason: reason, Message: msg,
			LastTransitionTime: metav1.Now(), ObservedGeneration: obj.GetGeneration()}
		switch o := obj.(type) {
		case *sourcev1.GitRepository:
			o.Status.Conditions = []metav1.Condition{cond}
			o.Status.ObservedGeneration = o.Generation
			o.Status.Artifact = &meta.Artifact{Path: "gitrepository/x.tar.gz", URL: "http://source/x.tar.gz",
				Revision: "main@sha1:0ba6f0d30760d567de0bac86c8c4eec13ce1a590", Digest: "sha256:abc", LastUpdateTime: metav1.Now()}
		case *kustomizev1.Kustomization:
			o.Status.Conditions = []metav1.Condition{cond}
			o.Status.ObservedGeneration = o.Generation
		default:
			return fmt.Errorf("SetReady: %T is not a GitRepository or Kustomization", obj)
		}
		if err := c.Status().Update(ctx, obj); !apierrors.IsConflict(err) {
			return err
		}
	}
}
