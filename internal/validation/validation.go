// Package validation checks and defaults fluxConfigurations outside the
// cluster (the data plane, the CLI) with the rules and the exact messages of
// the FluxConfig CRD's OpenAPI and CEL validation: the common rules spelled
// out here, then the CRD's whole schema (schema.go, the embedded CRD run
// through the API server's own validators). The shared table in
// validationtest/cases.go is run against both this package and a real API
// server with the CRD installed, which proves that they agree.
package validation

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// Limits, as in ARM and the CRD.
const (
	MinSeconds        = 1
	MaxSeconds        = 35791394
	MaxKustomizations = 50
	MaxNameLength     = 30
)

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$`)
	gitURLRE  = regexp.MustCompile(`^(https?|ssh)://[^/]+`)
	httpURLRE = regexp.MustCompile(`^https?://`)
	// urlPasswordRE: a URL with user:password@ (the CRD's CEL rule).
	urlPasswordRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@`)
	endpointRE    = regexp.MustCompile(`^https?://[^/]+`)
	ociURLRE      = regexp.MustCompile(`^oci://[^/]+/.+`)
	dotdotRE      = regexp.MustCompile(`(^|/)[.][.](/|$)`)
	commitRE      = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	bucketNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)
	containerRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	digestRE      = regexp.MustCompile(`^[a-z0-9]+:[a-f0-9]{32,}$`)
	isoDuration   = regexp.MustCompile(`^P(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$`)
)

// Messages shared with the CRD's rules (api/v1alpha1/fluxconfig_types.go).
const (
	MsgName               = "metadata.name must be 1-30 characters of lowercase letters, digits and '-', starting and ending with a letter or digit (the fluxConfigurations name rule)"
	MsgKustomizationName  = "kustomization names must be 1-30 characters of lowercase letters, digits and '-', starting and ending with a letter or digit"
	MsgDependsOnSibling   = "dependsOn must name another kustomization of this configuration"
	MsgDependsOnSelf      = "a kustomization cannot depend on itself: remove its own name from dependsOn"
	MsgKustomizationKey   = "a kustomization's name, when given, must equal its key in kustomizations"
	MsgNameLength         = "every <configuration name>-<kustomization name> must fit in 63 characters: shorten the configuration or kustomization name"
	MsgGitURL             = "url must start with http://, https:// or ssh://, or be of the form user@host:path"
	MsgHTTPSOnSSH         = "httpsUser and httpsCACert apply to http(s) URLs only: remove them, or use an https:// URL"
	MsgKnownHostsOnHTTPS  = "sshKnownHosts applies to SSH URLs only: remove it, or use an ssh:// or git@host:path URL"
	MsgUserOverHTTP       = "httpsUser sends credentials, which http:// carries in clear: use an https:// URL"
	MsgURLPassword        = "url must not contain a password: for HTTPS put the user in httpsUser and the token in the protected setting httpsKey, for SSH use the protected setting sshPrivateKey"
	MsgOneRef             = "set only one of branch, tag and semver"
	MsgSomeRef            = "set one of branch, tag, semver or commit"
	MsgCommitWith         = "commit can be combined only with branch, not with tag or semver"
	MsgPathAbsolute       = "path must be relative to the source root: remove the leading '/'"
	MsgPathDotDot         = "path cannot contain a '..' segment: it must stay inside the source"
	MsgPathEncoding       = "path cannot contain backslashes or percent-encoding: use plain '/'-separated directory names"
	MsgBucketURL          = "url must be an http:// or https:// endpoint, or a bare host[:port]"
	MsgAzureBlobURL       = "url must start with https:// (or http:// for a local emulator)"
	MsgOCIURL             = "url must be of the form oci://host/repository"
	MsgOCIOneRef          = "set only one of tag, semver and digest"
	MsgScopeImmutable     = "scope cannot be changed after creation: delete the configuration and create it again"
	MsgRepositoryRefNeeds = "gitRepository.repositoryRef is required: set one of branch, tag, semver or commit"
	MsgRotationOnHTTPS    = "sshKeyRotation applies to SSH URLs only: it rotates the key pair generated for an ssh:// or git@host:path URL"
	MsgRotationConfirm    = "confirmedAt must equal requestedAt: it confirms that rotation request (remove confirmedAt when requesting a new rotation)"
)

// Error is one validation failure: the field and what to fix.
type Error struct {
	Field   string
	Message string
}

