package cli

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/validation"
)

// sourceFlags are the flags of flux create and update.
type sourceFlags struct {
	Scope, Namespace, Kind, URL             string
	Branch, Tag, Semver, Commit             string
	Interval, Timeout                       string
	SSHPrivateKey, SSHPrivateKeyFile        string
	KnownHosts, KnownHostsFile              string
	HTTPSUser, HTTPSKey, HTTPSCACert        string
	HTTPSCACertFile, LocalAuthRef, Provider string
	Suspend                                 bool
	BucketName, AccessKey, SecretKey        string
	BucketInsecure                          bool
	ContainerName, AccountKey, SASToken     string
	SPClientID, SPTenantID, SPClientSecret  string
	SPClientCert, SPClientCertPassword      string
	SPClientCertSendChain                   bool
	MIClientID                              string
	OCITag, OCISemver, OCIDigest            string
	LayerMediaType, LayerOperation          string
	VerifyProvider                          string
	VerifyConfig, MatchOIDC                 []string
	UseWorkloadIdentity                     bool
	ServiceAccountName                      string
	TLSClientCert, TLSPrivateKey, TLSCACert string
	Kustomizations                          []string
	WaitForReconciliation                   bool
	ReconciliationWaitDuration              string
	changed                                 func(name string) bool
	// noRef: a Git source given no reference (the service defaults it).
	noRef bool
	// rotation: update's SSH key flags; current: the configuration's
	// properties before the update (nil on create).
	rotation rotationFlags
	current  map[string]any
}

