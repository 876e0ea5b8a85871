// Package store keeps the data plane's state: registered clusters, their
// fluxConfigurations (desired state, encrypted protected settings, reported
// status) and a per-cluster revision of the desired state.
//
// Store is a small transactional interface so that a networked database can
// replace the embedded default (bbolt, in bolt.go). Every Update is durable
// when it returns: a process killed right after a successful write loses
// nothing. One implementation of Tx (txn, in kv.go) serves every engine:
// an engine gives a transaction's buckets of ordered keys, and
// conformance_test.go holds each engine to the same behaviour.
package store

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/internal/agentapi"
)

// ErrNotFound is returned for a missing cluster or configuration.
var ErrNotFound = errors.New("not found")

// Store runs transactions.
type Store interface {
	// View runs fn in a read-only transaction.
	View(fn func(Tx) error) error
	// Update runs fn in a read-write, serializable transaction, committed
	// durably when fn returns nil and rolled back otherwise. fn may run
	// more than once (an engine with optimistic transactions runs it again
	// on fresh reads after a conflict): outside tx it may only set what it
	// returns.
	Update(fn func(Tx) error) error
	// Batch is Update for many small concurrent writers: calls that arrive
	// together may share one transaction, and so one fsync. fn may run more
	// than once and must be idempotent; Batch returns once its change is
	// committed durably, or with fn's error (fn's change then rolled back).
	Batch(fn func(Tx) error) error
	Close() error
}

// Tx reads and writes inside one transaction.
type Tx interface {
	Cluster(id string) (*Cluster, error)
	Clusters() ([]Cluster, error)
	// CountClusters counts the clusters of a subscription, the
	// transaction's own writes included. Concurrent transactions do not
	// conflict on the count (it reads no record): a limit checked with it
	// may be passed by as many creates as commit at once.
	CountClusters(subscription string) (int, error)
	PutCluster(c *Cluster) error
	DeleteCluster(id string) error
	ClusterIDByToken(tokenHash string) (string, error)

	Config(clusterID, name string) (*Config, error)
	Configs(clusterID string) ([]Config, error)
	PutConfig(c *Config) error
	DeleteConfig(clusterID, name string) error

	ResourceGroup(id string) (*ResourceGroup, error)
	// ResourceGroups lists a subscription's resource groups.
	ResourceGroups(subscription string) ([]ResourceGroup, error)
	PutResourceGroup(g *ResourceGroup) error
	DeleteResourceGroup(id string) error

	Principal(objectID string) (*Principal, error)
	PrincipalByAppID(appID string) (*Principal, error)
	// UserByName finds a user by its userPrincipalName (any case).
	UserByName(userPrincipalName string) (*Principal, error)
	Principals() ([]Principal, error)
	PutPrincipal(p *Principal) error
	DeletePrincipal(objectID string) error

	RoleAssignment(id string) (*RoleAssignment, error)
	RoleAssignments() ([]RoleAssignment, error)
	// RoleAssignmentsOf lists a principal's role assignments.
	RoleAssignmentsOf(principalID string) ([]RoleAssignment, error)
	PutRoleAssignment(a *RoleAssignment) error
	DeleteRoleAssignment(id string) error

	// AppendEvent records an activity log event.
	AppendEvent(e *Event) error
	// Events calls fn with the events since from, newest first, starting
	// below the key before (nil: the newest), until fn returns false.
	Events(from time.Time, before []byte, fn func(key []byte, e Event) bool) error
	// PruneEvents deletes the events older than before and counts them.
	PruneEvents(before time.Time) (int, error)

	PolicyDefinition(id string) (*PolicyDefinition, error)
	// PolicyDefinitions lists the definitions whose IDs start with prefix.
	PolicyDefinitions(prefix string) ([]PolicyDefinition, error)
	PutPolicyDefinition(d *PolicyDefinition) error
	DeletePolicyDefinition(id string) error
	PolicySetDefinition(id string) (*PolicyDefinition, error)
	PolicySetDefinitions(prefix string) ([]PolicyDefinition, error)
	PutPolicySetDefinition(d *PolicyDefinition) error
	DeletePolicySetDefinition(id string) error

	PolicyAssignment(id string) (*PolicyAssignment, error)
	PolicyAssignments() ([]PolicyAssignment, error)
	PutPolicyAssignment(a *PolicyAssignment) error
	DeletePolicyAssignment(id string) error

	PolicyState(assignmentID, resourceID, referenceID string) (*PolicyState, error)
	// PolicyStates lists an assignment's states ("": every assignment's).
	PolicyStates(assignmentID string) ([]PolicyState, error)
	// PolicyStatesUnder lists the states of resourceID and the resources
	// under it (a cluster's configurations).
	PolicyStatesUnder(resourceID string) ([]PolicyState, error)
	PutPolicyState(st *PolicyState) error
	DeletePolicyState(assignmentID, resourceID, referenceID string) error

	Extension(id string) (*Extension, error)
	Extensions(clusterID string) ([]Extension, error)
	PutExtension(e *Extension) error
	DeleteExtension(id string) error

	Vault(id string) (*Vault, error)
	// Vaults are the vaults whose IDs start with prefix.
	Vaults(prefix string) ([]Vault, error)
	PutVault(v *Vault) error
	DeleteVault(id string) error
	VaultSecret(id string) (*VaultSecret, error)
	VaultSecrets(vaultID string) ([]VaultSecret, error)
	PutVaultSecret(s *VaultSecret) error
	DeleteVaultSecret(id string) error

	Remediation(id string) (*Remediation, error)
	Remediations() ([]Remediation, error)
	PutRemediation(r *Remediation) error
	DeleteRemediation(id string) error
	MarkRemediated(id, resourceID string) error
	Remediated(id string) (map[string]bool, error)

	// Revision is the revision of the cluster's desired state.
	Revision(clusterID string) (uint64, error)
	// BumpRevision increments and returns it.
	BumpRevision(clusterID string) (uint64, error)
}

