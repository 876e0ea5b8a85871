package store

import (
	"encoding/json"
	"time"
)

var (
	bucketPolicyDefinitions = []byte("policyDefinitions")
	bucketPolicyAssignments = []byte("policyAssignments")
)

// typeBuckets are the buckets of the resource types kept in files of their
// own (policy, Key Vault); each file adds its buckets in an init.
var typeBuckets = [][]byte{bucketPolicyDefinitions, bucketPolicyAssignments, bucketPolicySetDefinitions}

var bucketPolicySetDefinitions = []byte("policySetDefinitions")

// PolicySetDefinition returns the policy set definition (initiative) id;
// it has a definition's shape.
func (t txn) PolicySetDefinition(id string) (*PolicyDefinition, error) {
	return get[PolicyDefinition](t.b(bucketPolicySetDefinitions), Key(id))
}

// PolicySetDefinitions are the sets whose IDs start with prefix.
func (t txn) PolicySetDefinitions(prefix string) ([]PolicyDefinition, error) {
	return all[PolicyDefinition](t.b(bucketPolicySetDefinitions), []byte(Key(prefix)))
}

func (t txn) PutPolicySetDefinition(d *PolicyDefinition) error {
	return put(t.b(bucketPolicySetDefinitions), Key(d.ID), d)
}

func (t txn) DeletePolicySetDefinition(id string) error {
	return deleteExisting(t.b(bucketPolicySetDefinitions), Key(id))
}

// PolicyDefinition is a custom policy definition of a subscription.
type PolicyDefinition struct {
	// ID is /subscriptions/{s}/providers/Microsoft.Authorization/policyDefinitions/{name},
	// with the casing it was created with.
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Properties json.RawMessage `json:"properties"`
	SystemData SystemData      `json:"systemData"`
}

// PolicyAssignment assigns a policy definition at a scope.
type PolicyAssignment struct {
	// ID is {scope}/providers/Microsoft.Authorization/policyAssignments/{name}.
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Scope      string          `json:"scope"`
	Location   string          `json:"location,omitempty"`
	Identity   *Identity       `json:"identity,omitempty"`
	Properties json.RawMessage `json:"properties"`
	SystemData SystemData      `json:"systemData"`
}

// Identity is a resource's managed identity.
type Identity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	TenantID    string `json:"tenantId,omitempty"`
}

func (t txn) PolicyDefinition(id string) (*PolicyDefinition, error) {
	return get[PolicyDefinition](t.b(bucketPolicyDefinitions), Key(id))
}

func (t txn) PolicyDefinitions(prefix string) ([]PolicyDefinition, error) {
	return all[PolicyDefinition](t.b(bucketPolicyDefinitions), []byte(Key(prefix)))
}

func (t txn) PutPolicyDefinition(d *PolicyDefinition) error {
	return put(t.b(bucketPolicyDefinitions), Key(d.ID), d)
}

func (t txn) DeletePolicyDefinition(id string) error {
	return deleteExisting(t.b(bucketPolicyDefinitions), Key(id))
}

func (t txn) PolicyAssignment(id string) (*PolicyAssignment, error) {
	return get[PolicyAssignment](t.b(bucketPolicyAssignments), Key(id))
}

func (t txn) PolicyAssignments() ([]PolicyAssignment, error) {
	return all[PolicyAssignment](t.b(bucketPolicyAssignments), nil)
}

func (t txn) PutPolicyAssignment(a *PolicyAssignment) error {
	return put(t.b(bucketPolicyAssignments), Key(a.ID), a)
}

func (t txn) DeletePolicyAssignment(id string) error {
	return deleteExisting(t.b(bucketPolicyAssignments), Key(id))
}

// deleteExisting deletes key, or says ErrNotFound.

var bucketPolicyStates = []byte("policyStates")

func init() { typeBuckets = append(typeBuckets, bucketPolicyStates) }

// PolicyState is an assignment's latest verdict on a resource.
type PolicyState struct {
	AssignmentID    string    `json:"policyAssignmentId"`
	DefinitionID    string    `json:"policyDefinitionId"`
	ResourceID      string    `json:"resourceId"`
	ResourceType    string    `json:"resourceType"`
	ComplianceState string    `json:"complianceState"`
	Effect          string    `json:"policyDefinitionAction"`
	Timestamp       time.Time `json:"timestamp"`
	// Error is why the last deployment for this resource failed.
	Error string `json:"error,omitempty"`
	// SetDefinitionID and ReferenceID name the set and its member, when
	// the assignment is of a policy set.
	SetDefinitionID string `json:"policySetDefinitionId,omitempty"`
	ReferenceID     string `json:"policyDefinitionReferenceId,omitempty"`
}

// Key identifies the state: its resource, assignment and set member.
func (st *PolicyState) Key() string { return stateKey(st.AssignmentID, st.ResourceID, st.ReferenceID) }

