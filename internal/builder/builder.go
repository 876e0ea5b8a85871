// Package builder turns a FluxConfig into the Flux objects Azure's
// fluxconfig-controller would create for it: a GitRepository, Bucket or
// OCIRepository named <config>, and one Kustomization <config>-<name> per
// entry, wired with dependsOn, intervals, credentials and the flux-applier
// identity. It is a pure function of its input: the reconciler applies what
// it returns.
package builder

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/rbac"
)

// Names of the objects of a configuration.

// SourceName is the name of the configuration's source object.
func SourceName(config string) string { return config }

// KustomizationName is the name of the Kustomization for entry name.
func KustomizationName(config, name string) string { return config + "-" + name }

// AuthSecretName is the name of the Secret with the source credentials.
func AuthSecretName(config string) string { return config + "-auth" }

// KeySecretName is the name of the Secret with the generated SSH key pair.
func KeySecretName(config string) string { return config + "-ssh-key" }

// VerifySecretName is the name of the Secret with OCI verification keys.
func VerifySecretName(config string) string { return config + "-verify" }

// Labels returns the labels of every object created for fc.
func Labels(fc *v1alpha1.FluxConfig) map[string]string {
	return map[string]string{
		v1alpha1.LabelIsManaged: "true",
		v1alpha1.LabelName:      fc.Name,
		v1alpha1.LabelNamespace: fc.Namespace,
	}
}

// Options are the operator-wide settings that shape the objects.
type Options struct {
	// MultiTenancy makes Kustomizations apply as flux-applier.
	MultiTenancy bool
	// HasAuthSecret says that the reconciler will write <config>-auth.
	HasAuthSecret bool
}

// Objects are the Flux objects of a configuration.
type Objects struct {
	// Source is a *sourcev1.GitRepository, *sourcev1.Bucket or *sourcev1.OCIRepository.
	Source client.Object
	// Kustomizations, sorted by name.
	Kustomizations []*kustomizev1.Kustomization
	// VerifySecretData is the data of <config>-verify, when the OCI source
	// verifies signatures with keys; nil otherwise.
	VerifySecretData map[string][]byte
}

// Build returns the Flux objects for fc. Its errors are about the spec and
// say what to fix.
func Build(fc *v1alpha1.FluxConfig, opts Options) (*Objects, error) {
	if err := CheckDependencies(fc.Spec.Kustomizations); err != nil {
		return nil, err
	}
	if fc.Spec.Scope == v1alpha1.ScopeNamespace && !opts.MultiTenancy {
		return nil, errors.New("scope namespace needs multi-tenancy enforcement (manager flag --enforce-multi-tenancy, Helm value multiTenancy.enforce), " +
			"which is off: without it Kustomizations would apply as kustomize-controller, with its cluster-wide rights. Turn it on, or use scope cluster")
	}
	out := &Objects{}
	var err error
	switch fc.Spec.SourceKind {
	case v1alpha1.SourceKindGitRepository:
		out.Source, err = gitRepository(fc, opts)
	case v1alpha1.SourceKindBucket:
		out.Source, err = bucket(fc, opts)
	case v1alpha1.SourceKindAzureBlob:
		out.Source, err = azureBlob(fc, opts)
	case v1alpha1.SourceKindOCIRepository:
		out.Source, out.VerifySecretData, err = ociRepository(fc, opts)
	default:
		err = fmt.Errorf("sourceKind %q is not supported: use GitRepository, Bucket, AzureBlob or OCIRepository", fc.Spec.SourceKind)
	}
	if err != nil {
		return nil, err
	}
	sourceKind := out.Source.GetObjectKind().GroupVersionKind().Kind
	for _, name := range slices.Sorted(maps.Keys(fc.Spec.Kustomizations)) {
		out.Kustomizations = append(out.Kustomizations, kustomization(fc, name, fc.Spec.Kustomizations[name], sourceKind, opts))
	}
	return out, nil
}

