package dataplane

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
	"github.com/arcgitops/arcgitops/internal/validation"
	"github.com/google/uuid"
)

var clusterAPIVersion = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

func checkAPIVersion(r *http.Request, allowed []string, pattern *regexp.Regexp) *apiError {
	v := r.URL.Query().Get("api-version")
	if v == "" {
		return &apiError{http.StatusBadRequest, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests."}
	}
	if (allowed != nil && slices.Contains(allowed, v)) || (pattern != nil && pattern.MatchString(v)) {
		return nil
	}
	supported := "a date such as 2024-11-01"
	if allowed != nil {
		supported = "'" + strings.Join(allowed, ", ") + "'"
	}
	return &apiError{http.StatusBadRequest, "InvalidApiVersionParameter",
		fmt.Sprintf("The api-version '%s' is invalid. The supported versions are %s.", v, supported)}
}

// ---- clusters ----

func renderCluster(c *store.Cluster, token string) map[string]any {
	props := map[string]any{"provisioningState": "Succeeded", "connectivityStatus": "Connecting"}
	if c.AgentConnectedAt != nil {
		// Azure's lastConnectivityTime is the agent's last heartbeat.
		props["connectivityStatus"], props["lastConnectivityTime"] = "Connected", cmp.Or(c.AgentSeenAt, c.AgentConnectedAt).UTC()
	}
	if token != "" {
		props["agentToken"] = token
	}
	t := arm.ConnectedClustersType
	if c.Type == "managedClusters" {
		t = arm.ManagedClustersType
	}
	out := map[string]any{"id": c.ID, "name": c.Name, "type": t, "properties": props}
	if c.Location != "" {
		out["location"] = c.Location
	}
	if len(c.Tags) > 0 {
		out["tags"] = c.Tags
	}
	return out
}

func (s *Server) putCluster(w http.ResponseWriter, r *http.Request, ref clusterRef) {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		writeError(w, e)
		return
	}
	var body struct {
		Location string `json:"location"`
		// Tags replace the cluster's when sent; an agent's re-registration
		// without them keeps them.
		Tags *map[string]string `json:"tags"`
	}
	if r.ContentLength != 0 {
		raw, e := readBody(r, s.opts.MaxBodyBytes)
		if e != nil {
			writeError(w, e)
			return
		}
		if err := checkDuplicateKeys(raw); err != nil {
			writeError(w, invalidContent(err.Error()))
			return
		}
		// Lenient: az sends identity, tags and agent certificates we do not use.
		if err := json.Unmarshal(raw, &body); err != nil {
			writeError(w, invalidContent(describeJSONError(err)))
			return
		}
	}
	var token string
	created := false
	var cluster *store.Cluster
	err := s.store.Update(func(tx store.Tx) error {
		c, err := tx.Cluster(ref.ID())
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := s.clusterQuota(tx, ref); err != nil {
				return err
			}
			if token, err = identity.RandomToken(); err != nil {
				return err
			}
			c = &store.Cluster{ID: ref.ID(), Subscription: ref.Subscription, ResourceGroup: ref.ResourceGroup,
				Type: ref.Type, Name: ref.Name, TokenHash: identity.HashSecret(token), CreatedAt: s.opts.Now().UTC()}
			created = true
		case err != nil:
			return err
		}
		if body.Location != "" {
			c.Location = body.Location
		}
		if body.Tags != nil {
			c.Tags = *body.Tags
		}
		cluster = c
		return tx.PutCluster(c)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	// A cluster created or changed is evaluated at once, deployments
	// included, as Azure Policy does.
	s.policy.enqueue(cluster.ID, true)
	writeJSON(w, putStatus(created), renderCluster(cluster, token))
}

func (s *Server) regenerateToken(w http.ResponseWriter, r *http.Request, ref clusterRef) {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		writeError(w, e)
		return
	}
	token, err := identity.RandomToken()
	if err != nil {
		s.fail(w, err)
		return
	}
	var cluster *store.Cluster
	err = s.store.Update(func(tx store.Tx) error {
		c, err := clusterOf(tx, ref)
		if err != nil {
			return err
		}
		c.PreviousTokenHash, c.PreviousTokenExpiresAt = "", nil
		if s.opts.TokenGracePeriod > 0 {
			expires := s.opts.Now().UTC().Add(s.opts.TokenGracePeriod)
			c.PreviousTokenHash, c.PreviousTokenExpiresAt = c.TokenHash, &expires
		}
		c.TokenHash = identity.HashSecret(token)
		cluster = c
		return tx.PutCluster(c)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, renderCluster(cluster, token))
}

// clusterOf reads the cluster of ref; a missing one is an errAPI saying
// how to register it.
func clusterOf(tx store.Tx, ref clusterRef) (*store.Cluster, error) {
	c, err := tx.Cluster(ref.ID())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errAPI{clusterNotFound(ref)}
	}
	return c, err
}

