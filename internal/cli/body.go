package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/validation"
)

// usageError is a mistake in the command line: exit code 2, no request sent.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// seconds parses a duration flag: a Go duration (1m30s, 10m, 1h) or a
// number of seconds.
func seconds(flag, v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < validation.MinSeconds || n > validation.MaxSeconds {
			return 0, usagef("--%s %s is out of range: use 1s to %ds", flag, v, validation.MaxSeconds)
		}
		return n, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, usagef("--%s %q is not a duration: use a Go duration such as 30s, 10m or 1h30m", flag, v)
	}
	if d%time.Second != 0 {
		return 0, usagef("--%s %s: use whole seconds", flag, v)
	}
	n := int64(d / time.Second)
	if n < validation.MinSeconds || n > validation.MaxSeconds {
		return 0, usagef("--%s %s is out of range: use 1s to %ds", flag, v, validation.MaxSeconds)
	}
	return n, nil
}

// kustomizationSpec is one --kustomization value, parsed.
type kustomizationSpec struct {
	Name string
	Def  v1alpha1.KustomizationDefinition
	// Set lists the keys given, so that an update sends only those.
	Set []string
}

// kustomizationKeys are the accepted keys, with az's aliases.
var kustomizationKeys = map[string]string{
	"name": "name", "path": "path",
	"depends_on": "depends_on", "dependson": "depends_on", "depends-on": "depends_on", "dependsOn": "depends_on",
	"timeout": "timeout", "sync_interval": "sync_interval", "interval": "sync_interval", "sync-interval": "sync_interval",
	"retry_interval": "retry_interval", "retry-interval": "retry_interval",
	"prune": "prune", "force": "force", "disable_health_check": "disable_health_check", "disable-health-check": "disable_health_check",
}

// parseKustomization parses "name=apps path=./apps depends_on=infra prune=true".
func parseKustomization(v string) (*kustomizationSpec, error) {
	k := &kustomizationSpec{}
	for _, pair := range strings.Fields(strings.ReplaceAll(v, "\x00", " ")) {
		key, val, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, usagef("--kustomization %q is not key=value: write name=NAME path=PATH ...", pair)
		}
		canon, known := kustomizationKeys[key]
		if !known {
			return nil, usagef("--kustomization has an unknown key %q: use name, path, depends_on, timeout, sync_interval, retry_interval, prune, force or disable_health_check", key)
		}
		k.Set = append(k.Set, canon)
		switch canon {
		case "name":
			k.Name = val
		case "path":
			k.Def.Path = val
		case "depends_on":
			k.Def.DependsOn = splitList(val)
			if k.Def.DependsOn == nil {
				k.Def.DependsOn = []string{}
			}
		case "timeout", "sync_interval", "retry_interval":
			n, err := seconds("kustomization "+key, val)
			if err != nil {
				return nil, err
			}
			switch canon {
			case "timeout":
				k.Def.TimeoutInSeconds = &n
			case "sync_interval":
				k.Def.SyncIntervalInSeconds = &n
			default:
				k.Def.RetryIntervalInSeconds = &n
			}
		case "prune", "force", "disable_health_check":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, usagef("--kustomization %s=%q: use true or false", key, val)
			}
			switch canon {
			case "prune":
				k.Def.Prune = b
			case "force":
				k.Def.Force = b
			default:
				wait := !b
				k.Def.Wait = &wait
			}
		}
	}
	if k.Name == "" {
		return nil, usagef("--kustomization needs name=NAME")
	}
	return k, nil
}