// objectMeta returns the metadata shared by every Flux object of fc: labels,
// the controller owner reference, and the requested-at annotation that
// forwards `flux reconcile`-style requests.
func objectMeta(fc *v1alpha1.FluxConfig, name string) metav1.ObjectMeta {
	om := metav1.ObjectMeta{
		Name:            name,
		Namespace:       fc.Namespace,
		Labels:          Labels(fc),
		OwnerReferences: []metav1.OwnerReference{OwnerReference(fc)},
	}
	if v, ok := fc.Annotations[meta.ReconcileRequestAnnotation]; ok && v != "" {
		om.Annotations = map[string]string{meta.ReconcileRequestAnnotation: v}
	}
	return om
}

// OwnerReference is the controller reference to fc.
func OwnerReference(fc *v1alpha1.FluxConfig) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               v1alpha1.Kind,
		Name:               fc.Name,
		UID:                fc.UID,
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}
}

// seconds is an ARM interval or timeout in seconds as a Flux duration, ARM's
// default (600 s) when unset.
func seconds(s *int64) metav1.Duration {
	v := v1alpha1.DefaultIntervalSeconds
	if s != nil {
		v = *s
	}
	return metav1.Duration{Duration: time.Duration(v) * time.Second}
}

// secondsPtr is seconds, as a pointer.
func secondsPtr(s *int64) *metav1.Duration {
	d := seconds(s)
	return &d
}

func secretRef(fc *v1alpha1.FluxConfig, localAuthRef string, opts Options) *meta.LocalObjectReference {
	switch {
	case localAuthRef != "":
		return &meta.LocalObjectReference{Name: localAuthRef}
	case opts.HasAuthSecret:
		return &meta.LocalObjectReference{Name: AuthSecretName(fc.Name)}
	default:
		return nil
	}
}

var gitProviders = map[string]string{
	"":        "",
	"Generic": "",
	"Azure":   sourcev1.GitProviderAzure,
	"GitHub":  sourcev1.GitProviderGitHub,
}

func gitRepository(fc *v1alpha1.FluxConfig, opts Options) (*sourcev1.GitRepository, error) {
	git := fc.Spec.GitRepository
	if git == nil {
		return nil, errors.New("sourceKind is GitRepository: set gitRepository")
	}
	u, err := auth.ParseGitURL(git.URL)
	if err != nil {
		return nil, err
	}
	if git.RepositoryRef == nil {
		return nil, errors.New("gitRepository.repositoryRef is required: set one of branch, tag, semver or commit")
	}
	provider, ok := gitProviders[git.Provider]
	if !ok {
		return nil, fmt.Errorf("gitRepository.provider %q is not supported: use Azure, GitHub or Generic", git.Provider)
	}
	ref := git.RepositoryRef
	return &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: objectMeta(fc, SourceName(fc.Name)),
		Spec: sourcev1.GitRepositorySpec{
			URL:       u.URL,
			SecretRef: secretRef(fc, git.LocalAuthRef, opts),
			Provider:  provider,
			Interval:  seconds(git.SyncIntervalInSeconds),
			Timeout:   secondsPtr(git.TimeoutInSeconds),
			Reference: &sourcev1.GitRepositoryRef{Branch: ref.Branch, Tag: ref.Tag, SemVer: ref.Semver, Commit: ref.Commit},
			Suspend:   fc.Spec.Suspend,
		},
	}, nil
}

// bucketEndpoint splits an ARM bucket URL (http(s)://host[:port] or a bare
// host[:port]) into Flux's endpoint and whether it is plain HTTP.
func bucketEndpoint(raw string) (endpoint string, plainHTTP bool, err error) {
	if !strings.Contains(raw, "://") {
		return strings.TrimSuffix(raw, "/"), false, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, errors.New("bucket.url must be http(s)://host[:port] or host[:port]")
	}
	if u.Path != "" && u.Path != "/" {
		return "", false, errors.New("bucket.url must be the endpoint only, without a path: put the bucket in bucketName")
	}
	return u.Host, u.Scheme == "http", nil
}