// bindSourceFlags registers the source flags of create (all) or update.
func bindSourceFlags(cmd *cobra.Command, f *sourceFlags, create bool) {
	fl := cmd.Flags()
	if create {
		fl.StringVarP(&f.Scope, "scope", "s", "cluster", "Where the configuration may apply objects: cluster or namespace.")
		fl.StringVar(&f.Namespace, "namespace", "default", "Namespace the configuration and its Flux objects live in (also --ns, as az's).")
		fl.StringVar(&f.Kind, "kind", "git", "Source kind: git, bucket, azblob or oci.")
		fl.StringArrayVarP(&f.Kustomizations, "kustomization", "k", nil, "A kustomization to create, as space-separated key=value pairs: name, path, depends_on (comma list), timeout, sync_interval, retry_interval, prune, force, disable_health_check. Repeat the flag for more; without it, one named kustomization-1 at the source root is created.")
	} else {
		fl.StringVar(&f.Kind, "kind", "", "Change the source kind (git, bucket, azblob or oci); asks for confirmation unless --yes, and the other kind's settings are dropped.")
		fl.StringArrayVarP(&f.Kustomizations, "kustomization", "k", nil, "A kustomization to add or change, as space-separated key=value pairs (name, path, depends_on, timeout, sync_interval, retry_interval, prune, force, disable_health_check): only the keys given change. Repeat the flag for more.")
	}
	if create {
		fl.BoolVar(&f.WaitForReconciliation, "wait-for-reconciliation", false, "Report the configuration as provisioned only once its kustomizations have reconciled.")
		fl.StringVar(&f.ReconciliationWaitDuration, "reconciliation-wait-duration", "", "How long to wait for reconciliation, e.g. 30m.")
		fl.StringVar(&f.OCITag, "oci-tag", "", "Tag of the OCI artifact (default latest); --tag does the same with --kind oci, as az's.")
		fl.StringVar(&f.OCISemver, "oci-semver", "", "Semver range of OCI artifact tags; --semver does the same with --kind oci.")
		fl.StringVar(&f.OCIDigest, "digest", "", "Digest of the OCI artifact, sha256:... (also --oci-digest).")
		fl.StringVar(&f.LayerMediaType, "layer-selector-media-type", "", "Media type of the OCI layer to use (also --oci-media-type).")
		fl.StringVar(&f.LayerOperation, "layer-selector-operation", "", "What to do with that layer: extract or copy (also --oci-operation).")
		fl.StringVar(&f.VerifyProvider, "verification-provider", "", "Verify the OCI artifact's signature with cosign or notation.")
		fl.StringArrayVar(&f.VerifyConfig, "verification-config", nil, "NAME=BASE64 of a public key or trust policy for the verifier; repeat for more.")
		fl.StringArrayVar(&f.MatchOIDC, "match-oidc-identity", nil, "issuer=REGEX subject=REGEX that a keyless cosign signature must match; repeat for more.")
		fl.BoolVar(&f.UseWorkloadIdentity, "use-workload-identity", false, "Authenticate to the OCI registry with the cluster's workload identity.")
		fl.StringVar(&f.ServiceAccountName, "service-account-name", "", "ServiceAccount whose image pull secrets authenticate to the OCI registry.")
		fl.StringVar(&f.TLSClientCert, "tls-client-certificate", "", "File with the PEM client certificate for mutual TLS to the OCI registry.")
		fl.StringVar(&f.TLSPrivateKey, "tls-private-key", "", "File with the PEM private key of that certificate.")
		fl.StringVar(&f.TLSCACert, "tls-ca-certificate", "", "File with the PEM CA certificate of the OCI registry.")
		fl.StringVar(&f.Provider, "provider", "", "Authentication provider of the Git repository: Azure, GitHub or Generic.")
	}
	fl.StringVarP(&f.URL, "url", "u", "", "URL of the source: https://, ssh:// or git@host:path for git; the endpoint for bucket and azblob; oci:// for oci.")
	fl.StringVar(&f.Branch, "branch", "", "Branch of the Git repository to sync.")
	fl.StringVar(&f.Tag, "tag", "", "Tag of the Git repository to sync.")
	fl.StringVar(&f.Semver, "semver", "", "Semver range of Git tags to sync the newest match of.")
	fl.StringVar(&f.Commit, "commit", "", "Commit SHA to sync (optionally with --branch).")
	fl.StringVar(&f.Interval, "interval", "", "Time between syncs of the source, e.g. 10m (default 10m).")
	fl.StringVar(&f.Interval, "sync-interval", "", "Alias of --interval.")
	fl.StringVar(&f.Timeout, "timeout", "", "Maximum time to sync the source, e.g. 10m (default 10m).")
	fl.StringVar(&f.SSHPrivateKey, "ssh-private-key", "", "Base64 of the PEM private key that reads the Git repository over SSH.")
	fl.StringVar(&f.SSHPrivateKeyFile, "ssh-private-key-file", "", "File with the PEM private key that reads the Git repository over SSH.")
	fl.StringVar(&f.KnownHosts, "known-hosts", "", "Base64 of the known_hosts of the SSH Git host (GitHub, GitLab, Bitbucket and Azure DevOps are built in).")
	fl.StringVar(&f.KnownHostsFile, "known-hosts-file", "", "File with the known_hosts of the SSH Git host.")
	fl.StringVar(&f.HTTPSUser, "https-user", "", "User name for a Git repository over HTTPS.")
	fl.StringVar(&f.HTTPSKey, "https-key", "", "Password or personal access token for a Git repository over HTTPS.")
	fl.StringVar(&f.HTTPSCACert, "https-ca-cert", "", "Base64 of the PEM CA certificate of the Git server.")
	fl.StringVar(&f.HTTPSCACertFile, "https-ca-cert-file", "", "File with the PEM CA certificate of the Git server.")
	fl.StringVar(&f.LocalAuthRef, "local-auth-ref", "", "Name of a Secret in the configuration's namespace with Flux's credentials, used instead of the credential flags.")
	fl.StringVar(&f.LocalAuthRef, "local-ref", "", "Alias of --local-auth-ref.")
	fl.BoolVar(&f.Suspend, "suspend", false, "Suspend reconciliation of the source and kustomizations.")
	fl.StringVar(&f.AccessKey, "bucket-access-key", "", "Access key ID of the S3 bucket.")
	fl.StringVar(&f.AccessKey, "access-key", "", "Alias of --bucket-access-key.")
	fl.StringVar(&f.SecretKey, "bucket-secret-key", "", "Secret access key of the S3 bucket.")
	fl.StringVar(&f.SecretKey, "secret-key", "", "Alias of --bucket-secret-key.")
	fl.BoolVar(&f.BucketInsecure, "bucket-insecure", false, "Allow plain HTTP to the bucket (or OCI registry; also --oci-insecure).")
	fl.StringVar(&f.BucketName, "bucket-name", "", "Name of the S3 bucket (kind bucket).")
	fl.StringVar(&f.ContainerName, "container-name", "", "Name of the Azure Blob container (kind azblob).")
	fl.StringVar(&f.SPClientID, "sp-client-id", "", "Client ID of the service principal that reads the blob container (also --service-principal-client-id).")
	fl.StringVar(&f.SPTenantID, "sp-tenant-id", "", "Tenant ID of that service principal (also --service-principal-tenant-id).")
	fl.BoolVar(&f.SPClientCertSendChain, "sp-cert-send-chain", false, "Send the certificate chain with the service principal's client certificate (also --service-principal-client-certificate-send-chain, --sp-client-cert-send-chain).")
	fl.StringVar(&f.MIClientID, "mi-client-id", "", "Client ID of the managed identity that reads the blob container (also --managed-identity-client-id).")
	fl.StringVar(&f.AccountKey, "account-key", "", "Shared key of the Azure storage account.")
	fl.StringVar(&f.SASToken, "sas-token", "", "SAS token of the Azure Blob container.")
	fl.StringVar(&f.SPClientSecret, "sp-client-secret", "", "Client secret of the service principal (also --service-principal-client-secret).")
	fl.StringVar(&f.SPClientCert, "sp-client-cert", "", "File with the service principal's client certificate, PEM or PFX (also --service-principal-client-certificate; az takes its base64 instead of a file).")
	fl.StringVar(&f.SPClientCertPassword, "sp-cert-password", "", "Password of that certificate (also --service-principal-client-certificate-password, --sp-client-cert-password).")
}

// protectedSettings collects the secret flags, base64-encoded as ARM wants.
// Values never leave this map except in the request body.
func (f *sourceFlags) protectedSettings() (map[string]string, error) {
	if f.SSHPrivateKey != "" {
		// az takes the key already base64-encoded.
		if _, err := base64.StdEncoding.DecodeString(f.SSHPrivateKey); err != nil && f.SSHPrivateKeyFile == "" {
			return nil, usagef("--ssh-private-key must be the base64 of the PEM key; use --ssh-private-key-file for a key file")
		}
	}
	sshKey, err := fileOrValue("ssh-private-key", f.SSHPrivateKey, "ssh-private-key-file", f.SSHPrivateKeyFile)
	if err != nil {
		return nil, err
	}
	p := map[string]string{}
	if sshKey != "" {
		p[v1alpha1.ProtectedSSHPrivateKey] = sshKey
	}
	// The Azure Blob secrets go in the azureBlob block, where az sends them
	// (azureBlobSecrets, azureBlobBlock).
	plain := map[string]string{v1alpha1.ProtectedHTTPSKey: f.HTTPSKey, v1alpha1.ProtectedBucketSecretKey: f.SecretKey}
	for k, v := range plain {
		if v != "" {
			p[k] = b64([]byte(v))
		}
	}
	files := []struct{ key, flag, path string }{
		{v1alpha1.ProtectedTLSClientCertificate, "tls-client-certificate", f.TLSClientCert},
		{v1alpha1.ProtectedTLSPrivateKey, "tls-private-key", f.TLSPrivateKey},
		{v1alpha1.ProtectedTLSCACertificate, "tls-ca-certificate", f.TLSCACert},
	}
	for _, file := range files {
		if file.path == "" {
			continue
		}
		b, err := readFile(file.flag, file.path)
		if err != nil {
			return nil, err
		}
		p[file.key] = b64(b)
	}
	return p, nil
}

// validateRefs refuses two of branch, tag and semver, and a commit with a
// tag or semver, before any request.
func (f *sourceFlags) validateRefs() error {
	var given []string
	for _, r := range [][2]string{{"--branch", f.Branch}, {"--tag", f.Tag}, {"--semver", f.Semver}} {
		if r[1] != "" {
			given = append(given, r[0])
		}
	}
	if len(given) > 1 {
		return usagef("%s cannot be combined: give only one of --branch, --tag and --semver", strings.Join(given, " and "))
	}
	if f.Commit != "" && (f.Tag != "" || f.Semver != "") {
		return usagef("--commit can be combined only with --branch, not with --tag or --semver")
	}
	return nil
}

// kinds maps --kind to sourceKind.
var kinds = map[string]v1alpha1.SourceKindType{
	"git": v1alpha1.SourceKindGitRepository, "bucket": v1alpha1.SourceKindBucket,
	"azblob": v1alpha1.SourceKindAzureBlob, "oci": v1alpha1.SourceKindOCIRepository,
}

