package v1alpha1

import (
	"regexp"
	"strings"
)

// The contract between the agent, the FluxConfig controller, the data plane
// and the CLI: names, keys and defaults that each of them must agree on.
// They live here, next to the types, so that each has one home.

// DefaultIntervalSeconds is ARM's default for every sync interval, timeout
// and retry interval of a configuration (the CRD's +kubebuilder:default).
const DefaultIntervalSeconds int64 = 600

// Protected setting keys, as in ARM's configurationProtectedSettings. The
// agent writes each value, base64-encoded as ARM receives it, under the same
// key into the configuration's protected-parameters Secret.
const (
	ProtectedSSHPrivateKey             = "sshPrivateKey"
	ProtectedHTTPSKey                  = "httpsKey"
	ProtectedBucketSecretKey           = "bucketSecretKey"
	ProtectedAccountKey                = "accountKey"
	ProtectedSASToken                  = "sasToken"
	ProtectedClientSecret              = "clientSecret"
	ProtectedClientCertificate         = "clientCertificate"
	ProtectedClientCertificatePassword = "clientCertificatePassword"
	// ProtectedTLSClientCertificate, ProtectedTLSPrivateKey and
	// ProtectedTLSCACertificate carry ociRepository.tlsConfig's material
	// (Azure does not publish these keys; they are this project's choice).
	ProtectedTLSClientCertificate = "tlsClientCertificate"
	ProtectedTLSPrivateKey        = "tlsPrivateKey"
	ProtectedTLSCACertificate     = "tlsCaCertificate"
)

// ProtectedSettingKeys lists every accepted protected setting key.
var ProtectedSettingKeys = []string{
	ProtectedSSHPrivateKey, ProtectedHTTPSKey, ProtectedBucketSecretKey, ProtectedAccountKey, ProtectedSASToken,
	ProtectedClientSecret, ProtectedClientCertificate, ProtectedClientCertificatePassword,
	ProtectedTLSClientCertificate, ProtectedTLSPrivateKey, ProtectedTLSCACertificate,
}

// ProtectedSettingsSecretName is the Secret in the configuration's namespace
// that the agent writes the protected settings into, and that
// spec.configurationProtectedSettingsRef then names.
func ProtectedSettingsSecretName(config string) string { return config + "-protected-parameters" }

// Annotations the agent sets.
const (
	// DataPlaneGenerationAnnotation on a FluxConfig is the data plane
	// generation of the desired state it holds.
	DataPlaneGenerationAnnotation = "clusterconfig.azure.com/dataplane-generation"
	// ProtectedVersionAnnotation on a protected-parameters Secret is the
	// version of the protected settings it holds.
	ProtectedVersionAnnotation = "clusterconfig.azure.com/protected-settings-version"
)

// SCPGitURLPrefix is the start of the scp-like form user@host:path of
// gitRepository.url, as a regular expression; the CRD's CEL rules spell the
// same expression.
const SCPGitURLPrefix = `^[A-Za-z0-9._~-]+@[^/:]+:`

var (
	scpGitURLPrefix = regexp.MustCompile(SCPGitURLPrefix)
	scpGitURLParts  = regexp.MustCompile(`^([A-Za-z0-9._~-]+)@([^/:]+):([^/].*)$`)
)

// IsSSHGitURL reports whether a gitRepository.url is reached over SSH: an
// ssh:// URL, or one that starts like user@host:.
func IsSSHGitURL(url string) bool {
	return strings.HasPrefix(url, "ssh://") || scpGitURLPrefix.MatchString(url)
}

// IsSCPGitURL reports whether url has the scp-like form user@host:path with
// a relative path, the form the CRD accepts besides http(s):// and ssh://.
func IsSCPGitURL(url string) bool {
	loc := scpGitURLPrefix.FindStringIndex(url)
	return loc != nil && loc[1] < len(url) && url[loc[1]] != '/'
}

// SplitSCPGitURL splits an scp-like Git URL (user@host:path, no scheme, a
// relative path on one line) into its parts; ok is false for any other URL.
func SplitSCPGitURL(url string) (user, host, path string, ok bool) {
	if strings.Contains(url, "://") {
		return "", "", "", false
	}
	m := scpGitURLParts.FindStringSubmatch(url)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

// IsSystemNamespace reports whether ns belongs to Kubernetes itself
// (kube-system, kube-public, kube-node-lease and any other kube-*): no
// configuration may be placed there, since its flux-applier would act with
// the rights of the cluster's own components.
func IsSystemNamespace(ns string) bool { return strings.HasPrefix(ns, "kube-") }