// stateKey orders states by resource, so that a cluster's and its
// configurations' states are together.
func stateKey(assignmentID, resourceID, referenceID string) string {
	k := Key(resourceID) + "\x00" + Key(assignmentID)
	if referenceID != "" {
		k += "\x00" + Key(referenceID)
	}
	return k
}

func (t txn) PolicyState(assignmentID, resourceID, referenceID string) (*PolicyState, error) {
	return get[PolicyState](t.b(bucketPolicyStates), stateKey(assignmentID, resourceID, referenceID))
}

func (t txn) PolicyStates(assignmentID string) ([]PolicyState, error) {
	all, err := all[PolicyState](t.b(bucketPolicyStates), nil)
	if err != nil || assignmentID == "" {
		return all, err
	}
	out := all[:0]
	for _, st := range all {
		if Key(st.AssignmentID) == Key(assignmentID) {
			out = append(out, st)
		}
	}
	return out, nil
}

func (t txn) PolicyStatesUnder(resourceID string) ([]PolicyState, error) {
	b := t.b(bucketPolicyStates)
	exact, err := all[PolicyState](b, []byte(Key(resourceID)+"\x00"))
	if err != nil {
		return nil, err
	}
	below, err := all[PolicyState](b, []byte(Key(resourceID)+"/"))
	return append(exact, below...), err
}

func (t txn) PutPolicyState(st *PolicyState) error {
	return put(t.b(bucketPolicyStates), st.Key(), st)
}

func (t txn) DeletePolicyState(assignmentID, resourceID, referenceID string) error {
	return t.b(bucketPolicyStates).del([]byte(stateKey(assignmentID, resourceID, referenceID)))
}

var (
	bucketRemediations    = []byte("remediations")
	bucketRemediationDone = []byte("remediationDone")
)

func init() { typeBuckets = append(typeBuckets, bucketRemediations, bucketRemediationDone) }

// Remediation deploys an assignment's deployIfNotExists for the
// non-compliant resources of a scope. The resources it has handled are
// marked done (RemediationDone), so that a remediation resumed after a
// restart deploys nothing twice and keeps its counts.
type Remediation struct {
	// ID is {scope}/providers/Microsoft.PolicyInsights/remediations/{name}.
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Scope              string    `json:"scope"`
	AssignmentID       string    `json:"policyAssignmentId"`
	ReferenceID        string    `json:"policyDefinitionReferenceId,omitempty"`
	DiscoveryMode      string    `json:"resourceDiscoveryMode"`
	ProvisioningState  string    `json:"provisioningState"`
	Total              int       `json:"totalDeployments"`
	Succeeded          int       `json:"successfulDeployments"`
	Failed             int       `json:"failedDeployments"`
	StatusMessage      string    `json:"statusMessage,omitempty"`
	CreatedOn          time.Time `json:"createdOn"`
	LastUpdatedOn      time.Time `json:"lastUpdatedOn"`
	CreatedBy          string    `json:"createdBy,omitempty"`
	FailureThresholdPc float64   `json:"failureThreshold,omitempty"`
	// Runner names the data plane process running it, which renews
	// RunnerSeen with each batch of progress: replicas sharing a store run
	// a remediation once, and one takes over when the runner is gone.
	Runner     string    `json:"runner,omitempty"`
	RunnerSeen time.Time `json:"runnerSeen,omitempty"`
}

func (t txn) Remediation(id string) (*Remediation, error) {
	return get[Remediation](t.b(bucketRemediations), Key(id))
}

func (t txn) Remediations() ([]Remediation, error) {
	return all[Remediation](t.b(bucketRemediations), nil)
}

func (t txn) PutRemediation(r *Remediation) error {
	return put(t.b(bucketRemediations), Key(r.ID), r)
}

// DeleteRemediation deletes a remediation and its done marks.
func (t txn) DeleteRemediation(id string) error {
	if err := deleteExisting(t.b(bucketRemediations), Key(id)); err != nil {
		return err
	}
	b := t.b(bucketRemediationDone)
	keys, err := keysWith(b, []byte(Key(id)+"\x00"))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.del(k); err != nil {
			return err
		}
	}
	return nil
}

// MarkRemediated marks resourceID as handled by remediation id.
func (t txn) MarkRemediated(id, resourceID string) error {
	return t.b(bucketRemediationDone).put([]byte(Key(id)+"\x00"+Key(resourceID)), []byte{1})
}

// Remediated are the keys of the resources remediation id has handled.
func (t txn) Remediated(id string) (map[string]bool, error) {
	out := map[string]bool{}
	prefix := []byte(Key(id) + "\x00")
	err := t.b(bucketRemediationDone).scan(prefix, func(k, _ []byte) bool { out[string(k[len(prefix):])] = true; return true })
	return out, err
}