// Cluster is a registered cluster.
type Cluster struct {
	// ID is the ARM resource ID, with the casing it was created with.
	ID            string `json:"id"`
	Subscription  string `json:"subscription"`
	ResourceGroup string `json:"resourceGroup"`
	Type          string `json:"type"` // connectedClusters or managedClusters
	Name          string `json:"name"`
	Location      string `json:"location,omitempty"`
	// Tags are the cluster's ARM tags.
	Tags      map[string]string `json:"tags,omitempty"`
	TokenHash string            `json:"tokenHash"`
	// PreviousTokenHash is the token replaced by the last regeneration,
	// valid until PreviousTokenExpiresAt so that a running agent can pick up
	// the new one.
	PreviousTokenHash      string     `json:"previousTokenHash,omitempty"`
	PreviousTokenExpiresAt *time.Time `json:"previousTokenExpiresAt,omitempty"`
	CreatedAt              time.Time  `json:"createdAt"`
	// AgentConnectedAt is when the cluster's agent first called: the
	// cluster is Connected, and its Flux extension installed, from then.
	AgentConnectedAt *time.Time `json:"agentConnectedAt,omitempty"`
	// AgentSeenAt is the agent's last heartbeat: when it last called,
	// written at most once a heartbeat interval, so that every replica
	// knows it without a write per call.
	AgentSeenAt *time.Time `json:"agentSeenAt,omitempty"`
}

// ResourceGroup is an ARM resource group.
type ResourceGroup struct {
	// ID is /subscriptions/{s}/resourceGroups/{name}, with the casing it
	// was created with.
	ID           string            `json:"id"`
	Subscription string            `json:"subscription"`
	Name         string            `json:"name"`
	Location     string            `json:"location"`
	Tags         map[string]string `json:"tags,omitempty"`
	CreatedAt    time.Time         `json:"createdAt"`
}

// Config is one fluxConfiguration.
type Config struct {
	ClusterID string `json:"clusterId"`
	Name      string `json:"name"`
	// Properties is the desired state in ARM's properties shape, validated
	// and defaulted, without protected settings or read-only fields.
	Properties json.RawMessage `json:"properties"`
	// Generation increases with every change of the desired state.
	Generation int64 `json:"generation"`
	// Deleting is set by DELETE; the record goes when the agent confirms.
	Deleting bool `json:"deleting,omitempty"`
	// Protected holds the sealed protected settings until the agent
	// acknowledges them or they expire.
	Protected *Protected `json:"protected,omitempty"`
	// Status is the last status the agent reported.
	Status *Status `json:"status,omitempty"`
	// Error is a data plane side failure (protected settings expired).
	Error      string     `json:"error,omitempty"`
	SystemData SystemData `json:"systemData"`
	// ReconcileRequestedAt is the last "reconcile now" asked of it (RFC
	// 3339), which its agent sets as reconcile.fluxcd.io/requestedAt.
	ReconcileRequestedAt string `json:"reconcileRequestedAt,omitempty"`
	// History are the last changes of the compliance state its agent
	// reported, the oldest first.
	History []ComplianceChange `json:"history,omitempty"`
}

// ComplianceChange is a configuration's compliance state changing, as its
// agent reported it.
type ComplianceChange struct {
	At    time.Time `json:"at"`
	State string    `json:"state"`
	// Message is the report's errorMessage, cut to MessageKept bytes.
	Message string `json:"message,omitempty"`
}

// Protected are sealed (encrypted) protected settings.
type Protected struct {
	Version int64  `json:"version"`
	Sealed  []byte `json:"sealed"`
	// KeyID names the key that sealed them (empty: sealed before key ids
	// were recorded, with the original key).
	KeyID     string    `json:"keyId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Status is the last status report of the agent, and when it came.
type Status struct {
	agentapi.StatusReport
	ReportedAt time.Time `json:"reportedAt"`
}

// SystemData is ARM's systemData.
type SystemData struct {
	CreatedBy          string    `json:"createdBy,omitempty"`
	CreatedByType      string    `json:"createdByType,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	LastModifiedBy     string    `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string    `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     time.Time `json:"lastModifiedAt"`
}

// Key normalizes an ARM resource ID: ARM IDs are case-insensitive.
func Key(id string) string { return strings.ToLower(id) }