func clusterNotFound(ref clusterRef) *apiError {
	return &apiError{http.StatusNotFound, "ResourceNotFound",
		fmt.Sprintf("The Resource '%s/%s' under resource group '%s' was not found: register it with connectedk8s connect first.",
			ref.ResourceType(), ref.Name, ref.ResourceGroup)}
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request, ref clusterRef) {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		writeError(w, e)
		return
	}
	var c *store.Cluster
	err := s.store.View(func(tx store.Tx) (err error) { c, err = clusterOf(tx, ref); return err })
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, renderCluster(c, ""))
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request, ref clusterRef) {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		writeError(w, e)
		return
	}
	var all []store.Cluster
	if err := s.store.View(func(tx store.Tx) (err error) { all, err = tx.Clusters(); return err }); err != nil {
		s.fail(w, err)
		return
	}
	value := []map[string]any{}
	who := callerOf(r)
	for i := range all {
		c := &all[i]
		if strings.EqualFold(c.Subscription, ref.Subscription) && strings.EqualFold(c.ResourceGroup, ref.ResourceGroup) && c.Type == ref.Type &&
			who.can(ref.ResourceType()+"/read", c.ID) {
			value = append(value, renderCluster(c, ""))
		}
	}
	sort.Slice(value, func(i, j int) bool { return value[i]["name"].(string) < value[j]["name"].(string) })
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

func (s *Server) deleteCluster(w http.ResponseWriter, r *http.Request, ref clusterRef) {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		writeError(w, e)
		return
	}
	err := s.store.Update(func(tx store.Tx) error { return tx.DeleteCluster(ref.ID()) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
	case err != nil:
		s.fail(w, err)
	default:
		s.notify.changed(store.Key(ref.ID()))
		s.policy.enqueue(ref.ID(), false)
		w.WriteHeader(http.StatusOK)
	}
}

// ---- fluxConfigurations ----

// armProperties are the ARM properties of a fluxConfiguration: the
// FluxConfig spec, the namespace, the write-only protected settings, and
// the read-only fields, which a client may send back and which are ignored.
type armProperties struct {
	v1alpha1.FluxConfigSpec
	Namespace                      string            `json:"namespace,omitempty"`
	ConfigurationProtectedSettings map[string]string `json:"configurationProtectedSettings,omitempty"`

	Statuses             json.RawMessage `json:"statuses,omitempty"`
	ComplianceState      json.RawMessage `json:"complianceState,omitempty"`
	ProvisioningState    json.RawMessage `json:"provisioningState,omitempty"`
	ErrorMessage         json.RawMessage `json:"errorMessage,omitempty"`
	RepositoryPublicKey  json.RawMessage `json:"repositoryPublicKey,omitempty"`
	SSHKey               json.RawMessage `json:"sshKey,omitempty"`
	SourceSyncedCommitID json.RawMessage `json:"sourceSyncedCommitId,omitempty"`
	SourceUpdatedAt      json.RawMessage `json:"sourceUpdatedAt,omitempty"`
	StatusUpdatedAt      json.RawMessage `json:"statusUpdatedAt,omitempty"`
}

// armBody is a PUT or PATCH body; id, name, type and systemData of a GET
// body are accepted and ignored.
type armBody struct {
	Properties json.RawMessage `json:"properties"`
	ID         json.RawMessage `json:"id,omitempty"`
	Name       json.RawMessage `json:"name,omitempty"`
	Type       json.RawMessage `json:"type,omitempty"`
	SystemData json.RawMessage `json:"systemData,omitempty"`
	// Location is what generic clients send for any resource (az resource
	// create sends its resource group's); a fluxConfiguration has none of
	// its own, and ignores it as Azure does.
	Location json.RawMessage `json:"location,omitempty"`
}