func (e Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Errors is a list of failures.
type Errors []Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// OrNil returns es as an error, or nil when empty.
func (es Errors) OrNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

type checker struct{ errs Errors }

func (c *checker) add(field, format string, args ...any) {
	c.errs = append(c.errs, Error{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) seconds(field string, v *int64) {
	if v == nil {
		return
	}
	if *v < MinSeconds {
		c.add(field, "Invalid value: %d: %s in body should be greater than or equal to %d", *v, field, MinSeconds)
	}
	if *v > MaxSeconds {
		c.add(field, "Invalid value: %d: %s in body should be less than or equal to %d", *v, field, MaxSeconds)
	}
}

func (c *checker) maxLen(field, v string, n int) {
	if len(v) > n {
		c.add(field, "Too long: may not be more than %d bytes", n)
	}
}

// ValidateName checks a configuration name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return Error{Field: "name", Message: MsgName}
	}
	return nil
}

// ValidateUpdate checks what may not change between old and new.
func ValidateUpdate(old, updated *v1alpha1.FluxConfigSpec) error {
	if scopeOrDefault(old.Scope) != scopeOrDefault(updated.Scope) {
		return Error{Field: "scope", Message: MsgScopeImmutable}
	}
	return nil
}

func scopeOrDefault(s v1alpha1.ScopeType) v1alpha1.ScopeType {
	if s == "" {
		return v1alpha1.ScopeCluster
	}
	return s
}

// Validate checks a configuration named name with spec, defaulted or not.
func Validate(name string, spec *v1alpha1.FluxConfigSpec) error {
	c := &checker{}
	if err := ValidateName(name); err != nil {
		c.errs = append(c.errs, err.(Error))
	}
	switch spec.Scope {
	case "", v1alpha1.ScopeCluster, v1alpha1.ScopeNamespace:
	default:
		c.add("scope", `Unsupported value: %q: supported values: "cluster", "namespace"`, spec.Scope)
	}
	kind := spec.SourceKind
	if kind == "" {
		kind = v1alpha1.SourceKindGitRepository
	}
	switch kind {
	case v1alpha1.SourceKindGitRepository, v1alpha1.SourceKindBucket, v1alpha1.SourceKindAzureBlob, v1alpha1.SourceKindOCIRepository:
	default:
		c.add("sourceKind", `Unsupported value: %q: supported values: "GitRepository", "Bucket", "AzureBlob", "OCIRepository"`, kind)
	}
	blocks := []struct {
		field string
		kind  v1alpha1.SourceKindType
		set   bool
	}{
		{"gitRepository", v1alpha1.SourceKindGitRepository, spec.GitRepository != nil},
		{"bucket", v1alpha1.SourceKindBucket, spec.Bucket != nil},
		{"azureBlob", v1alpha1.SourceKindAzureBlob, spec.AzureBlob != nil},
		{"ociRepository", v1alpha1.SourceKindOCIRepository, spec.OCIRepository != nil},
	}
	for _, b := range blocks {
		switch {
		case b.set && kind != b.kind:
			c.add("", "%s is set but sourceKind is %s: remove %s or set sourceKind to %s", b.field, kind, b.field, b.kind)
		case !b.set && kind == b.kind:
			c.add("", "sourceKind is %s: set %s", b.kind, b.field)
		}
	}
	if d := spec.ReconciliationWaitDuration; d != "" && (!isoDuration.MatchString(d) || len(d) > 32) {
		c.add("reconciliationWaitDuration", "Invalid value: %q: should be an ISO 8601 duration such as PT30M", d)
	}
	validateGit(c, spec.GitRepository)
	validateBucket(c, spec.Bucket)
	validateAzureBlob(c, spec.AzureBlob)
	validateOCI(c, spec.OCIRepository)
	validateKustomizations(c, name, spec.Kustomizations)
	if err := c.errs.OrNil(); err != nil {
		return err
	}
	// What the rules above do not spell out (every length, count, pattern
	// and enum of the schema) the CRD's own schema decides.
	return ValidateSchema(name, spec)
}

func validateGit(c *checker, g *v1alpha1.GitRepositoryDefinition) {
	if g == nil {
		return
	}
	const f = "gitRepository"
	if g.URL == "" {
		c.add(f+".url", "Required value")
	} else if !gitURLRE.MatchString(g.URL) && !v1alpha1.IsSCPGitURL(g.URL) {
		c.add(f+".url", MsgGitURL)
	}
	c.maxLen(f+".url", g.URL, 2048)
	c.seconds(f+".timeoutInSeconds", g.TimeoutInSeconds)
	c.seconds(f+".syncIntervalInSeconds", g.SyncIntervalInSeconds)
	ssh := v1alpha1.IsSSHGitURL(g.URL)
	if ssh && (g.HTTPSUser != "" || g.HTTPSCACert != "") {
		c.add(f, MsgHTTPSOnSSH)
	}
	if httpURLRE.MatchString(g.URL) && g.SSHKnownHosts != "" {
		c.add(f, MsgKnownHostsOnHTTPS)
	}
	if strings.HasPrefix(g.URL, "http://") && g.HTTPSUser != "" {
		c.add(f, MsgUserOverHTTP)
	}
	if r := g.SSHKeyRotation; r != nil {
		if httpURLRE.MatchString(g.URL) {
			c.add(f, MsgRotationOnHTTPS)
		}
		if r.ConfirmedAt != "" && r.ConfirmedAt != r.RequestedAt {
			c.add(f+".sshKeyRotation", MsgRotationConfirm)
		}
	}
	if urlPasswordRE.MatchString(g.URL) {
		c.add(f+".url", MsgURLPassword)
	}
	switch g.Provider {
	case "", "Azure", "GitHub", "Generic":
	default:
		c.add(f+".provider", `Unsupported value: %q: supported values: "Azure", "GitHub", "Generic"`, g.Provider)
	}
	ref := g.RepositoryRef
	if ref == nil {
		c.add(f+".repositoryRef", "Required value")
		return
	}
	n := 0
	for _, v := range []string{ref.Branch, ref.Tag, ref.Semver} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		c.add(f+".repositoryRef", MsgOneRef)
	}
	if n == 0 && ref.Commit == "" {
		c.add(f+".repositoryRef", MsgSomeRef)
	}
	if ref.Commit != "" && (ref.Tag != "" || ref.Semver != "") {
		c.add(f+".repositoryRef", MsgCommitWith)
	}
	if ref.Commit != "" && !commitRE.MatchString(ref.Commit) {
		c.add(f+".repositoryRef.commit", "Invalid value: %q: should be a hexadecimal commit SHA (7-64 characters)", ref.Commit)
	}
}