func bucket(fc *v1alpha1.FluxConfig, opts Options) (*sourcev1.Bucket, error) {
	b := fc.Spec.Bucket
	if b == nil {
		return nil, errors.New("sourceKind is Bucket: set bucket")
	}
	endpoint, plainHTTP, err := bucketEndpoint(b.URL)
	if err != nil {
		return nil, err
	}
	if plainHTTP && !b.Insecure {
		return nil, errors.New("bucket.url is http:// but bucket.insecure is false: use an https:// URL, or set insecure: true to allow plain HTTP")
	}
	return &sourcev1.Bucket{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.BucketKind},
		ObjectMeta: objectMeta(fc, SourceName(fc.Name)),
		Spec: sourcev1.BucketSpec{
			Provider:   sourcev1.BucketProviderGeneric,
			BucketName: b.BucketName,
			Endpoint:   endpoint,
			Insecure:   b.Insecure,
			SecretRef:  secretRef(fc, b.LocalAuthRef, opts),
			Interval:   seconds(b.SyncIntervalInSeconds),
			Timeout:    secondsPtr(b.TimeoutInSeconds),
			Suspend:    fc.Spec.Suspend,
		},
	}, nil
}

func azureBlob(fc *v1alpha1.FluxConfig, opts Options) (*sourcev1.Bucket, error) {
	b := fc.Spec.AzureBlob
	if b == nil {
		return nil, errors.New("sourceKind is AzureBlob: set azureBlob")
	}
	u, err := url.Parse(b.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("azureBlob.url must be the storage account's blob endpoint, e.g. https://account.blob.core.windows.net")
	}
	return &sourcev1.Bucket{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.BucketKind},
		ObjectMeta: objectMeta(fc, SourceName(fc.Name)),
		Spec: sourcev1.BucketSpec{
			Provider:   sourcev1.BucketProviderAzure,
			BucketName: b.ContainerName,
			Endpoint:   strings.TrimSuffix(b.URL, "/"),
			SecretRef:  secretRef(fc, b.LocalAuthRef, opts),
			Interval:   seconds(b.SyncIntervalInSeconds),
			Timeout:    secondsPtr(b.TimeoutInSeconds),
			Suspend:    fc.Spec.Suspend,
		},
	}, nil
}

func ociRepository(fc *v1alpha1.FluxConfig, opts Options) (*sourcev1.OCIRepository, map[string][]byte, error) {
	o := fc.Spec.OCIRepository
	if o == nil {
		return nil, nil, errors.New("sourceKind is OCIRepository: set ociRepository")
	}
	if !strings.HasPrefix(o.URL, "oci://") {
		return nil, nil, errors.New("ociRepository.url must be of the form oci://host/repository")
	}
	repo := &sourcev1.OCIRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
		ObjectMeta: objectMeta(fc, SourceName(fc.Name)),
		Spec: sourcev1.OCIRepositorySpec{
			URL:                o.URL,
			Insecure:           o.Insecure,
			ServiceAccountName: o.ServiceAccountName,
			Interval:           seconds(o.SyncIntervalInSeconds),
			Timeout:            secondsPtr(o.TimeoutInSeconds),
			Suspend:            fc.Spec.Suspend,
		},
	}
	if o.UseWorkloadIdentity {
		repo.Spec.Provider = sourcev1.AzureOCIProvider
	}
	if o.LocalAuthRef != "" {
		repo.Spec.SecretRef = &meta.LocalObjectReference{Name: o.LocalAuthRef}
	}
	if opts.HasAuthSecret {
		// Our auth Secret of an OCI source holds TLS material only.
		repo.Spec.CertSecretRef = &meta.LocalObjectReference{Name: AuthSecretName(fc.Name)}
	}
	if r := o.RepositoryRef; r != nil {
		repo.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: r.Tag, SemVer: r.Semver, Digest: r.Digest}
	} else {
		repo.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: "latest"}
	}
	if ls := o.LayerSelector; ls != nil {
		repo.Spec.LayerSelector = &sourcev1.OCILayerSelector{MediaType: ls.MediaType, Operation: ls.Operation}
	}
	var verifyData map[string][]byte
	if v := o.Verify; v != nil {
		repo.Spec.Verify = &sourcev1.OCIRepositoryVerification{Provider: v.Provider}
		for _, id := range v.MatchOIDCIdentity {
			repo.Spec.Verify.MatchOIDCIdentity = append(repo.Spec.Verify.MatchOIDCIdentity,
				sourcev1.OIDCIdentityMatch{Issuer: id.Issuer, Subject: id.Subject})
		}
		if len(v.VerificationConfig) > 0 {
			verifyData = make(map[string][]byte, len(v.VerificationConfig))
			for k, val := range v.VerificationConfig {
				decoded, err := base64.StdEncoding.DecodeString(val)
				if err != nil {
					return nil, nil, fmt.Errorf("ociRepository.verify.verificationConfig[%s] is not valid base64: base64-encode the public key or trust policy", k)
				}
				verifyData[k] = decoded
			}
			repo.Spec.Verify.SecretRef = &meta.LocalObjectReference{Name: VerifySecretName(fc.Name)}
		}
	}
	return repo, verifyData, nil
}

