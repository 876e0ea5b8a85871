// Package auth decides the credentials of a configuration's source: the SSH
// key pair to generate, and the data of the auth Secret (<config>-auth) in
// Flux's keys, from the spec and the protected settings. It reads and
// writes nothing: the reconciler does that.
//
// Every error it returns is about the input (a credential that does not fit
// the URL, malformed key material) and says what to fix; none contains a
// secret value.
package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	fluxssh "github.com/fluxcd/pkg/ssh"
	"golang.org/x/crypto/ssh"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// Flux's Secret keys.
const (
	FluxIdentity                   = "identity"
	FluxIdentityPub                = "identity.pub"
	FluxKnownHosts                 = "known_hosts"
	FluxUsername                   = "username"
	FluxPassword                   = "password"
	FluxCACert                     = "ca.crt"
	FluxAccessKey                  = "accesskey"
	FluxSecretKey                  = "secretkey"
	FluxAccountKey                 = "accountKey"
	FluxSASKey                     = "sasKey"
	FluxTenantID                   = "tenantId"
	FluxClientID                   = "clientId"
	FluxClientSecret               = "clientSecret"
	FluxClientCertificate          = "clientCertificate"
	FluxClientCertificatePassword  = "clientCertificatePassword"
	FluxClientCertificateSendChain = "clientCertificateSendChain"
	FluxTLSCert                    = "tls.crt"
	FluxTLSKey                     = "tls.key"
)

// MinRSABits is the smallest RSA key accepted for SSH.
const MinRSABits = 3072

// KeyAlgorithm is the algorithm of generated SSH key pairs.
type KeyAlgorithm = fluxssh.KeyPairType

// KeyAlgorithms lists the accepted algorithms, the default first.
var KeyAlgorithms = []KeyAlgorithm{
	fluxssh.RSA_4096, fluxssh.ECDSA_P256, fluxssh.ECDSA_P384, fluxssh.ECDSA_P521, fluxssh.ED25519,
}

// ParseKeyAlgorithm returns the algorithm named s, or an error listing the
// accepted names.
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	for _, a := range KeyAlgorithms {
		if string(a) == s {
			return a, nil
		}
	}
	names := make([]string, len(KeyAlgorithms))
	for i, a := range KeyAlgorithms {
		names[i] = string(a)
	}
	return "", fmt.Errorf("unknown SSH key algorithm %q: use one of %s", s, strings.Join(names, ", "))
}

// SlowKeyAlgorithm reports whether generating a pair of alg takes long
// enough (RSA: hundreds of milliseconds) to be done in the background.
func SlowKeyAlgorithm(alg KeyAlgorithm) bool { return strings.HasPrefix(string(alg), "rsa") }

// KeyPair is an SSH key pair: a PEM private key and its public key in
// authorized_keys format.
type KeyPair struct {
	PrivateKey []byte
	PublicKey  []byte
}

// GenerateKeyPair generates a key pair with fluxcd/pkg/ssh.
func GenerateKeyPair(alg KeyAlgorithm) (*KeyPair, error) {
	kp, err := fluxssh.GenerateKeyPair(alg)
	if err != nil {
		return nil, fmt.Errorf("failed to generate %s SSH key pair: %w", alg, err)
	}
	return &KeyPair{PrivateKey: kp.PrivateKey, PublicKey: kp.PublicKey}, nil
}

// KeyPairFromSecretData reads a generated key pair back from its Secret.
func KeyPairFromSecretData(data map[string][]byte) (*KeyPair, error) {
	kp := &KeyPair{PrivateKey: data[FluxIdentity], PublicKey: data[FluxIdentityPub]}
	if len(kp.PrivateKey) == 0 || len(kp.PublicKey) == 0 {
		return nil, errors.New("the generated SSH key Secret lacks identity or identity.pub")
	}
	return kp, nil
}

// SecretData returns the key pair as the data of its Secret.
func (kp *KeyPair) SecretData() map[string][]byte {
	return map[string][]byte{FluxIdentity: kp.PrivateKey, FluxIdentityPub: kp.PublicKey}
}

// GitURL is a parsed Git repository URL.
type GitURL struct {
	// URL is the URL Flux gets: scp-like user@host:path becomes ssh://user@host/path.
	URL string
	// SSH is true for ssh:// URLs.
	SSH bool
	// Host is host or host:port.
	Host string
}