// armNamespace is what ARM takes as a namespace: "a maximum of 253 lower
// case alphanumeric characters, hyphen and period". A namespace the
// cluster cannot have (over 63 characters, or with a period) is taken as
// ARM takes it, and fails in the cluster with the API server's reason.
var armNamespace = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// parseProperties decodes and validates properties for config name. It
// returns the defaulted desired state and the protected settings (nil when
// the body has none).
// sourceBlocks are the properties of each source kind.
var sourceBlocks = map[v1alpha1.SourceKindType]string{
	v1alpha1.SourceKindGitRepository: "gitRepository", v1alpha1.SourceKindBucket: "bucket",
	v1alpha1.SourceKindAzureBlob: "azureBlob", v1alpha1.SourceKindOCIRepository: "ociRepository",
}

// dropOtherSources: a PATCH that changes sourceKind leaves only the new
// kind's block (az sends the others empty, which a merge would keep).
func dropOtherSources(old, merged json.RawMessage) json.RawMessage {
	var before, after map[string]json.RawMessage
	if json.Unmarshal(old, &before) != nil || json.Unmarshal(merged, &after) != nil {
		return merged
	}
	var was, now v1alpha1.SourceKindType
	_ = json.Unmarshal(before["sourceKind"], &was)
	_ = json.Unmarshal(after["sourceKind"], &now)
	if strings.EqualFold(string(was), string(now)) {
		return merged
	}
	for kind, block := range sourceBlocks {
		if !strings.EqualFold(string(kind), string(now)) {
			delete(after, block)
		}
	}
	out, err := json.Marshal(after)
	if err != nil {
		return merged
	}
	return out
}

// defaultBranch is the branch of a Git source given without a reference.
const defaultBranch = "master"

// refKeys are the keys of each source's repositoryRef.
var refKeys = map[string][]string{
	"gitRepository": {"branch", "tag", "semver", "commit"},
	"ociRepository": {"tag", "semver", "digest"},
}

// wholeRefs makes a PATCH's repositoryRef replace the stored one whole
// rather than merge into it: a reference is one choice, and {"branch": "x"}
// merged into {"tag": "v1"} would name both.
func wholeRefs(patch map[string]json.RawMessage) {
	for source, keys := range refKeys {
		var block map[string]json.RawMessage
		if json.Unmarshal(patch[source], &block) != nil || block == nil {
			continue
		}
		var ref map[string]json.RawMessage
		if json.Unmarshal(block["repositoryRef"], &ref) != nil || ref == nil {
			continue
		}
		for _, k := range keys {
			if _, ok := ref[k]; !ok {
				ref[k] = json.RawMessage("null")
			}
		}
		block["repositoryRef"], _ = json.Marshal(ref)
		patch[source], _ = json.Marshal(block)
	}
}