func kustomization(fc *v1alpha1.FluxConfig, name string, k v1alpha1.KustomizationDefinition, sourceKind string, opts Options) *kustomizev1.Kustomization {
	wait := true
	if k.Wait != nil {
		wait = *k.Wait
	}
	ks := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: objectMeta(fc, KustomizationName(fc.Name, name)),
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourceKind, Name: SourceName(fc.Name)},
			Path:      k.Path,
			Interval:  seconds(k.SyncIntervalInSeconds),
			Timeout:   secondsPtr(k.TimeoutInSeconds),
			Prune:     k.Prune,
			Force:     k.Force,
			Wait:      wait,
			Suspend:   fc.Spec.Suspend,
		},
	}
	if k.RetryIntervalInSeconds != nil {
		ks.Spec.RetryInterval = secondsPtr(k.RetryIntervalInSeconds)
	}
	for _, dep := range k.DependsOn {
		ks.Spec.DependsOn = append(ks.Spec.DependsOn, kustomizev1.DependencyReference{Name: KustomizationName(fc.Name, dep)})
	}
	if opts.MultiTenancy {
		ks.Spec.ServiceAccountName = rbac.ServiceAccountName
	}
	if fc.Spec.Scope == v1alpha1.ScopeNamespace {
		ks.Spec.TargetNamespace = fc.Namespace
	}
	if sourceKind == sourcev1.GitRepositoryKind {
		ks.Spec.Patches = []kustomize.Patch{useManagedSource(fc)}
	}
	if pb := k.PostBuild; pb != nil && (len(pb.Substitute) > 0 || len(pb.SubstituteFrom) > 0) {
		ks.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: maps.Clone(pb.Substitute)}
		for _, s := range pb.SubstituteFrom {
			ks.Spec.PostBuild.SubstituteFrom = append(ks.Spec.PostBuild.SubstituteFrom,
				kustomizev1.SubstituteReference{Kind: s.Kind, Name: s.Name, Optional: s.Optional})
		}
	}
	return ks
}

// useManagedSource is the patch Azure puts on every Kustomization of a Git
// configuration: HelmReleases annotated use-managed-source=true get the
// configuration's GitRepository as their chart source.
func useManagedSource(fc *v1alpha1.FluxConfig) kustomize.Patch {
	return kustomize.Patch{
		Patch: fmt.Sprintf("- op: add\n  path: /spec/chart/spec/sourceRef\n  value: {\"name\": %q, \"namespace\": %q, \"kind\": %q}\n",
			SourceName(fc.Name), fc.Namespace, sourcev1.GitRepositoryKind),
		Target: &kustomize.Selector{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease",
			AnnotationSelector: v1alpha1.AnnotationUseManagedSource + "=true"},
	}
}

// CheckDependencies refuses dependsOn that name no sibling, and cycles,
// which the CRD's rules cannot see; the error shows the cycle.
func CheckDependencies(ks map[string]v1alpha1.KustomizationDefinition) error {
	names := slices.Sorted(maps.Keys(ks))
	for _, n := range names {
		for _, d := range ks[n].DependsOn {
			if _, ok := ks[d]; !ok {
				return fmt.Errorf("kustomization %s depends on %s, which is not a kustomization of this configuration", n, d)
			}
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(ks))
	var path []string
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case visiting:
			start := slices.Index(path, n)
			cycle := append(slices.Clone(path[start:]), n)
			return fmt.Errorf("kustomizations depend on each other in a cycle: %s: remove one of these dependsOn", strings.Join(cycle, " -> "))
		case done:
			return nil
		}
		state[n] = visiting
		path = append(path, n)
		deps := slices.Clone(ks[n].DependsOn)
		slices.Sort(deps)
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}
