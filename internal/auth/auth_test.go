package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

func b64(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

func pemKey(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func selfSignedCert(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func gitSpec(url string, mut ...func(*v1alpha1.GitRepositoryDefinition)) *v1alpha1.FluxConfigSpec {
	g := &v1alpha1.GitRepositoryDefinition{URL: url, RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"}}
	for _, m := range mut {
		m(g)
	}
	return &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindGitRepository, GitRepository: g}
}

func TestParseGitURL(t *testing.T) {
	tests := []struct {
		in      string
		want    GitURL
		wantErr string
	}{
		{in: "https://github.com/Azure/arc-k8s-demo", want: GitURL{URL: "https://github.com/Azure/arc-k8s-demo", Host: "github.com"}},
		{in: "http://127.0.0.1:8080/repo.git", want: GitURL{URL: "http://127.0.0.1:8080/repo.git", Host: "127.0.0.1:8080"}},
		{in: "ssh://git@github.com/org/repo", want: GitURL{URL: "ssh://git@github.com/org/repo", SSH: true, Host: "github.com"}},
		{in: "git@github.com:org/repo.git", want: GitURL{URL: "ssh://git@github.com/org/repo.git", SSH: true, Host: "github.com"}},
		{in: "git@ssh.dev.azure.com:v3/org/project/repo", want: GitURL{URL: "ssh://git@ssh.dev.azure.com/v3/org/project/repo", SSH: true, Host: "ssh.dev.azure.com"}},
		{in: "ssh://git@127.0.0.1:2222/repo", want: GitURL{URL: "ssh://git@127.0.0.1:2222/repo", SSH: true, Host: "127.0.0.1:2222"}},
		{in: "ftp://host/repo", wantErr: `scheme "ftp" is not supported`},
		{in: "https://user:s3cr3t@github.com/org/repo", wantErr: "must not contain a password"},
		{in: "ssh://git:s3cr3t@github.com/org/repo", wantErr: "must not contain a password"},
		{in: "not a url", wantErr: "is not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseGitURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBuiltinKnownHostsParse(t *testing.T) {
	for _, host := range []string{"github.com", "gitlab.com", "bitbucket.org", "ssh.dev.azure.com", "vs-ssh.visualstudio.com"} {
		if _, err := knownHostsFor([]byte(BuiltinKnownHosts), host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	// Every line is a real public key.
	for i, line := range strings.Split(strings.TrimSpace(BuiltinKnownHosts), "\n") {
		if _, _, _, _, _, err := ssh.ParseKnownHosts([]byte(line)); err != nil {
			t.Errorf("line %d: %v", i+1, err)
		}
	}
}

func TestKnownHostsFor(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := ssh.NewPublicKey(&key.PublicKey)
	line := func(host string) []byte { return []byte(knownhosts.Line([]string{host}, pub) + "\n") }
	tests := []struct {
		name    string
		kh      []byte
		addr    string
		wantErr string
	}{
		{name: "plain host", kh: line("git.example.com"), addr: "git.example.com"},
		{name: "host with port", kh: line("[127.0.0.1]:2222"), addr: "127.0.0.1:2222"},
		{name: "port 22 is implicit", kh: line("git.example.com"), addr: "git.example.com:22"},
		{name: "hashed host", kh: line(knownhosts.HashHostname("git.example.com")), addr: "git.example.com"},
		{name: "wildcard", kh: line("*.example.com"), addr: "git.example.com"},
		{name: "other host", kh: line("other.example.com"), addr: "git.example.com", wantErr: "no key for git.example.com"},
		{name: "wrong port", kh: line("[127.0.0.1]:2222"), addr: "127.0.0.1:2223", wantErr: "no key for [127.0.0.1]:2223"},
		{name: "garbage", kh: []byte("this is not known_hosts\n"), addr: "h", wantErr: "malformed"},
		{name: "empty", kh: []byte("\n"), addr: "h", wantErr: "no entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := knownHostsFor(tt.kh, tt.addr)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestGenerateKeyPair(t *testing.T) {
	for _, alg := range []KeyAlgorithm{"ecdsa-p256", "ed25519"} {
		kp, err := GenerateKeyPair(alg)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := publicKeyOf(kp.PrivateKey)
		if err != nil {
			t.Fatalf("%s: generated key does not parse: %v", alg, err)
		}
		if !bytes.Equal(bytes.TrimSpace(pub), bytes.TrimSpace(kp.PublicKey)) {
			t.Errorf("%s: public key does not match the private key", alg)
		}
		back, err := KeyPairFromSecretData(kp.SecretData())
		if err != nil || !bytes.Equal(back.PrivateKey, kp.PrivateKey) {
			t.Errorf("%s: Secret round trip failed: %v", alg, err)
		}
	}
	if _, err := ParseKeyAlgorithm("dsa"); err == nil || !strings.Contains(err.Error(), "rsa-4096, ecdsa-p256") {
		t.Errorf("ParseKeyAlgorithm(dsa) error = %v", err)
	}
	if a, err := ParseKeyAlgorithm("ed25519"); err != nil || a != "ed25519" {
		t.Errorf("ParseKeyAlgorithm(ed25519) = %v, %v", a, err)
	}
}

func TestNeedsGeneratedKey(t *testing.T) {
	tests := []struct {
		name      string
		spec      *v1alpha1.FluxConfigSpec
		protected map[string][]byte
		want      bool
	}{
		{"ssh url without key", gitSpec("ssh://git@github.com/o/r"), nil, true},
		{"scp url without key", gitSpec("git@github.com:o/r"), nil, true},
		{"ssh url with key", gitSpec("ssh://git@github.com/o/r"), map[string][]byte{v1alpha1.ProtectedSSHPrivateKey: []byte("x")}, false},
		{"ssh url with localAuthRef", gitSpec("ssh://git@github.com/o/r", func(g *v1alpha1.GitRepositoryDefinition) { g.LocalAuthRef = "mine" }), nil, false},
		{"https url", gitSpec("https://github.com/o/r"), nil, false},
		{"bucket", &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindBucket, Bucket: &v1alpha1.BucketDefinition{}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsGeneratedKey(tt.spec, tt.protected); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSecretData(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	userKeyPEM := pemKey(t, ecKey)
	weakRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	weakPEM := pemKey(t, weakRSA)
	generated := &KeyPair{PrivateKey: []byte("GENERATED-PRIVATE"), PublicKey: []byte("ssh-ed25519 AAAA generated")}
	ca := selfSignedCert(t)
	khKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	khPub, _ := ssh.NewPublicKey(&khKey.PublicKey)
	customKH := []byte(knownhosts.Line([]string{"[127.0.0.1]:2222"}, khPub) + "\n")

	tests := []struct {
		name      string
		spec      *v1alpha1.FluxConfigSpec
		protected map[string][]byte
		generated *KeyPair
		wantKeys  []string          // keys of the Secret; nil means no Secret
		wantData  map[string]string // some exact values
		wantErr   string
	}{
		{
			name: "public https repository needs no secret",
			spec: gitSpec("https://github.com/Azure/arc-k8s-demo"),
		},
		{
			name:      "https with user and token",
			spec:      gitSpec("https://github.com/o/r", func(g *v1alpha1.GitRepositoryDefinition) { g.HTTPSUser = "bot" }),
			protected: map[string][]byte{v1alpha1.ProtectedHTTPSKey: b64([]byte("ghp_token"))},
			wantKeys:  []string{FluxPassword, FluxUsername},
			wantData:  map[string]string{FluxUsername: "bot", FluxPassword: "ghp_token"},
		},
		{
			name: "https with a CA certificate only",
			spec: gitSpec("https://git.internal/o/r", func(g *v1alpha1.GitRepositoryDefinition) {
				g.HTTPSCACert = string(b64(ca))
			}),
			wantKeys: []string{FluxCACert},
			wantData: map[string]string{FluxCACert: string(ca)},
		},
		{
			name:    "https CA that is not PEM (the ARM example's placeholder)",
			spec:    gitSpec("https://github.com/o/r", func(g *v1alpha1.GitRepositoryDefinition) { g.HTTPSCACert = "ZXhhbXBsZWNlcnRpZmljYXRl" }),
			wantErr: "gitRepository.httpsCACert is not a PEM certificate",
		},
		{
			name:      "user and token over plain http",
			spec:      gitSpec("http://git.example.com/o/r", func(g *v1alpha1.GitRepositoryDefinition) { g.HTTPSUser = "bot" }),
			protected: map[string][]byte{v1alpha1.ProtectedHTTPSKey: b64([]byte("ghp_token"))},
			wantErr:   "would carry httpsUser and httpsKey in clear",
		},
		{
			name:      "token alone over plain http",
			spec:      gitSpec("http://git.example.com/o/r"),
			protected: map[string][]byte{v1alpha1.ProtectedHTTPSKey: b64([]byte("ghp_token"))},
			wantErr:   "would carry httpsUser and httpsKey in clear",
		},
		{
			name: "public repository over plain http needs no secret",
			spec: gitSpec("http://git.example.com/o/r"),
		},
		{
			name:    "https user without token",
			spec:    gitSpec("https://github.com/o/r", func(g *v1alpha1.GitRepositoryDefinition) { g.HTTPSUser = "bot" }),
			wantErr: "httpsUser is set without the protected setting httpsKey",
		},
		{
			name:      "https token without user",
			spec:      gitSpec("https://github.com/o/r"),
			protected: map[string][]byte{v1alpha1.ProtectedHTTPSKey: b64([]byte("ghp_token"))},
			wantErr:   "httpsKey is set without gitRepository.httpsUser",
		},
		{
			name:      "ssh key with an https url",
			spec:      gitSpec("https://github.com/o/r"),
			protected: map[string][]byte{v1alpha1.ProtectedSSHPrivateKey: b64(userKeyPEM)},
			wantErr:   "sshPrivateKey applies to SSH URLs only",
		},
		{
			name:      "https token with an ssh url",
			spec:      gitSpec("ssh://git@github.com/o/r"),
			protected: map[string][]byte{v1alpha1.ProtectedHTTPSKey: b64([]byte("ghp_token"))},
			generated: generated,
			wantErr:   "httpsKey applies to https URLs only",
		},
		{
			name:      "ssh with generated key and built-in known_hosts",
			spec:      gitSpec("git@github.com:o/r"),
			generated: generated,
			wantKeys:  []string{FluxIdentity, FluxIdentityPub, FluxKnownHosts},
			wantData:  map[string]string{FluxIdentity: "GENERATED-PRIVATE", FluxKnownHosts: BuiltinKnownHosts},
		},
		{
			name:      "ssh with the user's key",
			spec:      gitSpec("ssh://git@ssh.dev.azure.com/v3/o/p/r"),
			protected: map[string][]byte{v1alpha1.ProtectedSSHPrivateKey: b64(userKeyPEM)},
			wantKeys:  []string{FluxIdentity, FluxIdentityPub, FluxKnownHosts},
			wantData:  map[string]string{FluxIdentity: string(userKeyPEM)},
		},
		{
			name:      "ssh with a weak RSA key",
			spec:      gitSpec("ssh://git@github.com/o/r"),
			protected: map[string][]byte{v1alpha1.ProtectedSSHPrivateKey: b64(weakPEM)},
			wantErr:   "2048-bit RSA key: use at least 3072 bits",
		},
		{
			name:      "ssh key that is not a key",
			spec:      gitSpec("ssh://git@github.com/o/r"),
			protected: map[string][]byte{v1alpha1.ProtectedSSHPrivateKey: b64([]byte("-----BEGIN NOTHING-----"))},
			wantErr:   "sshPrivateKey is not a PEM private key",
		},
		{
			name:      "protected setting that is not base64",
			spec:      gitSpec("ssh://git@github.com/o/r"),
			protected: map[string][]byte{v1alpha1.ProtectedSSHPrivateKey: []byte("-----BEGIN PRIVATE KEY-----")},
			wantErr:   "protected setting sshPrivateKey is not valid base64",
		},
		{
			name:      "ssh to an unknown host without sshKnownHosts",
			spec:      gitSpec("ssh://git@127.0.0.1:2222/repo"),
			generated: generated,
			wantErr:   "no key for [127.0.0.1]:2222: set gitRepository.sshKnownHosts",
		},
		{
			name: "ssh to a custom host with sshKnownHosts",
			spec: gitSpec("ssh://git@127.0.0.1:2222/repo", func(g *v1alpha1.GitRepositoryDefinition) {
				g.SSHKnownHosts = string(b64(customKH))
			}),
			generated: generated,
			wantKeys:  []string{FluxIdentity, FluxIdentityPub, FluxKnownHosts},
			wantData:  map[string]string{FluxKnownHosts: string(customKH)},
		},
		{
			name:      "ssh with httpsUser",
			spec:      gitSpec("ssh://git@github.com/o/r", func(g *v1alpha1.GitRepositoryDefinition) { g.HTTPSUser = "bot" }),
			generated: generated,
			wantErr:   "httpsUser and httpsCACert apply to https URLs only",
		},
		{
			name:    "localAuthRef is used as is",
			spec:    gitSpec("ssh://git@github.com/o/r", func(g *v1alpha1.GitRepositoryDefinition) { g.LocalAuthRef = "my-secret" }),
			wantErr: "",
		},
		{
			name:      "localAuthRef with a protected key",
			spec:      gitSpec("ssh://git@github.com/o/r", func(g *v1alpha1.GitRepositoryDefinition) { g.LocalAuthRef = "my-secret" }),
			protected: map[string][]byte{v1alpha1.ProtectedSSHPrivateKey: b64(userKeyPEM)},
			wantErr:   "cannot be combined with gitRepository.localAuthRef",
		},
		{
			name:      "bucket secret key on a git source",
			spec:      gitSpec("https://github.com/o/r"),
			protected: map[string][]byte{v1alpha1.ProtectedBucketSecretKey: b64([]byte("x"))},
			wantErr:   "bucketSecretKey does not apply to a Git source",
		},
		{
			name: "bucket with keys",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindBucket, Bucket: &v1alpha1.BucketDefinition{
				URL: "https://s3.example.com", BucketName: "configs", AccessKey: "AKIA123"}},
			protected: map[string][]byte{v1alpha1.ProtectedBucketSecretKey: b64([]byte("bucket-secret"))},
			wantKeys:  []string{FluxAccessKey, FluxSecretKey},
			wantData:  map[string]string{FluxAccessKey: "AKIA123", FluxSecretKey: "bucket-secret"},
		},
		{
			name: "bucket access key without secret",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindBucket, Bucket: &v1alpha1.BucketDefinition{
				URL: "https://s3.example.com", BucketName: "configs", AccessKey: "AKIA123"}},
			wantErr: "bucket.accessKey is set without the protected setting bucketSecretKey",
		},
		{
			name: "public bucket",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindBucket, Bucket: &v1alpha1.BucketDefinition{
				URL: "https://s3.example.com", BucketName: "configs"}},
		},
		{
			name:      "azure blob with account key",
			spec:      &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindAzureBlob, AzureBlob: &v1alpha1.AzureBlobDefinition{URL: "https://acct.blob.core.windows.net", ContainerName: "configs"}},
			protected: map[string][]byte{v1alpha1.ProtectedAccountKey: b64([]byte("acct-key"))},
			wantKeys:  []string{FluxAccountKey},
			wantData:  map[string]string{FluxAccountKey: "acct-key"},
		},
		{
			name:      "azure blob with sas token",
			spec:      &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindAzureBlob, AzureBlob: &v1alpha1.AzureBlobDefinition{URL: "https://acct.blob.core.windows.net", ContainerName: "configs"}},
			protected: map[string][]byte{v1alpha1.ProtectedSASToken: b64([]byte("sv=2024&sig=x"))},
			wantKeys:  []string{FluxSASKey},
			wantData:  map[string]string{FluxSASKey: "sv=2024&sig=x"},
		},
		{
			name: "azure blob with service principal secret",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindAzureBlob, AzureBlob: &v1alpha1.AzureBlobDefinition{
				URL: "https://acct.blob.core.windows.net", ContainerName: "configs",
				ServicePrincipal: &v1alpha1.ServicePrincipalDefinition{ClientID: "cid", TenantID: "tid"}}},
			protected: map[string][]byte{v1alpha1.ProtectedClientSecret: b64([]byte("sp-secret"))},
			wantKeys:  []string{FluxClientID, FluxClientSecret, FluxTenantID},
			wantData:  map[string]string{FluxClientID: "cid", FluxTenantID: "tid", FluxClientSecret: "sp-secret"},
		},
		{
			name: "azure blob with service principal certificate and chain",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindAzureBlob, AzureBlob: &v1alpha1.AzureBlobDefinition{
				URL: "https://acct.blob.core.windows.net", ContainerName: "configs",
				ServicePrincipal: &v1alpha1.ServicePrincipalDefinition{ClientID: "cid", TenantID: "tid", ClientCertificateSendChain: true}}},
			protected: map[string][]byte{v1alpha1.ProtectedClientCertificate: b64([]byte("cert")), v1alpha1.ProtectedClientCertificatePassword: b64([]byte("pw"))},
			wantKeys:  []string{FluxClientCertificate, FluxClientCertificatePassword, FluxClientCertificateSendChain, FluxClientID, FluxTenantID},
			wantData:  map[string]string{FluxClientCertificateSendChain: "true", FluxClientCertificatePassword: "pw"},
		},
		{
			name: "azure blob with service principal and nothing to prove it",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindAzureBlob, AzureBlob: &v1alpha1.AzureBlobDefinition{
				URL: "https://acct.blob.core.windows.net", ContainerName: "configs",
				ServicePrincipal: &v1alpha1.ServicePrincipalDefinition{ClientID: "cid", TenantID: "tid"}}},
			wantErr: "needs the protected setting clientSecret or clientCertificate",
		},
		{
			name: "azure blob with managed identity",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindAzureBlob, AzureBlob: &v1alpha1.AzureBlobDefinition{
				URL: "https://acct.blob.core.windows.net", ContainerName: "configs",
				ManagedIdentity: &v1alpha1.ManagedIdentityDefinition{ClientID: "mi"}}},
			wantKeys: []string{FluxClientID},
			wantData: map[string]string{FluxClientID: "mi"},
		},
		{
			name: "azure blob with two methods",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindAzureBlob, AzureBlob: &v1alpha1.AzureBlobDefinition{
				URL: "https://acct.blob.core.windows.net", ContainerName: "configs",
				ManagedIdentity: &v1alpha1.ManagedIdentityDefinition{ClientID: "mi"}}},
			protected: map[string][]byte{v1alpha1.ProtectedAccountKey: b64([]byte("acct-key"))},
			wantErr:   "more than one authentication method",
		},
		{
			name: "oci with mutual TLS",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindOCIRepository, OCIRepository: &v1alpha1.OCIRepositoryDefinition{
				URL: "oci://registry.example.com/manifests", TLSConfig: &v1alpha1.TLSConfigDefinition{}}},
			protected: map[string][]byte{v1alpha1.ProtectedTLSClientCertificate: b64(ca), v1alpha1.ProtectedTLSPrivateKey: b64(userKeyPEM), v1alpha1.ProtectedTLSCACertificate: b64(ca)},
			wantKeys:  []string{FluxCACert, FluxTLSCert, FluxTLSKey},
		},
		{
			name: "oci tls certificate without key",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindOCIRepository, OCIRepository: &v1alpha1.OCIRepositoryDefinition{
				URL: "oci://registry.example.com/manifests", TLSConfig: &v1alpha1.TLSConfigDefinition{}}},
			protected: map[string][]byte{v1alpha1.ProtectedTLSClientCertificate: b64(ca)},
			wantErr:   "tlsClientCertificate and tlsPrivateKey go together",
		},
		{
			name: "public oci",
			spec: &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindOCIRepository, OCIRepository: &v1alpha1.OCIRepositoryDefinition{
				URL: "oci://registry.example.com/manifests"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SecretData(Input{Spec: tt.spec, Protected: tt.protected, Generated: tt.generated})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				for _, secret := range []string{"ghp_token", "bucket-secret", "acct-key", "sp-secret", "PRIVATE KEY"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error leaks a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantKeys == nil {
				if got != nil {
					t.Fatalf("want no Secret, got keys %v", keys(got))
				}
				return
			}
			if k := keys(got); strings.Join(k, ",") != strings.Join(tt.wantKeys, ",") {
				t.Fatalf("keys = %v, want %v", k, tt.wantKeys)
			}
			for k, v := range tt.wantData {
				if string(got[k]) != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func keys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }
