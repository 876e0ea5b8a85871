// Package agentapi is the wire protocol between the data plane and the
// agents in the clusters, and the agent's client for it.
//
// Every path is under /agent/v1{clusterID}, where clusterID is the cluster's
// ARM resource ID; requests carry the cluster's agent token as a bearer
// token, and the data plane answers 403 for any cluster but the token's own.
//
//	GET  .../fluxConfigurations?wait=30s   desired state; If-None-Match -> 304;
//	                                       with wait, returns as soon as it changes
//	PUT  .../fluxConfigurations/{name}/status               report status
//	POST .../fluxConfigurations/{name}/protectedSettings/ack {"version": n}
//	POST .../fluxConfigurations/{name}/deleted              the cluster cleaned up
package agentapi

import (
	"encoding/json"
	"time"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// PathPrefix prefixes every agent path.
const PathPrefix = "/agent/v1"

// MaxDesiredStateBytes caps the desired state an agent reads: a data plane
// (or anything posing as one) cannot make the agent hold more.
const MaxDesiredStateBytes = 64 << 20

// MaxWait is the longest long-poll the data plane holds.
const MaxWait = 60 * time.Second

// DesiredState is the answer to a list.
type DesiredState struct {
	// Revision changes whenever the desired state does; it is also the ETag.
	Revision       uint64          `json:"revision"`
	Configurations []Configuration `json:"configurations"`
}

// Configuration is one desired fluxConfiguration.
type Configuration struct {
	Name string `json:"name"`
	// Generation increases with every change; the agent reports status for it.
	Generation int64 `json:"generation"`
	// Deleting asks the agent to remove the configuration and confirm.
	Deleting bool `json:"deleting,omitempty"`
	// Properties are the ARM properties, a Properties in JSON.
	Properties json.RawMessage `json:"properties"`
	// ProtectedSettings are present until the agent acknowledges them.
	ProtectedSettings *ProtectedSettings `json:"protectedSettings,omitempty"`
	// ReconcileRequestedAt is the last "reconcile now" asked of it: the
	// agent sets it on the FluxConfig as reconcile.fluxcd.io/requestedAt.
	ReconcileRequestedAt string `json:"reconcileRequestedAt,omitempty"`
}

// Properties are a configuration's ARM properties as the data plane stores
// and sends them: the namespace and the FluxConfig spec, validated and
// defaulted, without protected settings or read-only fields.
type Properties struct {
	v1alpha1.FluxConfigSpec
	Namespace string `json:"namespace"`
}

// ProtectedSettings are the configuration's secrets, base64 values as in ARM.
type ProtectedSettings struct {
	Version int64             `json:"version"`
	Values  map[string]string `json:"values"`
}

// Ack acknowledges protected settings.
type Ack struct {
	Version int64 `json:"version"`
}

// StatusReport is the status of one configuration in the cluster, in ARM's
// read-only properties.
type StatusReport struct {
	// Generation is the desired-state generation the cluster has applied.
	Generation          int64  `json:"generation"`
	ComplianceState     string `json:"complianceState,omitempty"`
	ProvisioningState   string `json:"provisioningState,omitempty"`
	ErrorMessage        string `json:"errorMessage,omitempty"`
	RepositoryPublicKey string `json:"repositoryPublicKey,omitempty"`
	// SSHKey is the generated key's life and rotation (an arcgitops
	// extension; public keys only).
	SSHKey               *v1alpha1.SSHKeyStatus `json:"sshKey,omitempty"`
	SourceSyncedCommitID string                 `json:"sourceSyncedCommitId,omitempty"`
	SourceUpdatedAt      *time.Time             `json:"sourceUpdatedAt,omitempty"`
	StatusUpdatedAt      *time.Time             `json:"statusUpdatedAt,omitempty"`
	Statuses             json.RawMessage        `json:"statuses,omitempty"`
}

// ETag formats a revision as an HTTP entity tag.
func ETag(revision uint64) string {
	b, _ := json.Marshal(revision)
	return `"` + string(b) + `"`
}
