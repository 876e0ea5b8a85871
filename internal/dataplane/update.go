package dataplane

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/validation"
)

// nextConfig decides the record that a PUT or PATCH of desired state d
// writes over old (nil for a new configuration), by the update rules of ARM
// and the CRD: a configuration being deleted cannot change, and scope and
// namespace are immutable. The generation increases; protected settings,
// the reported status and the creation data carry over. A refused update is
// an errAPI; any other error is the data plane's own.
//
// sourceMoved reports that the source is at another endpoint (kind, scheme
// and host) than before. Protected settings are credentials for an
// endpoint: when it moves and the request brings none, the caller drops
// the stored ones (and the agent deletes the cluster's copy), so that a
// PATCH of the URL alone cannot send a token to a new host.
//
// by is the caller (an application: service principals are the hub's only
// identities), recorded in systemData.
func nextConfig(old *store.Config, clusterID, name string, d *agentapi.Properties, now time.Time, by string) (cfg *store.Config, sourceMoved bool, err error) {
	cfg = &store.Config{ClusterID: clusterID, Name: name, SystemData: store.SystemData{
		CreatedBy: by, CreatedByType: "Application", CreatedAt: now,
		LastModifiedBy: by, LastModifiedByType: "Application", LastModifiedAt: now}}
	if old != nil {
		if old.Deleting {
			return nil, false, errAPI{&apiError{http.StatusConflict, "Conflict",
				"The configuration is being deleted: wait until it is gone, or delete it with forceDelete=true, then create it again."}}
		}
		var prev agentapi.Properties
		if err := json.Unmarshal(old.Properties, &prev); err != nil {
			return nil, false, fmt.Errorf("failed to decode the stored properties of %s: %w", name, err)
		}
		if err := validation.ValidateUpdate(&prev.FluxConfigSpec, &d.FluxConfigSpec); err != nil {
			return nil, false, errAPI{invalidParameter("properties.scope", validation.MsgScopeImmutable)}
		}
		if prev.Namespace != d.Namespace {
			return nil, false, errAPI{invalidParameter("properties.namespace", "namespace cannot be changed after creation: delete the configuration and create it again")}
		}
		sourceMoved = sourceEndpoint(&prev.FluxConfigSpec) != sourceEndpoint(&d.FluxConfigSpec)
		cfg.Generation = old.Generation
		cfg.Protected = old.Protected
		cfg.Status = old.Status
		cfg.History = old.History
		cfg.ReconcileRequestedAt = old.ReconcileRequestedAt
		cfg.SystemData.CreatedAt = old.SystemData.CreatedAt
		cfg.SystemData.CreatedBy = old.SystemData.CreatedBy
		cfg.SystemData.CreatedByType = old.SystemData.CreatedByType
	}
	cfg.Generation++
	if cfg.Properties, err = json.Marshal(d); err != nil {
		return nil, false, err
	}
	return cfg, sourceMoved, nil
}

// sourceURL is the URL a spec reads from, normalized (scp-like Git URLs as
// ssh://, a bare bucket host as https://); nil when it does not parse.
func sourceURL(spec *v1alpha1.FluxConfigSpec) (string, *url.URL) {
	raw := ""
	switch {
	case spec.GitRepository != nil:
		raw = spec.GitRepository.URL
		if user, host, path, ok := v1alpha1.SplitSCPGitURL(raw); ok {
			raw = "ssh://" + user + "@" + host + "/" + path
		}
	case spec.Bucket != nil:
		raw = spec.Bucket.URL
		if !strings.Contains(raw, "://") {
			raw = "https://" + raw // a bare host[:port]
		}
	case spec.AzureBlob != nil:
		raw = spec.AzureBlob.URL
	case spec.OCIRepository != nil:
		raw = spec.OCIRepository.URL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw, nil
	}
	return raw, u
}

// sourceEndpoint is the source kind, scheme and host a spec reads from
// (lowercased: hosts are case-insensitive); a URL that does not parse is
// its own endpoint.
func sourceEndpoint(spec *v1alpha1.FluxConfigSpec) string {
	raw, u := sourceURL(spec)
	if u == nil {
		return string(spec.SourceKind) + " " + raw
	}
	return string(spec.SourceKind) + " " + strings.ToLower(u.Scheme+"://"+u.Host)
}

// clusterQuota refuses a new cluster when its subscription has
// MaxClustersPerSubscription already, as ARM's quotas do, so that the
// store cannot be filled.
func (s *Server) clusterQuota(tx store.Tx, ref clusterRef) error {
	n, err := tx.CountClusters(ref.Subscription)
	if err != nil {
		return err
	}
	if n >= s.opts.MaxClustersPerSubscription {
		return errAPI{&apiError{http.StatusConflict, "QuotaExceeded", fmt.Sprintf(
			"The subscription has %d clusters, its quota (--max-clusters-per-subscription): delete one first.", n)}}
	}
	return nil
}

// configQuota refuses a new configuration when its cluster has
// MaxConfigsPerCluster already.
func (s *Server) configQuota(tx store.Tx, ref clusterRef) error {
	configs, err := tx.Configs(ref.ID())
	if err != nil {
		return err
	}
	if len(configs) >= s.opts.MaxConfigsPerCluster {
		return errAPI{&apiError{http.StatusConflict, "QuotaExceeded", fmt.Sprintf(
			"The cluster has %d fluxConfigurations, its quota (--max-configurations-per-cluster): delete one first.", len(configs))}}
	}
	return nil
}

// checkSourceHost refuses a source whose host is not in
// SourceHostAllowlist, when one is set. Flux fetches from any address it is
// given, internal ones included; an allowlist keeps configurations to the
// hosts an administrator expects.
func (s *Server) checkSourceHost(d *agentapi.Properties) *apiError {
	if len(s.opts.SourceHostAllowlist) == 0 {
		return nil
	}
	host := sourceHost(&d.FluxConfigSpec)
	for _, pattern := range s.opts.SourceHostAllowlist {
		if ok, _ := path.Match(strings.ToLower(pattern), host); ok {
			return nil
		}
	}
	return invalidParameter("properties", fmt.Sprintf("the source host %q is not in this data plane's allowlist (--source-host-allowlist %s)",
		host, strings.Join(s.opts.SourceHostAllowlist, ",")))
}

// sourceHost is the lowercased host (without port) a spec reads from.
func sourceHost(spec *v1alpha1.FluxConfigSpec) string {
	raw, u := sourceURL(spec)
	if u == nil {
		return strings.ToLower(raw)
	}
	return strings.ToLower(u.Hostname())
}