// splitList reads a,b or ["a","b"] or [a, b].
func splitList(v string) []string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") {
		var l []string
		if json.Unmarshal([]byte(v), &l) == nil {
			return l
		}
		v = strings.Trim(v, "[]")
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.Trim(strings.TrimSpace(s), `"'`); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// kustomizationJSON renders a definition with only the keys that were set
// (update) or all of them (create).
func kustomizationJSON(k *kustomizationSpec, onlySet bool) map[string]any {
	set := func(key string) bool { return !onlySet || slices.Contains(k.Set, key) }
	out := map[string]any{}
	if set("path") {
		out["path"] = k.Def.Path
	}
	if set("depends_on") {
		out["dependsOn"] = emptyIfNil(k.Def.DependsOn)
	}
	if set("timeout") && k.Def.TimeoutInSeconds != nil {
		out["timeoutInSeconds"] = *k.Def.TimeoutInSeconds
	}
	if set("sync_interval") && k.Def.SyncIntervalInSeconds != nil {
		out["syncIntervalInSeconds"] = *k.Def.SyncIntervalInSeconds
	}
	if set("retry_interval") && k.Def.RetryIntervalInSeconds != nil {
		out["retryIntervalInSeconds"] = *k.Def.RetryIntervalInSeconds
	}
	if set("prune") {
		out["prune"] = k.Def.Prune
	}
	if set("force") {
		out["force"] = k.Def.Force
	}
	if set("disable_health_check") {
		out["wait"] = k.Def.Wait == nil || *k.Def.Wait
	}
	return out
}

func emptyIfNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

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
	UseWorkloadIdentity                     bool
	ServiceAccountName                      string
	TLSClientCert, TLSPrivateKey, TLSCACert string
	Kustomizations                          []string
	WaitForReconciliation                   bool
	ReconciliationWaitDuration              string
	changed                                 func(name string) bool
}

var sshURL = regexp.MustCompile(`^(ssh://|[A-Za-z0-9._~-]+@[^/:]+:)`)

// readFile reads a flag's file; the error names the flag, never the content.
func readFile(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--%s: cannot read %s: %v", flag, path, unwrapPathError(err))
	}
	return b, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// protectedSettings collects the secret flags, base64-encoded as ARM wants.