// createRequest builds and validates the PUT body of flux create.
func (f *sourceFlags) createRequest(name string) (*createRequest, error) {
	kind, ok := kinds[f.Kind]
	if !ok {
		return nil, usagef("--kind %q is not a source kind: use git, bucket, azblob or oci", f.Kind)
	}
	if f.URL == "" {
		return nil, usagef("--url is required")
	}
	if err := f.validateRefs(); err != nil {
		return nil, err
	}
	protected, err := f.protectedSettings()
	if err != nil {
		return nil, err
	}
	interval, timeout := v1alpha1.DefaultIntervalSeconds, v1alpha1.DefaultIntervalSeconds
	if f.Interval != "" {
		if interval, err = seconds("interval", f.Interval); err != nil {
			return nil, err
		}
	}
	if f.Timeout != "" {
		if timeout, err = seconds("timeout", f.Timeout); err != nil {
			return nil, err
		}
	}
	spec := &v1alpha1.FluxConfigSpec{Scope: v1alpha1.ScopeType(f.Scope), SourceKind: kind, Suspend: f.Suspend}
	switch kind {
	case v1alpha1.SourceKindGitRepository:
		spec.GitRepository, err = f.gitRepository(interval, timeout, protected)
	case v1alpha1.SourceKindBucket:
		spec.Bucket, err = f.bucket(interval, timeout)
	case v1alpha1.SourceKindAzureBlob:
		spec.AzureBlob, err = f.azureBlob(interval, timeout)
	case v1alpha1.SourceKindOCIRepository:
		spec.OCIRepository, err = f.ociRepository(interval, timeout)
	}
	if err != nil {
		return nil, err
	}
	var bodies map[string]any
	if spec.Kustomizations, bodies, err = f.kustomizations(); err != nil {
		return nil, err
	}
	if f.WaitForReconciliation {
		wait := true
		spec.WaitForReconciliation = &wait
	}
	if f.ReconciliationWaitDuration != "" {
		n, err := seconds("reconciliation-wait-duration", f.ReconciliationWaitDuration)
		if err != nil {
			return nil, err
		}
		spec.ReconciliationWaitDuration = isoDuration(n)
	}
	// The CRD's rules, before anything is sent.
	if err := validation.Validate(name, spec); err != nil {
		return nil, usagef("%v", err)
	}
	f.omitUnset(spec)
	req := newCreateRequest(spec, f.Namespace, protected, bodies)
	if b := req.Properties.AzureBlob; b != nil {
		if err := f.azureBlobSecrets(b); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// omitUnset drops from a validated spec what az leaves out when its flag
// is not given, so that the service's defaults apply: the source's
// intervals and a Git source's reference (Azure's default branch is master).
func (f *sourceFlags) omitUnset(spec *v1alpha1.FluxConfigSpec) {
	type timing struct{ interval, timeout **int64 }
	var t timing
	switch {
	case spec.GitRepository != nil:
		t = timing{&spec.GitRepository.SyncIntervalInSeconds, &spec.GitRepository.TimeoutInSeconds}
		if f.noRef {
			spec.GitRepository.RepositoryRef = nil
		}
	case spec.Bucket != nil:
		t = timing{&spec.Bucket.SyncIntervalInSeconds, &spec.Bucket.TimeoutInSeconds}
	case spec.AzureBlob != nil:
		t = timing{&spec.AzureBlob.SyncIntervalInSeconds, &spec.AzureBlob.TimeoutInSeconds}
	case spec.OCIRepository != nil:
		t = timing{&spec.OCIRepository.SyncIntervalInSeconds, &spec.OCIRepository.TimeoutInSeconds}
	default:
		return
	}
	if f.Interval == "" {
		*t.interval = nil
	}
	if f.Timeout == "" {
		*t.timeout = nil
	}
}

// azureBlobSecrets puts the Azure Blob secrets where az sends them: as the
// typed (write-only) properties of the azureBlob block.
func (f *sourceFlags) azureBlobSecrets(b *azureBlobRequest) error {
	b.AccountKey, b.SASToken = f.AccountKey, f.SASToken
	if f.SPClientSecret == "" && f.SPClientCert == "" && f.SPClientCertPassword == "" {
		return nil
	}
	if b.ServicePrincipal == nil {
		b.ServicePrincipal = &servicePrincipalRequest{}
	}
	sp := b.ServicePrincipal
	sp.ClientSecret, sp.ClientCertificatePassword = f.SPClientSecret, f.SPClientCertPassword
	if f.SPClientCert != "" {
		cert, err := readFile("sp-client-cert", f.SPClientCert)
		if err != nil {
			return err
		}
		sp.ClientCertificate = b64(cert)
	}
	return nil
}

func (f *sourceFlags) gitRepository(interval, timeout int64, protected map[string]string) (*v1alpha1.GitRepositoryDefinition, error) {
	ssh := v1alpha1.IsSSHGitURL(f.URL)
	if !ssh && protected[v1alpha1.ProtectedSSHPrivateKey] != "" {
		return nil, usagef("--ssh-private-key applies to SSH URLs only: use an ssh:// or git@host:path URL, or drop the key")
	}
	if ssh && (f.HTTPSUser != "" || f.HTTPSKey != "" || f.HTTPSCACert != "" || f.HTTPSCACertFile != "") {
		return nil, usagef("--https-user, --https-key and --https-ca-cert apply to https URLs only: use an https:// URL, or drop them")
	}
	if !ssh && (f.KnownHosts != "" || f.KnownHostsFile != "") {
		return nil, usagef("--known-hosts applies to SSH URLs only: use an ssh:// or git@host:path URL, or drop it")
	}
	ref := &v1alpha1.RepositoryRefDefinition{Branch: f.Branch, Tag: f.Tag, Semver: f.Semver, Commit: f.Commit}
	if f.noRef = *ref == (v1alpha1.RepositoryRefDefinition{}); f.noRef {
		// Validated with the service's default; not sent (omitUnset).
		ref.Branch = defaultBranch
	}
	knownHosts, err := fileOrValue("known-hosts", f.KnownHosts, "known-hosts-file", f.KnownHostsFile)
	if err != nil {
		return nil, err
	}
	caCert, err := fileOrValue("https-ca-cert", f.HTTPSCACert, "https-ca-cert-file", f.HTTPSCACertFile)
	if err != nil {
		return nil, err
	}
	return &v1alpha1.GitRepositoryDefinition{
		URL:                   f.URL,
		RepositoryRef:         ref,
		SyncIntervalInSeconds: &interval,
		TimeoutInSeconds:      &timeout,
		HTTPSUser:             f.HTTPSUser,
		SSHKnownHosts:         knownHosts,
		HTTPSCACert:           caCert,
		LocalAuthRef:          f.LocalAuthRef,
		Provider:              f.Provider,
	}, nil
}

func (f *sourceFlags) bucket(interval, timeout int64) (*v1alpha1.BucketDefinition, error) {
	if f.BucketName == "" {
		return nil, usagef("--kind bucket needs --bucket-name")
	}
	return &v1alpha1.BucketDefinition{URL: f.URL, BucketName: f.BucketName, Insecure: f.BucketInsecure,
		SyncIntervalInSeconds: &interval, TimeoutInSeconds: &timeout, AccessKey: f.AccessKey, LocalAuthRef: f.LocalAuthRef}, nil
}

func (f *sourceFlags) azureBlob(interval, timeout int64) (*v1alpha1.AzureBlobDefinition, error) {
	if f.ContainerName == "" {
		return nil, usagef("--kind azblob needs --container-name")
	}
	b := &v1alpha1.AzureBlobDefinition{URL: f.URL, ContainerName: f.ContainerName,
		SyncIntervalInSeconds: &interval, TimeoutInSeconds: &timeout, LocalAuthRef: f.LocalAuthRef}
	if f.SPClientID != "" || f.SPTenantID != "" {
		b.ServicePrincipal = &v1alpha1.ServicePrincipalDefinition{ClientID: f.SPClientID, TenantID: f.SPTenantID,
			ClientCertificateSendChain: f.SPClientCertSendChain}
	}
	if f.MIClientID != "" {
		b.ManagedIdentity = &v1alpha1.ManagedIdentityDefinition{ClientID: f.MIClientID}
	}
	return b, nil
}

// firstOf is the first non-empty value.
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func (f *sourceFlags) ociRepository(interval, timeout int64) (*v1alpha1.OCIRepositoryDefinition, error) {
	o := &v1alpha1.OCIRepositoryDefinition{URL: f.URL, SyncIntervalInSeconds: &interval, TimeoutInSeconds: &timeout,
		Insecure: f.BucketInsecure, UseWorkloadIdentity: f.UseWorkloadIdentity,
		ServiceAccountName: f.ServiceAccountName, LocalAuthRef: f.LocalAuthRef}
	// az's --tag and --semver name the OCI reference too.
	tag, semver := firstOf(f.OCITag, f.Tag), firstOf(f.OCISemver, f.Semver)
	if tag != "" || semver != "" || f.OCIDigest != "" {
		o.RepositoryRef = &v1alpha1.OCIRepositoryRefDefinition{Tag: tag, Semver: semver, Digest: f.OCIDigest}
	}
	if f.LayerMediaType != "" || f.LayerOperation != "" {
		o.LayerSelector = &v1alpha1.LayerSelectorDefinition{MediaType: f.LayerMediaType, Operation: f.LayerOperation}
	}
	if f.TLSClientCert != "" || f.TLSPrivateKey != "" || f.TLSCACert != "" {
		o.TLSConfig = &v1alpha1.TLSConfigDefinition{}
	}
	if f.VerifyProvider != "" || len(f.VerifyConfig) > 0 || len(f.MatchOIDC) > 0 {
		v, err := f.verify()
		if err != nil {
			return nil, err
		}
		o.Verify = v
	}
	return o, nil
}

// verify builds the OCI artifact's signature verification from
// --verification-provider, --verification-config and --match-oidc-identity.
func (f *sourceFlags) verify() (*v1alpha1.VerifyDefinition, error) {
	if f.VerifyProvider == "" {
		return nil, usagef("--verification-config and --match-oidc-identity need --verification-provider cosign or notation")
	}
	v := &v1alpha1.VerifyDefinition{Provider: f.VerifyProvider}
	for _, kv := range f.VerifyConfig {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, usagef("--verification-config %q is not NAME=BASE64", kv)
		}
		if _, err := base64.StdEncoding.DecodeString(val); err != nil {
			return nil, usagef("--verification-config %s: the value must be base64", name)
		}
		if v.VerificationConfig == nil {
			v.VerificationConfig = map[string]string{}
		}
		v.VerificationConfig[name] = val
	}
	for _, m := range f.MatchOIDC {
		var id v1alpha1.MatchOIDCIdentityDefinition
		for _, pair := range strings.Fields(m) {
			key, val, _ := strings.Cut(pair, "=")
			switch key {
			case "issuer":
				id.Issuer = val
			case "subject":
				id.Subject = val
			default:
				return nil, usagef("--match-oidc-identity takes issuer=REGEX subject=REGEX, not %q", pair)
			}
		}
		if id.Issuer == "" || id.Subject == "" {
			return nil, usagef("--match-oidc-identity %q needs both issuer= and subject=", m)
		}
		v.MatchOIDCIdentity = append(v.MatchOIDCIdentity, id)
	}
	return v, nil
}

// kustomizations parses the --kustomization flags into definitions (to
// validate) and the bodies az sends (only the keys given); without any, one
// named kustomization-1 at the source root, as az does.
func (f *sourceFlags) kustomizations() (map[string]v1alpha1.KustomizationDefinition, map[string]any, error) {
	if len(f.Kustomizations) == 0 {
		return map[string]v1alpha1.KustomizationDefinition{defaultKustomization: {}},
			map[string]any{defaultKustomization: defaultKustomizationBody()}, nil
	}
	ks, bodies := map[string]v1alpha1.KustomizationDefinition{}, map[string]any{}
	for _, v := range f.Kustomizations {
		k, err := parseKustomization(v)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := ks[k.Name]; dup {
			return nil, nil, usagef("--kustomization name=%s is given twice", k.Name)
		}
		ks[k.Name], bodies[k.Name] = k.Def, k.body()
	}
	return ks, bodies, nil
}

// defaultKustomization is the kustomization az names when none is given.
const defaultKustomization = "kustomization-1"

// defaultBranch is the service's branch of a Git source given no reference.
const defaultBranch = "master"

// updateBody builds the PATCH body of flux update from the flags given. It
// is a map: only what was given may appear. With kind "" (not known yet)
// it only checks the flags and returns no body.
func (f *sourceFlags) updateBody(current v1alpha1.SourceKindType) (map[string]any, error) {
	if err := f.validateRefs(); err != nil {
		return nil, err
	}
	if _, err := f.rotation.block(f.changed, nil); err != nil && !errors.Is(err, errNoPendingRotation) {
		return nil, err
	}
	kind, swapped, err := f.newKind(current)
	if err != nil {
		return nil, err
	}
	if err := f.kindFlags(kind); err != nil {
		return nil, err
	}
	protected, err := f.protectedSettings()
	if err != nil {
		return nil, err
	}
	props := map[string]any{}
	if f.changed("suspend") {
		props["suspend"] = f.Suspend
	}
	block, err := f.commonBlock()
	if err != nil {
		return nil, err
	}
	if err := f.kindBlock(kind, block); err != nil {
		return nil, err
	}
	if len(protected) > 0 {
		props["configurationProtectedSettings"] = protected
	}
	if len(f.Kustomizations) > 0 {
		ks := map[string]any{}
		for _, v := range f.Kustomizations {
			k, err := parseKustomization(v)
			if err != nil {
				return nil, err
			}
			ks[k.Name] = k.body()
		}
		props["kustomizations"] = ks
	}
	if kind == "" && (len(props) > 0 || len(block) > 0 || f.anyKindFlag()) {
		return nil, nil
	}
	if len(block) > 0 || swapped {
		props[sourceBlocks[kind]] = block
	}
	if swapped {
		// As az: the new kind, and the other kinds' blocks empty (the data
		// plane drops them when the kind changes).
		props["sourceKind"] = kind
		for k, name := range sourceBlocks {
			if k != kind {
				props[name] = map[string]any{}
			}
		}
	}
	if len(props) == 0 {
		return nil, usagef("nothing to update: give at least one flag to change, e.g. --interval 5m or --suspend")
	}
	return map[string]any{"properties": props}, nil
}

// newKind is the source kind an update leaves: --kind if given (swapped
// when it differs from current, once current is known), else current.
func (f *sourceFlags) newKind(current v1alpha1.SourceKindType) (v1alpha1.SourceKindType, bool, error) {
	if f.Kind == "" {
		return current, false, nil
	}
	k, ok := kinds[f.Kind]
	if !ok {
		return "", false, usagef("--kind %q is not a source kind: use git, bucket, azblob or oci", f.Kind)
	}
	if current == "" || k == current {
		return current, false, nil
	}
	return k, true, nil
}

// commonBlock is what update changes in any kind of source block.
func (f *sourceFlags) commonBlock() (map[string]any, error) {
	block := map[string]any{}
	if f.changed("url") {
		block["url"] = f.URL
	}
	if f.changed("interval") || f.changed("sync-interval") {
		n, err := seconds("interval", f.Interval)
		if err != nil {
			return nil, err
		}
		block["syncIntervalInSeconds"] = n
	}
	if f.changed("timeout") {
		n, err := seconds("timeout", f.Timeout)
		if err != nil {
			return nil, err
		}
		block["timeoutInSeconds"] = n
	}
	return block, nil
}

// kindBlock adds to block what update changes in a source of kind.
func (f *sourceFlags) kindBlock(kind v1alpha1.SourceKindType, block map[string]any) error {
	switch kind {
	case v1alpha1.SourceKindAzureBlob:
		return f.azureBlobBlock(block)
	case v1alpha1.SourceKindBucket:
		if f.changed("bucket-name") {
			block["bucketName"] = f.BucketName
		}
		if f.changed("bucket-access-key") || f.changed("access-key") {
			block["accessKey"] = f.AccessKey
		}
		fallthrough
	case v1alpha1.SourceKindOCIRepository:
		if f.changed("bucket-insecure") {
			block["insecure"] = f.BucketInsecure
		}
	case v1alpha1.SourceKindGitRepository:
		return f.gitBlock(block)
	}
	return nil
}

// azureBlobBlock adds to block what update changes in an Azure Blob
// source, its secrets as the typed properties az sends.
func (f *sourceFlags) azureBlobBlock(block map[string]any) error {
	type field struct{ flag, name, val string }
	for _, fl := range []field{{"container-name", "containerName", f.ContainerName},
		{"account-key", "accountKey", f.AccountKey}, {"sas-token", "sasToken", f.SASToken}} {
		if f.changed(fl.flag) {
			block[fl.name] = fl.val
		}
	}
	sp := map[string]any{}
	for _, fl := range []field{{"sp-client-id", "clientId", f.SPClientID}, {"sp-tenant-id", "tenantId", f.SPTenantID},
		{"sp-client-secret", "clientSecret", f.SPClientSecret}, {"sp-cert-password", "clientCertificatePassword", f.SPClientCertPassword}} {
		if f.changed(fl.flag) {
			sp[fl.name] = fl.val
		}
	}
	if f.changed("sp-cert-send-chain") {
		sp["clientCertificateSendChain"] = f.SPClientCertSendChain
	}
	if f.SPClientCert != "" {
		cert, err := readFile("sp-client-cert", f.SPClientCert)
		if err != nil {
			return err
		}
		sp["clientCertificate"] = b64(cert)
	}
	if len(sp) > 0 {
		block["servicePrincipal"] = sp
	}
	if f.changed("mi-client-id") {
		block["managedIdentity"] = map[string]any{"clientId": f.MIClientID}
	}
	return nil
}

// gitBlock adds to block what update changes in a Git source.
func (f *sourceFlags) gitBlock(block map[string]any) error {
	caCert, err := fileOrValue("https-ca-cert", f.HTTPSCACert, "https-ca-cert-file", f.HTTPSCACertFile)
	if err != nil {
		return err
	}
	if caCert != "" {
		block["httpsCACert"] = caCert
	}
	if f.Branch != "" || f.Tag != "" || f.Semver != "" || f.Commit != "" {
		// As az sends it: the keys given. The data plane replaces the
		// stored reference whole.
		ref := map[string]any{}
		for k, v := range map[string]string{"branch": f.Branch, "tag": f.Tag, "semver": f.Semver, "commit": f.Commit} {
			if v != "" {
				ref[k] = v
			}
		}
		block["repositoryRef"] = ref
	}
	if f.changed("https-user") {
		block["httpsUser"] = f.HTTPSUser
	}
	if f.changed("local-auth-ref") || f.changed("local-ref") {
		block["localAuthRef"] = f.LocalAuthRef
	}
	if f.KnownHostsFile != "" {
		b, err := readFile("known-hosts-file", f.KnownHostsFile)
		if err != nil {
			return err
		}
		block["sshKnownHosts"] = b64(b)
	}
	if f.KnownHosts != "" {
		block["sshKnownHosts"] = f.KnownHosts
	}
	if f.rotation.given(f.changed) {
		rb, err := f.rotation.block(f.changed, f.current)
		if err != nil {
			return err
		}
		block["sshKeyRotation"] = rb
	}
	return nil
}

// kindOnlyFlags are the update flags that apply to some source kinds only.
var kindOnlyFlags = map[string][]v1alpha1.SourceKindType{
	"branch": {v1alpha1.SourceKindGitRepository}, "tag": {v1alpha1.SourceKindGitRepository},
	"semver": {v1alpha1.SourceKindGitRepository}, "commit": {v1alpha1.SourceKindGitRepository},
	"https-user": {v1alpha1.SourceKindGitRepository}, "https-key": {v1alpha1.SourceKindGitRepository},
	"https-ca-cert": {v1alpha1.SourceKindGitRepository}, "https-ca-cert-file": {v1alpha1.SourceKindGitRepository},
	"ssh-private-key": {v1alpha1.SourceKindGitRepository}, "ssh-private-key-file": {v1alpha1.SourceKindGitRepository},
	"known-hosts": {v1alpha1.SourceKindGitRepository}, "known-hosts-file": {v1alpha1.SourceKindGitRepository},
	"bucket-access-key": {v1alpha1.SourceKindBucket}, "access-key": {v1alpha1.SourceKindBucket},
	"bucket-secret-key": {v1alpha1.SourceKindBucket}, "secret-key": {v1alpha1.SourceKindBucket},
	"bucket-insecure": {v1alpha1.SourceKindBucket, v1alpha1.SourceKindOCIRepository},
	"account-key":     {v1alpha1.SourceKindAzureBlob}, "sas-token": {v1alpha1.SourceKindAzureBlob},
	"sp-client-secret": {v1alpha1.SourceKindAzureBlob}, "sp-client-cert": {v1alpha1.SourceKindAzureBlob},
	"sp-cert-password": {v1alpha1.SourceKindAzureBlob}, "container-name": {v1alpha1.SourceKindAzureBlob},
	"sp-client-id": {v1alpha1.SourceKindAzureBlob}, "sp-tenant-id": {v1alpha1.SourceKindAzureBlob},
	"sp-cert-send-chain": {v1alpha1.SourceKindAzureBlob}, "mi-client-id": {v1alpha1.SourceKindAzureBlob},
	"bucket-name":    {v1alpha1.SourceKindBucket},
	"rotate-ssh-key": {v1alpha1.SourceKindGitRepository}, "confirm-ssh-key-rotation": {v1alpha1.SourceKindGitRepository},
	"ssh-key-grace-period": {v1alpha1.SourceKindGitRepository}, "ssh-key-max-age-days": {v1alpha1.SourceKindGitRepository},
}

// kindFlags refuses an update flag that the configuration's source kind
// does not have, instead of dropping it.
func (f *sourceFlags) kindFlags(kind v1alpha1.SourceKindType) error {
	for flag, kinds := range kindOnlyFlags {
		if kind != "" && f.changed(flag) && !slices.Contains(kinds, kind) {
			return usagef("--%s does not apply to this configuration's %s source", flag, kind)
		}
	}
	return nil
}

// anyKindFlag reports whether a kind-specific flag was given.
func (f *sourceFlags) anyKindFlag() bool {
	for flag := range kindOnlyFlags {
		if f.changed(flag) {
			return true
		}
	}
	return false
}

// sourceBlocks names the properties block of each source kind.
var sourceBlocks = map[v1alpha1.SourceKindType]string{
	v1alpha1.SourceKindGitRepository: "gitRepository", v1alpha1.SourceKindBucket: "bucket",
	v1alpha1.SourceKindAzureBlob: "azureBlob", v1alpha1.SourceKindOCIRepository: "ociRepository",
}