// ParseGitURL parses and normalizes a Git URL: http(s)://, ssh:// or user@host:path.
func ParseGitURL(raw string) (GitURL, error) {
	if user, host, path, ok := v1alpha1.SplitSCPGitURL(raw); ok {
		raw = "ssh://" + user + "@" + host + "/" + path
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		// The URL itself is not repeated: it may hold credentials.
		return GitURL{}, errors.New("gitRepository.url is not a valid URL: use https://host/path, ssh://user@host/path or user@host:path")
	}
	switch u.Scheme {
	case "http", "https":
		if u.User != nil {
			if _, hasPassword := u.User.Password(); hasPassword {
				return GitURL{}, errors.New("gitRepository.url must not contain a password: put the user in httpsUser and the token in the protected setting httpsKey")
			}
		}
		return GitURL{URL: u.String(), Host: u.Host}, nil
	case "ssh":
		if u.User != nil {
			if _, hasPassword := u.User.Password(); hasPassword {
				return GitURL{}, errors.New("gitRepository.url must not contain a password: use the protected setting sshPrivateKey")
			}
		}
		if port := u.Port(); port != "" {
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				return GitURL{}, fmt.Errorf("gitRepository.url has an invalid port %q", port)
			}
		}
		return GitURL{URL: u.String(), SSH: true, Host: u.Host}, nil
	default:
		return GitURL{}, fmt.Errorf("gitRepository.url scheme %q is not supported: use https://, http://, ssh:// or user@host:path", u.Scheme)
	}
}

// NeedsGeneratedKey reports whether the configuration needs a generated SSH
// key pair: an SSH Git URL with neither an sshPrivateKey nor a localAuthRef.
func NeedsGeneratedKey(spec *v1alpha1.FluxConfigSpec, protected map[string][]byte) bool {
	if spec.SourceKind != v1alpha1.SourceKindGitRepository || spec.GitRepository == nil {
		return false
	}
	git := spec.GitRepository
	if git.LocalAuthRef != "" || len(protected[v1alpha1.ProtectedSSHPrivateKey]) > 0 {
		return false
	}
	u, err := ParseGitURL(git.URL)
	return err == nil && u.SSH
}

// Input is everything SecretData decides from.
type Input struct {
	Spec *v1alpha1.FluxConfigSpec
	// Protected are the protected settings, values base64-encoded as in ARM.
	Protected map[string][]byte
	// Generated is the configuration's generated key pair, when it has one.
	Generated *KeyPair
}

// SecretData returns the data of the configuration's auth Secret in Flux's
// keys, or nil when the source needs no Secret of ours (public source, or
// localAuthRef, which is used as is).
func SecretData(in Input) (map[string][]byte, error) {
	p, err := decodeProtected(in.Protected)
	if err != nil {
		return nil, err
	}
	spec := in.Spec
	switch spec.SourceKind {
	case v1alpha1.SourceKindGitRepository:
		return gitData(spec.GitRepository, p, in.Generated)
	case v1alpha1.SourceKindBucket:
		return bucketData(spec.Bucket, p)
	case v1alpha1.SourceKindAzureBlob:
		return azureBlobData(spec.AzureBlob, p)
	case v1alpha1.SourceKindOCIRepository:
		return ociData(spec.OCIRepository, p)
	default:
		return nil, fmt.Errorf("unknown sourceKind %q", spec.SourceKind)
	}
}

// protectedSettings are decoded protected settings.
type protectedSettings map[string][]byte

func (p protectedSettings) has(k string) bool { return len(p[k]) > 0 }

// decodeProtected base64-decodes every protected setting. An error names the
// key, never the value.
func decodeProtected(in map[string][]byte) (protectedSettings, error) {
	out := make(protectedSettings, len(in))
	for k, v := range in {
		s := strings.TrimSpace(string(v))
		if s == "" {
			continue
		}
		decoded, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("protected setting %s is not valid base64: encode its value with base64, as ARM expects", k)
		}
		out[k] = decoded
	}
	return out, nil
}

// refuse returns an error when any of keys is set.
func refuse(p protectedSettings, why string, keys ...string) error {
	for _, k := range keys {
		if p.has(k) {
			return fmt.Errorf("protected setting %s %s", k, why)
		}
	}
	return nil
}

func gitData(git *v1alpha1.GitRepositoryDefinition, p protectedSettings, generated *KeyPair) (map[string][]byte, error) {
	if git == nil {
		return nil, errors.New("sourceKind is GitRepository but gitRepository is not set")
	}
	if err := refuse(p, "does not apply to a Git source: remove it",
		v1alpha1.ProtectedBucketSecretKey, v1alpha1.ProtectedAccountKey, v1alpha1.ProtectedSASToken, v1alpha1.ProtectedClientSecret, v1alpha1.ProtectedClientCertificate, v1alpha1.ProtectedClientCertificatePassword,
		v1alpha1.ProtectedTLSClientCertificate, v1alpha1.ProtectedTLSPrivateKey, v1alpha1.ProtectedTLSCACertificate); err != nil {
		return nil, err
	}
	u, err := ParseGitURL(git.URL)
	if err != nil {
		return nil, err
	}
	if git.LocalAuthRef != "" {
		if err := refuse(p, "cannot be combined with gitRepository.localAuthRef, which is used as is: remove one of them",
			v1alpha1.ProtectedSSHPrivateKey, v1alpha1.ProtectedHTTPSKey); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if u.SSH {
		return sshData(git, p, generated, u.Host)
	}
	return httpsData(git, p)
}

func sshData(git *v1alpha1.GitRepositoryDefinition, p protectedSettings, generated *KeyPair, host string) (map[string][]byte, error) {
	if err := refuse(p, "applies to https URLs only: remove it, or use an https:// URL", v1alpha1.ProtectedHTTPSKey); err != nil {
		return nil, err
	}
	if git.HTTPSUser != "" || git.HTTPSCACert != "" {
		return nil, errors.New("httpsUser and httpsCACert apply to https URLs only: remove them, or use an https:// URL")
	}
	data := map[string][]byte{}
	switch {
	case p.has(v1alpha1.ProtectedSSHPrivateKey):
		pub, err := publicKeyOf(p[v1alpha1.ProtectedSSHPrivateKey])
		if err != nil {
			return nil, err
		}
		data[FluxIdentity] = p[v1alpha1.ProtectedSSHPrivateKey]
		data[FluxIdentityPub] = pub
	case generated != nil:
		data[FluxIdentity] = generated.PrivateKey
		data[FluxIdentityPub] = generated.PublicKey
	default:
		return nil, errors.New("the SSH URL needs a key: set the protected setting sshPrivateKey or gitRepository.localAuthRef, or let the operator generate one")
	}

	knownHosts := []byte(BuiltinKnownHosts)
	source := "the built-in known_hosts (GitHub, GitLab, Bitbucket, Azure DevOps)"
	if git.SSHKnownHosts != "" {
		decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(git.SSHKnownHosts))
		if err != nil {
			return nil, errors.New("gitRepository.sshKnownHosts is not valid base64: base64-encode the known_hosts file")
		}
		knownHosts = decoded
		source = "gitRepository.sshKnownHosts"
	}
	kh, err := knownHostsFor(knownHosts, host)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: set gitRepository.sshKnownHosts to the base64 of the host's known_hosts entries (ssh-keyscan)", source, err)
	}
	data[FluxKnownHosts] = kh
	return data, nil
}

// publicKeyOf parses a PEM private key (PKCS#1, PKCS#8, SEC1 or OpenSSH),
// refuses weak or encrypted ones, and returns its authorized_keys line.
func publicKeyOf(pemKey []byte) ([]byte, error) {
	key, err := ssh.ParseRawPrivateKey(pemKey)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, errors.New("protected setting sshPrivateKey is encrypted with a passphrase: provide the key without one")
		}
		return nil, errors.New("protected setting sshPrivateKey is not a PEM private key (RSA, ECDSA or Ed25519)")
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("protected setting sshPrivateKey is a %d-bit RSA key: use at least %d bits, or an ECDSA or Ed25519 key", bits, MinRSABits)
		}
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("protected setting sshPrivateKey has an unsupported key type %T: use RSA, ECDSA or Ed25519", key)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, errors.New("protected setting sshPrivateKey cannot sign: provide an RSA, ECDSA or Ed25519 key")
	}
	return ssh.MarshalAuthorizedKey(signer.PublicKey()), nil
}