// Values never leave this map except in the request body.
func (f *sourceFlags) protectedSettings() (map[string]string, error) {
	p := map[string]string{}
	if f.SSHPrivateKey != "" && f.SSHPrivateKeyFile != "" {
		return nil, usagef("give --ssh-private-key or --ssh-private-key-file, not both")
	}
	if f.SSHPrivateKeyFile != "" {
		b, err := readFile("ssh-private-key-file", f.SSHPrivateKeyFile)
		if err != nil {
			return nil, err
		}
		p["sshPrivateKey"] = b64(b)
	}
	if f.SSHPrivateKey != "" {
		// az takes the key already base64-encoded.
		if _, err := base64.StdEncoding.DecodeString(f.SSHPrivateKey); err != nil {
			return nil, usagef("--ssh-private-key must be the base64 of the PEM key; use --ssh-private-key-file for a key file")
		}
		p["sshPrivateKey"] = f.SSHPrivateKey
	}
	plain := map[string]string{
		"httpsKey": f.HTTPSKey, "bucketSecretKey": f.SecretKey, "accountKey": f.AccountKey, "sasToken": f.SASToken,
		"clientSecret": f.SPClientSecret, "clientCertificatePassword": f.SPClientCertPassword,
	}
	for k, v := range plain {
		if v != "" {
			p[k] = b64([]byte(v))
		}
	}
	files := map[string][2]string{
		"clientCertificate":    {"sp-client-cert", f.SPClientCert},
		"tlsClientCertificate": {"tls-client-certificate", f.TLSClientCert},
		"tlsPrivateKey":        {"tls-private-key", f.TLSPrivateKey},
		"tlsCaCertificate":     {"tls-ca-certificate", f.TLSCACert},
	}
	for k, fv := range files {
		if fv[1] == "" {
			continue
		}
		b, err := readFile(fv[0], fv[1])
		if err != nil {
			return nil, err
		}
		p[k] = b64(b)
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

// createBody builds the PUT body of flux create.
func (f *sourceFlags) createBody(name string) (map[string]any, error) {
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
	props := map[string]any{
		"scope":      f.Scope,
		"namespace":  f.Namespace,
		"sourceKind": string(kind),
		"suspend":    f.Suspend,
	}
	interval, timeout := int64(600), int64(600)
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
	switch kind {
	case v1alpha1.SourceKindGitRepository:
		git, err := f.gitBlock(interval, timeout, protected)
		if err != nil {
			return nil, err
		}
		props["gitRepository"] = git
	case v1alpha1.SourceKindBucket:
		if f.BucketName == "" {
			return nil, usagef("--kind bucket needs --bucket-name")
		}
		b := map[string]any{"url": f.URL, "bucketName": f.BucketName, "insecure": f.BucketInsecure,
			"syncIntervalInSeconds": interval, "timeoutInSeconds": timeout}
		if f.AccessKey != "" {
			b["accessKey"] = f.AccessKey
		}
		if f.LocalAuthRef != "" {
			b["localAuthRef"] = f.LocalAuthRef
		}
		props["bucket"] = b
	case v1alpha1.SourceKindAzureBlob:
		if f.ContainerName == "" {
			return nil, usagef("--kind azblob needs --container-name")
		}
		b := map[string]any{"url": f.URL, "containerName": f.ContainerName, "syncIntervalInSeconds": interval, "timeoutInSeconds": timeout}
		if f.SPClientID != "" || f.SPTenantID != "" {
			b["servicePrincipal"] = map[string]any{"clientId": f.SPClientID, "tenantId": f.SPTenantID, "clientCertificateSendChain": f.SPClientCertSendChain}
		}
		if f.MIClientID != "" {
			b["managedIdentity"] = map[string]any{"clientId": f.MIClientID}
		}
		if f.LocalAuthRef != "" {
			b["localAuthRef"] = f.LocalAuthRef
		}
		props["azureBlob"] = b
	case v1alpha1.SourceKindOCIRepository:
		o := map[string]any{"url": f.URL, "syncIntervalInSeconds": interval, "timeoutInSeconds": timeout,
			"insecure": f.BucketInsecure, "useWorkloadIdentity": f.UseWorkloadIdentity}
		ref := map[string]any{}
		for k, v := range map[string]string{"tag": f.OCITag, "semver": f.OCISemver, "digest": f.OCIDigest} {
			if v != "" {
				ref[k] = v
			}
		}
		if len(ref) > 0 {
			o["repositoryRef"] = ref
		}
		if f.LayerMediaType != "" || f.LayerOperation != "" {
			o["layerSelector"] = map[string]any{"mediaType": f.LayerMediaType, "operation": f.LayerOperation}
		}
		if f.ServiceAccountName != "" {
			o["serviceAccountName"] = f.ServiceAccountName
		}
		if f.TLSClientCert != "" || f.TLSPrivateKey != "" || f.TLSCACert != "" {
			o["tlsConfig"] = map[string]any{}
		}
		if f.LocalAuthRef != "" {
			o["localAuthRef"] = f.LocalAuthRef
		}
		props["ociRepository"] = o
	}
	ks := map[string]any{}
	if len(f.Kustomizations) == 0 {
		// As az does.
		f.Kustomizations = []string{"name=kustomization-1"}
	}
	for _, v := range f.Kustomizations {
		k, err := parseKustomization(v)
		if err != nil {
			return nil, err
		}
		if _, dup := ks[k.Name]; dup {
			return nil, usagef("--kustomization name=%s is given twice", k.Name)
		}
		ks[k.Name] = kustomizationJSON(k, false)
	}
	props["kustomizations"] = ks
	if f.WaitForReconciliation {
		props["waitForReconciliation"] = true
	}
	if f.ReconciliationWaitDuration != "" {
		n, err := seconds("reconciliation-wait-duration", f.ReconciliationWaitDuration)
		if err != nil {
			return nil, err
		}
		props["reconciliationWaitDuration"] = isoDuration(n)
	}
	if len(protected) > 0 {
		props["configurationProtectedSettings"] = protected
	}
	if err := validateProps(name, props); err != nil {
		return nil, err
	}
	return map[string]any{"properties": props}, nil
}

func (f *sourceFlags) gitBlock(interval, timeout int64, protected map[string]string) (map[string]any, error) {
	ssh := sshURL.MatchString(f.URL)
	if !ssh && protected["sshPrivateKey"] != "" {
		return nil, usagef("--ssh-private-key applies to SSH URLs only: use an ssh:// or git@host:path URL, or drop the key")
	}
	if ssh && (f.HTTPSUser != "" || f.HTTPSKey != "" || f.HTTPSCACert != "" || f.HTTPSCACertFile != "") {
		return nil, usagef("--https-user, --https-key and --https-ca-cert apply to https URLs only: use an https:// URL, or drop them")
	}
	if !ssh && (f.KnownHosts != "" || f.KnownHostsFile != "") {
		return nil, usagef("--known-hosts applies to SSH URLs only: use an ssh:// or git@host:path URL, or drop it")
	}
	if f.Branch == "" && f.Tag == "" && f.Semver == "" && f.Commit == "" {
		return nil, usagef("give one of --branch, --tag, --semver or --commit")
	}
	ref := map[string]any{}
	for k, v := range map[string]string{"branch": f.Branch, "tag": f.Tag, "semver": f.Semver, "commit": f.Commit} {
		if v != "" {
			ref[k] = v
		}
	}
	git := map[string]any{"url": f.URL, "repositoryRef": ref, "syncIntervalInSeconds": interval, "timeoutInSeconds": timeout}
	if f.HTTPSUser != "" {
		git["httpsUser"] = f.HTTPSUser
	}
	if f.KnownHosts != "" && f.KnownHostsFile != "" {
		return nil, usagef("give --known-hosts or --known-hosts-file, not both")
	}
	if f.KnownHosts != "" {
		git["sshKnownHosts"] = f.KnownHosts
	}
	if f.KnownHostsFile != "" {
		b, err := readFile("known-hosts-file", f.KnownHostsFile)
		if err != nil {
			return nil, err
		}
		git["sshKnownHosts"] = b64(b)
	}
	if f.HTTPSCACert != "" && f.HTTPSCACertFile != "" {
		return nil, usagef("give --https-ca-cert or --https-ca-cert-file, not both")
	}
	if f.HTTPSCACert != "" {
		git["httpsCACert"] = f.HTTPSCACert
	}
	if f.HTTPSCACertFile != "" {
		b, err := readFile("https-ca-cert-file", f.HTTPSCACertFile)
		if err != nil {
			return nil, err
		}
		git["httpsCACert"] = b64(b)
	}
	if f.LocalAuthRef != "" {
		git["localAuthRef"] = f.LocalAuthRef
	}
	if f.Provider != "" {
		git["provider"] = f.Provider
	}
	return git, nil
}

func isoDuration(s int64) string {
	out := "PT"
	if h := s / 3600; h > 0 {
		out += fmt.Sprintf("%dH", h)
	}
	if m := s % 3600 / 60; m > 0 {
		out += fmt.Sprintf("%dM", m)
	}
	if sec := s % 60; sec > 0 || out == "PT" {
		out += fmt.Sprintf("%dS", sec)
	}
	return out
}

// validateProps runs the CRD's rules on the body before it is sent.
func validateProps(name string, props map[string]any) error {
	clean := map[string]any{}
	for k, v := range props {
		if k != "namespace" && k != "configurationProtectedSettings" {
			clean[k] = v
		}
	}
	raw, err := json.Marshal(clean)
	if err != nil {
		return err
	}
	var spec v1alpha1.FluxConfigSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return usagef("%v", err)
	}
	if err := validation.Validate(name, &spec); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// updateBody builds the PATCH body of flux update from the flags given.
func (f *sourceFlags) updateBody(kind v1alpha1.SourceKindType) (map[string]any, error) {
	if err := f.validateRefs(); err != nil {
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
	blockName := map[v1alpha1.SourceKindType]string{
		v1alpha1.SourceKindGitRepository: "gitRepository", v1alpha1.SourceKindBucket: "bucket",
		v1alpha1.SourceKindAzureBlob: "azureBlob", v1alpha1.SourceKindOCIRepository: "ociRepository",
	}[kind]
	if kind == v1alpha1.SourceKindGitRepository {
		if f.Branch != "" || f.Tag != "" || f.Semver != "" || f.Commit != "" {
			// A new ref replaces the old one whole.
			block["repositoryRef"] = map[string]any{"branch": nilIfEmpty(f.Branch), "tag": nilIfEmpty(f.Tag),
				"semver": nilIfEmpty(f.Semver), "commit": nilIfEmpty(f.Commit)}
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
				return nil, err
			}
			block["sshKnownHosts"] = b64(b)
		}
		if f.KnownHosts != "" {
			block["sshKnownHosts"] = f.KnownHosts
		}
	}
	if len(block) > 0 {
		props[blockName] = block
	}
	if len(protected) > 0 {
		props["configurationProtectedSettings"] = protected
	}
	if len(props) == 0 {
		return nil, usagef("nothing to update: give at least one flag to change, e.g. --interval 5m or --suspend")
	}
	return map[string]any{"properties": props}, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