func parseProperties(name string, raw json.RawMessage) (*agentapi.Properties, map[string]string, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, invalidContent("The request body must have a properties object.")
	}
	raw, typed, e := liftTypedSecrets(raw)
	if e != nil {
		return nil, nil, e
	}
	var p armProperties
	if e := decodeStrict(raw, &p); e != nil {
		return nil, nil, e
	}
	if p.ConfigurationProtectedSettingsRef != nil {
		return nil, nil, invalidContent(`The request body has an unknown field "configurationProtectedSettingsRef": send the values in configurationProtectedSettings.`)
	}
	d := &agentapi.Properties{FluxConfigSpec: p.FluxConfigSpec, Namespace: p.Namespace}
	canonicalEnums(&d.FluxConfigSpec)
	if d.Namespace == "" {
		d.Namespace = "default"
	}
	if !armNamespace.MatchString(d.Namespace) {
		return nil, nil, invalidParameter("properties.namespace", "must be 1-253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (a Kubernetes namespace is 1-63 of them, without '.')")
	}
	if v1alpha1.IsSystemNamespace(d.Namespace) {
		return nil, nil, invalidParameter("properties.namespace", "kube-* namespaces belong to Kubernetes itself: choose another namespace")
	}
	if g := d.GitRepository; g != nil && (g.RepositoryRef == nil || *g.RepositoryRef == (v1alpha1.RepositoryRefDefinition{})) {
		// Azure's documented default (az sends no repositoryRef without
		// --branch, --tag, --semver or --commit; Azure's built-in policy
		// definitions send one whose members are all null).
		g.RepositoryRef = &v1alpha1.RepositoryRefDefinition{Branch: defaultBranch}
	}
	if err := validation.Validate(name, &d.FluxConfigSpec); err != nil {
		return nil, nil, invalidParameter("properties", err.Error())
	}
	validation.Default(&d.FluxConfigSpec)
	for k, v := range p.ConfigurationProtectedSettings {
		if !slices.Contains(v1alpha1.ProtectedSettingKeys, k) {
			return nil, nil, invalidParameter("properties.configurationProtectedSettings",
				fmt.Sprintf("%q is not a protected setting: use %s", k, strings.Join(v1alpha1.ProtectedSettingKeys, ", ")))
		}
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			return nil, nil, invalidParameter("properties.configurationProtectedSettings."+k, "must be base64-encoded")
		}
	}
	if _, ok := p.ConfigurationProtectedSettings[v1alpha1.ProtectedHTTPSKey]; ok && d.GitRepository != nil && strings.HasPrefix(d.GitRepository.URL, "http://") {
		return nil, nil, invalidParameter("properties.configurationProtectedSettings.httpsKey",
			"http:// would carry the token in clear: use an https:// URL")
	}
	protected, e := mergeProtected(p.ConfigurationProtectedSettings, typed)
	if e != nil {
		return nil, nil, e
	}
	return d, protected, nil
}

func invalidParameter(field, msg string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameter", fmt.Sprintf("%s: %s", field, msg)}
}

func configNotFound(ref clusterRef, name string) *apiError {
	return &apiError{http.StatusNotFound, "ResourceNotFound",
		fmt.Sprintf("The Resource '%s/%s' under resource group '%s' was not found.", arm.FluxConfigurationsType, name, ref.ResourceGroup)}
}

// errAPI carries an apiError out of a store transaction.
type errAPI struct{ e *apiError }

func (e errAPI) Error() string { return e.e.Error() }

func (s *Server) fail(w http.ResponseWriter, err error) {
	var ae errAPI
	if errors.As(err, &ae) {
		writeError(w, ae.e)
		return
	}
	var denied *policyDenied
	if errors.As(err, &denied) {
		writeJSON(w, http.StatusForbidden, arm.ErrorResponse{Error: denied.detail})
		return
	}
	s.opts.Log.Error(err, "Request failed")
	writeError(w, internalError())
}

// readARMBody checks the api-version and decodes a PUT or PATCH body.
func (s *Server) readARMBody(r *http.Request) (*armBody, *apiError) {
	if e := checkAPIVersion(r, arm.FluxConfigAPIVersions, nil); e != nil {
		return nil, e
	}
	var body armBody
	if e := s.decodeBody(r, &body); e != nil {
		return nil, e
	}
	return &body, nil
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, ref clusterRef, name string) {
	body, e := s.readARMBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	raw, e := fromOldShape(r, body.Properties)
	if e != nil {
		writeError(w, e)
		return
	}
	d, protected, e := parseProperties(name, raw)
	if e != nil {
		writeError(w, e)
		return
	}
	s.write(w, r, ref, name, func(old *store.Config) (*agentapi.Properties, map[string]string, bool, *apiError) {
		return d, protected, protected != nil, nil
	})
}