func httpsData(git *v1alpha1.GitRepositoryDefinition, p protectedSettings) (map[string][]byte, error) {
	if err := refuse(p, "applies to SSH URLs only: remove it, or use an ssh:// URL", v1alpha1.ProtectedSSHPrivateKey); err != nil {
		return nil, err
	}
	if git.SSHKnownHosts != "" {
		return nil, errors.New("gitRepository.sshKnownHosts applies to SSH URLs only: remove it, or use an ssh:// URL")
	}
	if strings.HasPrefix(git.URL, "http://") && (git.HTTPSUser != "" || p.has(v1alpha1.ProtectedHTTPSKey)) {
		return nil, errors.New("gitRepository.url is http://, which would carry httpsUser and httpsKey in clear: use an https:// URL")
	}
	data := map[string][]byte{}
	switch {
	case git.HTTPSUser != "" && p.has(v1alpha1.ProtectedHTTPSKey):
		data[FluxUsername] = []byte(git.HTTPSUser)
		data[FluxPassword] = p[v1alpha1.ProtectedHTTPSKey]
	case git.HTTPSUser != "":
		return nil, errors.New("gitRepository.httpsUser is set without the protected setting httpsKey: give both, or neither for a public repository")
	case p.has(v1alpha1.ProtectedHTTPSKey):
		return nil, errors.New("protected setting httpsKey is set without gitRepository.httpsUser: give both, or neither for a public repository")
	}
	if git.HTTPSCACert != "" {
		ca, err := base64.StdEncoding.DecodeString(strings.TrimSpace(git.HTTPSCACert))
		if err != nil {
			return nil, errors.New("gitRepository.httpsCACert is not valid base64: base64-encode the PEM certificate")
		}
		if err := checkCertificates(ca, "gitRepository.httpsCACert"); err != nil {
			return nil, err
		}
		data[FluxCACert] = ca
	}
	if len(data) == 0 {
		return nil, nil
	}
	return data, nil
}

// checkCertificates checks that in holds one or more PEM certificates.
func checkCertificates(in []byte, field string) error {
	n := 0
	for rest := in; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("%s holds a malformed certificate: %w", field, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s is not a PEM certificate: give the base64 of a file that starts with -----BEGIN CERTIFICATE-----", field)
	}
	return nil
}

func bucketData(b *v1alpha1.BucketDefinition, p protectedSettings) (map[string][]byte, error) {
	if b == nil {
		return nil, errors.New("sourceKind is Bucket but bucket is not set")
	}
	if err := refuse(p, "does not apply to a Bucket source: remove it",
		v1alpha1.ProtectedSSHPrivateKey, v1alpha1.ProtectedHTTPSKey, v1alpha1.ProtectedAccountKey, v1alpha1.ProtectedSASToken, v1alpha1.ProtectedClientSecret, v1alpha1.ProtectedClientCertificate, v1alpha1.ProtectedClientCertificatePassword,
		v1alpha1.ProtectedTLSClientCertificate, v1alpha1.ProtectedTLSPrivateKey, v1alpha1.ProtectedTLSCACertificate); err != nil {
		return nil, err
	}
	if b.LocalAuthRef != "" {
		if b.AccessKey != "" || p.has(v1alpha1.ProtectedBucketSecretKey) {
			return nil, errors.New("bucket.accessKey and the protected setting bucketSecretKey cannot be combined with bucket.localAuthRef, which is used as is: remove one of them")
		}
		return nil, nil
	}
	switch {
	case b.AccessKey != "" && p.has(v1alpha1.ProtectedBucketSecretKey):
		return map[string][]byte{FluxAccessKey: []byte(b.AccessKey), FluxSecretKey: p[v1alpha1.ProtectedBucketSecretKey]}, nil
	case b.AccessKey != "":
		return nil, errors.New("bucket.accessKey is set without the protected setting bucketSecretKey: give both, or neither for a public bucket")
	case p.has(v1alpha1.ProtectedBucketSecretKey):
		return nil, errors.New("protected setting bucketSecretKey is set without bucket.accessKey: give both, or neither for a public bucket")
	}
	return nil, nil
}