func validateBucket(c *checker, b *v1alpha1.BucketDefinition) {
	if b == nil {
		return
	}
	if b.URL == "" {
		c.add("bucket.url", "Required value")
	} else if strings.Contains(b.URL, "://") && !endpointRE.MatchString(b.URL) {
		c.add("bucket.url", MsgBucketURL)
	}
	if len(b.BucketName) < 3 || len(b.BucketName) > 63 || !bucketNameRE.MatchString(b.BucketName) {
		c.add("bucket.bucketName", "Invalid value: %q: should be 3-63 lowercase letters, digits, '.' and '-'", b.BucketName)
	}
	c.seconds("bucket.timeoutInSeconds", b.TimeoutInSeconds)
	c.seconds("bucket.syncIntervalInSeconds", b.SyncIntervalInSeconds)
}

func validateAzureBlob(c *checker, b *v1alpha1.AzureBlobDefinition) {
	if b == nil {
		return
	}
	if b.URL == "" {
		c.add("azureBlob.url", "Required value")
	} else if !endpointRE.MatchString(b.URL) {
		c.add("azureBlob.url", MsgAzureBlobURL)
	}
	if len(b.ContainerName) < 3 || len(b.ContainerName) > 63 || !containerRE.MatchString(b.ContainerName) {
		c.add("azureBlob.containerName", "Invalid value: %q: should be 3-63 lowercase letters, digits and '-'", b.ContainerName)
	}
	c.seconds("azureBlob.timeoutInSeconds", b.TimeoutInSeconds)
	c.seconds("azureBlob.syncIntervalInSeconds", b.SyncIntervalInSeconds)
}