func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request, ref clusterRef, name string) {
	body, e := s.readARMBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	raw, e := fromOldShape(r, body.Properties)
	if e != nil {
		writeError(w, e)
		return
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(raw, &patch); err != nil || patch == nil {
		writeError(w, invalidContent("The request body must have a properties object."))
		return
	}
	var protected map[string]string
	protectedSet := false
	if ps, ok := patch["configurationProtectedSettings"]; ok {
		protectedSet = true
		if err := json.Unmarshal(ps, &protected); err != nil {
			writeError(w, invalidContent("properties.configurationProtectedSettings must be an object of strings."))
			return
		}
		delete(patch, "configurationProtectedSettings")
	}
	wholeRefs(patch)
	patchJSON, _ := json.Marshal(patch)
	s.write(w, r, ref, name, func(old *store.Config) (*agentapi.Properties, map[string]string, bool, *apiError) {
		if old == nil {
			return nil, nil, false, configNotFound(ref, name)
		}
		merged, err := jsonpatch.MergePatch(old.Properties, patchJSON)
		if err != nil {
			return nil, nil, false, invalidContent("The merge patch could not be applied: " + err.Error())
		}
		merged = dropOtherSources(old.Properties, merged)
		if protected != nil {
			// Validated with the properties; re-encoded below.
			withProtected := map[string]json.RawMessage{}
			_ = json.Unmarshal(merged, &withProtected)
			withProtected["configurationProtectedSettings"], _ = json.Marshal(protected)
			merged, _ = json.Marshal(withProtected)
		}
		d, p, e := parseProperties(name, merged)
		// Typed secrets (x-ms-secret properties) in a PATCH set protected
		// settings as configurationProtectedSettings does.
		return d, p, protectedSet || len(p) > 0, e
	})
}

// configBuild sees the stored configuration (nil when new) and returns the
// new desired state, the protected settings and whether they replace the
// stored ones.
type configBuild func(old *store.Config) (*agentapi.Properties, map[string]string, bool, *apiError)

// commitConfig creates or updates a configuration in one transaction, as
// by (whom systemData names), checked by guard (nil: none), and wakes the
// cluster's agent and the policy engine.
func (s *Server) commitConfig(ref clusterRef, name, by string, guard deployGuard, build configBuild) (*store.Config, bool, error) {
	now := s.opts.Now().UTC()
	created := false
	var result *store.Config
	err := s.store.Update(func(tx store.Tx) error {
		if guard != nil {
			if err := guard(tx); err != nil {
				return err
			}
		}
		if _, err := clusterOf(tx, ref); err != nil {
			return err
		}
		old, err := tx.Config(ref.ID(), name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		d, protected, replaceProtected, e := build(old)
		if e != nil {
			return errAPI{e}
		}
		if err := s.policy.deny(tx, ref, name, d); err != nil {
			return err
		}
		if old == nil {
			if err := s.configQuota(tx, ref); err != nil {
				return err
			}
		}
		if e := s.checkSourceHost(d); e != nil {
			return errAPI{e}
		}

		cfg, moved, err := nextConfig(old, ref.ID(), name, d, now, by)
		if err != nil {
			return err
		}
		if moved && !replaceProtected {
			// Credentials stay with the endpoint they were given for.
			protected, replaceProtected = map[string]string{}, true
		}
		created = old == nil
		if replaceProtected {
			// The generation is unique and increasing: a fine version.
			version := cfg.Generation
			if protected == nil {
				protected = map[string]string{}
			}
			sealed, keyID, err := s.sealer.seal(protected, store.Key(ref.ID())+"/"+name)
			if err != nil {
				return err
			}
			cfg.Protected = &store.Protected{Version: version, Sealed: sealed, KeyID: keyID, CreatedAt: now}
		}
		if err := tx.PutConfig(cfg); err != nil {
			return err
		}
		if _, err := tx.BumpRevision(ref.ID()); err != nil {
			return err
		}
		result = cfg
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	s.notify.changed(store.Key(ref.ID()))
	s.policy.enqueue(ref.ID(), false)
	return result, created, nil
}

// write creates or updates a configuration and answers the request.
func (s *Server) write(w http.ResponseWriter, r *http.Request, ref clusterRef, name string, build configBuild) {
	result, created, err := s.commitConfig(ref, name, callerOf(r).name(), nil, build)
	if err != nil {
		s.fail(w, err)
		return
	}
	status := putStatus(created)
	kind := "put"
	if r.Method == http.MethodPatch {
		// ARM's PATCH of a fluxConfiguration: accepted, applied by the
		// cluster asynchronously.
		status, kind = http.StatusAccepted, "patch"
	}
	out, err := renderConfigFor(r, ref, result)
	if err != nil {
		s.fail(w, err)
		return
	}
	// The operation ends when the cluster reports on this generation.
	w.Header().Set("Azure-AsyncOperation", s.operationURL(r, fmt.Sprintf("%s-%d-%s", kind, result.Generation, uuid.NewString())))
	writeJSON(w, status, out)
}

// operationURL is the URL of operation opID of the configuration r is for.
func (s *Server) operationURL(r *http.Request, opID string) string {
	return s.baseURL(r) + r.URL.Path + "/operations/" + opID + "?api-version=" + url.QueryEscape(r.URL.Query().Get("api-version"))
}

// renderConfigFor is renderConfig in the shape of r's api-version.
func renderConfigFor(r *http.Request, ref clusterRef, cfg *store.Config) (map[string]any, error) {
	out, err := renderConfig(ref, cfg)
	if err == nil {
		toOldShape(r, out)
	}
	return out, err
}

// renderConfig returns a configuration in ARM's GET shape; protected
// settings are never part of it.
func renderConfig(ref clusterRef, cfg *store.Config) (map[string]any, error) {
	var props map[string]any
	if err := json.Unmarshal(cfg.Properties, &props); err != nil {
		return nil, err
	}
	if ks, ok := props["kustomizations"].(map[string]any); ok {
		for name, k := range ks {
			if km, ok := k.(map[string]any); ok {
				km["name"] = name
			}
		}
	}
	armShape(props)
	st := cfg.Status
	current := st != nil && st.Generation == cfg.Generation
	props["provisioningState"] = provisioningState(cfg, current)
	props["complianceState"] = string(v1alpha1.CompliancePending)
	props["statuses"] = []any{}
	props["errorMessage"] = cfg.Error
	props["repositoryPublicKey"] = ""
	props["sourceSyncedCommitId"] = ""
	if st != nil {
		if st.ComplianceState != "" {
			props["complianceState"] = st.ComplianceState
		}
		if len(st.Statuses) > 0 {
			props["statuses"] = st.Statuses
		}
		if cfg.Error == "" {
			props["errorMessage"] = st.ErrorMessage
		}
		props["repositoryPublicKey"] = st.RepositoryPublicKey
		if st.SSHKey != nil {
			props["sshKey"] = st.SSHKey
		}
		props["sourceSyncedCommitId"] = st.SourceSyncedCommitID
		if st.SourceUpdatedAt != nil {
			props["sourceUpdatedAt"] = st.SourceUpdatedAt.UTC().Format(time.RFC3339)
		}
		if st.StatusUpdatedAt != nil {
			props["statusUpdatedAt"] = st.StatusUpdatedAt.UTC().Format(time.RFC3339)
		}
	}
	return map[string]any{
		"id":         ref.ID() + "/providers/" + arm.FluxConfigurationsType + "/" + cfg.Name,
		"name":       cfg.Name,
		"type":       arm.FluxConfigurationsType,
		"systemData": cfg.SystemData,
		"properties": props,
	}, nil
}

func provisioningState(cfg *store.Config, current bool) string {
	switch {
	case cfg.Deleting:
		return string(v1alpha1.ProvisioningDeleting)
	case cfg.Error != "":
		return string(v1alpha1.ProvisioningFailed)
	case current && cfg.Status.ProvisioningState != "":
		return cfg.Status.ProvisioningState
	case cfg.Status == nil:
		return string(v1alpha1.ProvisioningCreating)
	default:
		return string(v1alpha1.ProvisioningUpdating)
	}
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, ref clusterRef, name string) {
	if e := checkAPIVersion(r, arm.FluxConfigAPIVersions, nil); e != nil {
		writeError(w, e)
		return
	}
	var cfg *store.Config
	err := s.store.View(func(tx store.Tx) (err error) { cfg, err = tx.Config(ref.ID(), name); return err })
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, configNotFound(ref, name))
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	out, err := renderConfigFor(r, ref, cfg)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listConfigs(w http.ResponseWriter, r *http.Request, ref clusterRef) {
	if e := checkAPIVersion(r, arm.FluxConfigAPIVersions, nil); e != nil {
		writeError(w, e)
		return
	}
	var configs []store.Config
	err := s.store.View(func(tx store.Tx) error {
		if _, err := clusterOf(tx, ref); err != nil {
			return err
		}
		var err error
		configs, err = tx.Configs(ref.ID())
		return err
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	who := callerOf(r)
	configs = slices.DeleteFunc(configs, func(c store.Config) bool { return !who.can(readConfigs, arm.FluxConfigID(ref.ID(), c.Name)) })
	sort.Slice(configs, func(i, j int) bool { return configs[i].Name < configs[j].Name })
	skip := r.URL.Query().Get("$skipToken")
	start := sort.Search(len(configs), func(i int) bool { return configs[i].Name > skip })
	if skip == "" {
		start = 0
	}
	end := min(start+s.opts.PageSize, len(configs))
	value := make([]map[string]any, 0, end-start)
	for i := start; i < end; i++ {
		out, err := renderConfigFor(r, ref, &configs[i])
		if err != nil {
			s.fail(w, err)
			return
		}
		value = append(value, out)
	}
	resp := map[string]any{"value": value}
	if end < len(configs) {
		q := url.Values{}
		q.Set("api-version", r.URL.Query().Get("api-version"))
		q.Set("$skipToken", configs[end-1].Name)
		resp["nextLink"] = s.baseURL(r) + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, resp)
}

// reconcileConfig asks the cluster to reconcile a configuration now, as
// `flux reconcile` does: the agent sets reconcile.fluxcd.io/requestedAt on
// its FluxConfig, and the controller on every Flux object it made, which
// their controllers then reconcile. Azure has no such action: POST
// .../fluxConfigurations/{name}/reconcile is this data plane's own. It
// changes no generation (the desired state is the same), so no operation
// tracks it: 202, and the configuration's statuses tell when it ran.
func (s *Server) reconcileConfig(w http.ResponseWriter, r *http.Request, ref clusterRef, name string) {
	if e := checkAPIVersion(r, arm.FluxConfigAPIVersions, nil); e != nil {
		writeError(w, e)
		return
	}
	at := s.opts.Now().UTC().Format(time.RFC3339Nano)
	err := s.updateDesired(ref, func(tx store.Tx) (bool, error) {
		cfg, err := tx.Config(ref.ID(), name)
		if errors.Is(err, store.ErrNotFound) {
			return false, errAPI{configNotFound(ref, name)}
		}
		if err != nil {
			return false, err
		}
		var props struct {
			Suspend bool `json:"suspend"`
		}
		if err := json.Unmarshal(cfg.Properties, &props); err != nil {
			return false, err
		}
		switch {
		case cfg.Deleting:
			return false, errAPI{&apiError{http.StatusConflict, "Conflict", "The configuration is being deleted: there is nothing to reconcile."}}
		case props.Suspend:
			return false, errAPI{&apiError{http.StatusConflict, "Conflict", "The configuration is suspended, and Flux does not reconcile suspended objects: resume it first (suspend=false)."}}
		}
		cfg.ReconcileRequestedAt = at
		return true, tx.PutConfig(cfg)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// getOperation is the status of an operation on a configuration, as ARM's
// operation status resource. Operations are not stored: the ID says what
// the operation was (delete, or the put or patch of a generation) and the
// configuration's state says how far it got. A deletion is InProgress until
// the cluster confirms it; a write until the cluster reports on its
// generation (or a later one), then Succeeded, or Failed with the
// cluster's message.
func (s *Server) getOperation(w http.ResponseWriter, r *http.Request, ref clusterRef, name, opID string) {
	if e := checkAPIVersion(r, arm.FluxConfigAPIVersions, nil); e != nil {
		writeError(w, e)
		return
	}
	id := arm.FluxConfigID(ref.ID(), name) + "/operations/" + opID
	kind, gen, ok := parseOperationID(opID)
	if !ok {
		writeError(w, &apiError{http.StatusNotFound, "OperationNotFound", fmt.Sprintf("The operation '%s' was not found.", id)})
		return
	}
	var cfg *store.Config
	err := s.store.View(func(tx store.Tx) (err error) { cfg, err = tx.Config(ref.ID(), name); return err })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, err)
		return
	}
	op := operationStatus(kind, gen, cfg)
	if op.Status == arm.OperationInProgress {
		w.Header().Set("Retry-After", "1")
	}
	op.ID, op.Name = id, opID
	writeJSON(w, http.StatusOK, op)
}

// parseOperationID reads "delete-<random>" or "put|patch-<generation>-<random>".
func parseOperationID(opID string) (kind string, gen int64, ok bool) {
	kind, rest, ok := strings.Cut(opID, "-")
	switch {
	case !ok:
		return "", 0, false
	case kind == "delete":
		return kind, 0, true
	case kind != "put" && kind != "patch":
		return "", 0, false
	}
	g, _, ok := strings.Cut(rest, "-")
	n, err := strconv.ParseInt(g, 10, 64)
	return kind, n, ok && err == nil && n > 0
}

// operationStatus decides an operation's status from the configuration now
// (nil: gone).
func operationStatus(kind string, gen int64, cfg *store.Config) arm.OperationStatus {
	op := arm.OperationStatus{Status: arm.OperationInProgress, Properties: map[string]any{}}
	switch {
	case kind == "delete" && cfg == nil:
		op.Status = arm.OperationSucceeded
	case kind == "delete" && !cfg.Deleting:
		// Written again after the DELETE: the deletion is off.
		op.Status = arm.OperationCanceled
	case kind == "delete":
	case cfg == nil || cfg.Deleting:
		op.Status = arm.OperationCanceled
		op.Error = &arm.ErrorDetail{Code: "ResourceDeleted", Message: "The configuration was deleted before the cluster reported on this change."}
	case cfg.Error != "":
		op.Status = arm.OperationFailed
		op.Error = &arm.ErrorDetail{Code: "ProvisioningFailed", Message: cfg.Error}
	case cfg.Status != nil && cfg.Status.Generation >= gen && cfg.Status.ProvisioningState == string(v1alpha1.ProvisioningFailed):
		op.Status = arm.OperationFailed
		op.Error = &arm.ErrorDetail{Code: "ProvisioningFailed", Message: cfg.Status.ErrorMessage}
	case cfg.Status != nil && cfg.Status.Generation >= gen:
		op.Status = arm.OperationSucceeded
	}
	return op
}

// baseURL is the scheme and host of the links the data plane hands out
// (nextLink, Location): the configured external URL, else the address the
// connection came in on. Never the Host header, which the client chooses.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.ExternalURL != "" {
		return strings.TrimSuffix(s.opts.ExternalURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return scheme + "://" + a.String()
	}
	return scheme + "://localhost" // a handler called outside net/http's server
}

func (s *Server) deleteConfig(w http.ResponseWriter, r *http.Request, ref clusterRef, name string) {
	if e := checkAPIVersion(r, arm.FluxConfigAPIVersions, nil); e != nil {
		writeError(w, e)
		return
	}
	force := strings.EqualFold(r.URL.Query().Get("forceDelete"), "true")
	found := false
	err := s.store.Update(func(tx store.Tx) error {
		cfg, err := tx.Config(ref.ID(), name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if force {
			err = tx.DeleteConfig(ref.ID(), name)
		} else {
			if cfg.Deleting {
				return nil
			}
			cfg.Deleting = true
			cfg.SystemData.LastModifiedAt = s.opts.Now().UTC()
			err = tx.PutConfig(cfg)
		}
		if err != nil {
			return err
		}
		_, err = tx.BumpRevision(ref.ID())
		return err
	})
	switch {
	case err != nil:
		s.fail(w, err)
	case !found:
		w.WriteHeader(http.StatusNoContent)
	case force:
		s.notify.changed(store.Key(ref.ID()))
		s.policy.enqueue(ref.ID(), false)
		w.WriteHeader(http.StatusOK)
	default:
		s.notify.changed(store.Key(ref.ID()))
		s.policy.enqueue(ref.ID(), false)
		// Asynchronous, as in ARM: GET shows Deleting until the cluster
		// confirms, and the operation is InProgress until then.
		op := s.operationURL(r, "delete-"+uuid.NewString())
		w.Header().Set("Azure-AsyncOperation", op)
		w.Header().Set("Location", op)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusAccepted)
	}
}