func azureBlobData(b *v1alpha1.AzureBlobDefinition, p protectedSettings) (map[string][]byte, error) {
	if b == nil {
		return nil, errors.New("sourceKind is AzureBlob but azureBlob is not set")
	}
	if err := refuse(p, "does not apply to an AzureBlob source: remove it",
		v1alpha1.ProtectedSSHPrivateKey, v1alpha1.ProtectedHTTPSKey, v1alpha1.ProtectedBucketSecretKey, v1alpha1.ProtectedTLSClientCertificate, v1alpha1.ProtectedTLSPrivateKey, v1alpha1.ProtectedTLSCACertificate); err != nil {
		return nil, err
	}
	if b.LocalAuthRef != "" {
		if err := refuse(p, "cannot be combined with azureBlob.localAuthRef, which is used as is: remove one of them",
			v1alpha1.ProtectedAccountKey, v1alpha1.ProtectedSASToken, v1alpha1.ProtectedClientSecret, v1alpha1.ProtectedClientCertificate, v1alpha1.ProtectedClientCertificatePassword); err != nil {
			return nil, err
		}
		return nil, nil
	}
	methods := 0
	data := map[string][]byte{}
	if p.has(v1alpha1.ProtectedAccountKey) {
		methods++
		data[FluxAccountKey] = p[v1alpha1.ProtectedAccountKey]
	}
	if p.has(v1alpha1.ProtectedSASToken) {
		methods++
		data[FluxSASKey] = p[v1alpha1.ProtectedSASToken]
	}
	if sp := b.ServicePrincipal; sp != nil {
		methods++
		data[FluxTenantID] = []byte(sp.TenantID)
		data[FluxClientID] = []byte(sp.ClientID)
		switch {
		case p.has(v1alpha1.ProtectedClientSecret) && p.has(v1alpha1.ProtectedClientCertificate):
			return nil, errors.New("protected settings clientSecret and clientCertificate are both set: a service principal uses one of them")
		case p.has(v1alpha1.ProtectedClientSecret):
			data[FluxClientSecret] = p[v1alpha1.ProtectedClientSecret]
		case p.has(v1alpha1.ProtectedClientCertificate):
			data[FluxClientCertificate] = p[v1alpha1.ProtectedClientCertificate]
			if p.has(v1alpha1.ProtectedClientCertificatePassword) {
				data[FluxClientCertificatePassword] = p[v1alpha1.ProtectedClientCertificatePassword]
			}
			if sp.ClientCertificateSendChain {
				data[FluxClientCertificateSendChain] = []byte("true")
			}
		default:
			return nil, errors.New("azureBlob.servicePrincipal needs the protected setting clientSecret or clientCertificate")
		}
	} else if err := refuse(p, "applies to azureBlob.servicePrincipal, which is not set: set it or remove the setting",
		v1alpha1.ProtectedClientSecret, v1alpha1.ProtectedClientCertificate, v1alpha1.ProtectedClientCertificatePassword); err != nil {
		return nil, err
	}
	if mi := b.ManagedIdentity; mi != nil {
		methods++
		data[FluxClientID] = []byte(mi.ClientID)
	}
	if methods > 1 {
		return nil, errors.New("azureBlob has more than one authentication method: use only one of accountKey, sasToken, servicePrincipal and managedIdentity")
	}
	if len(data) == 0 {
		return nil, nil
	}
	return data, nil
}

func ociData(o *v1alpha1.OCIRepositoryDefinition, p protectedSettings) (map[string][]byte, error) {
	if o == nil {
		return nil, errors.New("sourceKind is OCIRepository but ociRepository is not set")
	}
	if err := refuse(p, "does not apply to an OCIRepository source: remove it",
		v1alpha1.ProtectedSSHPrivateKey, v1alpha1.ProtectedHTTPSKey, v1alpha1.ProtectedBucketSecretKey, v1alpha1.ProtectedAccountKey, v1alpha1.ProtectedSASToken, v1alpha1.ProtectedClientSecret, v1alpha1.ProtectedClientCertificate, v1alpha1.ProtectedClientCertificatePassword); err != nil {
		return nil, err
	}
	if o.TLSConfig == nil {
		if err := refuse(p, "applies to ociRepository.tlsConfig, which is not set: set it or remove the setting",
			v1alpha1.ProtectedTLSClientCertificate, v1alpha1.ProtectedTLSPrivateKey, v1alpha1.ProtectedTLSCACertificate); err != nil {
			return nil, err
		}
		return nil, nil
	}
	data := map[string][]byte{}
	switch {
	case p.has(v1alpha1.ProtectedTLSClientCertificate) != p.has(v1alpha1.ProtectedTLSPrivateKey):
		return nil, errors.New("protected settings tlsClientCertificate and tlsPrivateKey go together: give both for mutual TLS")
	case p.has(v1alpha1.ProtectedTLSClientCertificate):
		if err := checkCertificates(p[v1alpha1.ProtectedTLSClientCertificate], "protected setting tlsClientCertificate"); err != nil {
			return nil, err
		}
		data[FluxTLSCert] = p[v1alpha1.ProtectedTLSClientCertificate]
		data[FluxTLSKey] = p[v1alpha1.ProtectedTLSPrivateKey]
	}
	if p.has(v1alpha1.ProtectedTLSCACertificate) {
		if err := checkCertificates(p[v1alpha1.ProtectedTLSCACertificate], "protected setting tlsCaCertificate"); err != nil {
			return nil, err
		}
		data[FluxCACert] = p[v1alpha1.ProtectedTLSCACertificate]
	}
	if len(data) == 0 {
		return nil, errors.New("ociRepository.tlsConfig is set but no TLS material was given: set the protected settings tlsClientCertificate and tlsPrivateKey, and/or tlsCaCertificate")
	}
	return data, nil
}