func validateOCI(c *checker, o *v1alpha1.OCIRepositoryDefinition) {
	if o == nil {
		return
	}
	if o.URL == "" {
		c.add("ociRepository.url", "Required value")
	} else if !ociURLRE.MatchString(o.URL) {
		c.add("ociRepository.url", MsgOCIURL)
	}
	c.seconds("ociRepository.timeoutInSeconds", o.TimeoutInSeconds)
	c.seconds("ociRepository.syncIntervalInSeconds", o.SyncIntervalInSeconds)
	if r := o.RepositoryRef; r != nil {
		n := 0
		for _, v := range []string{r.Tag, r.Semver, r.Digest} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			c.add("ociRepository.repositoryRef", MsgOCIOneRef)
		}
		if r.Digest != "" && !digestRE.MatchString(r.Digest) {
			c.add("ociRepository.repositoryRef.digest", "Invalid value: %q: should be <algorithm>:<hex>", r.Digest)
		}
	}
	if ls := o.LayerSelector; ls != nil && ls.Operation != "" && ls.Operation != "extract" && ls.Operation != "copy" {
		c.add("ociRepository.layerSelector.operation", `Unsupported value: %q: supported values: "extract", "copy"`, ls.Operation)
	}
	if v := o.Verify; v != nil && v.Provider != "cosign" && v.Provider != "notation" {
		c.add("ociRepository.verify.provider", `Unsupported value: %q: supported values: "cosign", "notation"`, v.Provider)
	}
}

func validateKustomizations(c *checker, config string, ks map[string]v1alpha1.KustomizationDefinition) {
	const f = "kustomizations"
	if len(ks) > MaxKustomizations {
		c.add(f, "Too many: %d: must have at most %d items", len(ks), MaxKustomizations)
	}
	reported := map[string]bool{}
	once := func(msg string) {
		if !reported[msg] {
			reported[msg] = true
			c.add(f, "%s", msg)
		}
	}
	for name, k := range ks {
		if !nameRE.MatchString(name) {
			once(MsgKustomizationName)
		}
		if len(config)+1+len(name) > 63 {
			once(MsgNameLength)
		}
		if k.Name != "" && k.Name != name {
			once(MsgKustomizationKey)
		}
		for _, d := range k.DependsOn {
			if _, ok := ks[d]; !ok {
				once(MsgDependsOnSibling)
			}
			if d == name {
				once(MsgDependsOnSelf)
			}
		}
		kf := f + "." + name
		switch p := k.Path; {
		case strings.HasPrefix(p, "/"):
			c.add(kf+".path", MsgPathAbsolute)
		case dotdotRE.MatchString(p):
			c.add(kf+".path", MsgPathDotDot)
		case strings.Contains(p, `\`) || strings.Contains(p, "%"):
			c.add(kf+".path", MsgPathEncoding)
		}
		c.maxLen(kf+".path", k.Path, 1024)
		c.seconds(kf+".timeoutInSeconds", k.TimeoutInSeconds)
		c.seconds(kf+".syncIntervalInSeconds", k.SyncIntervalInSeconds)
		c.seconds(kf+".retryIntervalInSeconds", k.RetryIntervalInSeconds)
		if pb := k.PostBuild; pb != nil {
			for _, s := range pb.SubstituteFrom {
				if s.Kind != "ConfigMap" && s.Kind != "Secret" {
					c.add(kf+".postBuild.substituteFrom.kind", `Unsupported value: %q: supported values: "ConfigMap", "Secret"`, s.Kind)
				}
			}
		}
	}
}

// Default fills in ARM's defaults, as the CRD does.
func Default(spec *v1alpha1.FluxConfigSpec) {
	if spec.Scope == "" {
		spec.Scope = v1alpha1.ScopeCluster
	}
	if spec.SourceKind == "" {
		spec.SourceKind = v1alpha1.SourceKindGitRepository
	}
	def := func(p **int64) {
		if *p == nil {
			v := v1alpha1.DefaultIntervalSeconds
			*p = &v
		}
	}
	if g := spec.GitRepository; g != nil {
		def(&g.TimeoutInSeconds)
		def(&g.SyncIntervalInSeconds)
	}
	if b := spec.Bucket; b != nil {
		def(&b.TimeoutInSeconds)
		def(&b.SyncIntervalInSeconds)
	}
	if b := spec.AzureBlob; b != nil {
		def(&b.TimeoutInSeconds)
		def(&b.SyncIntervalInSeconds)
	}
	if o := spec.OCIRepository; o != nil {
		def(&o.TimeoutInSeconds)
		def(&o.SyncIntervalInSeconds)
	}
	for name, k := range spec.Kustomizations {
		def(&k.TimeoutInSeconds)
		def(&k.SyncIntervalInSeconds)
		if k.Wait == nil {
			t := true
			k.Wait = &t
		}
		spec.Kustomizations[name] = k
	}
}
