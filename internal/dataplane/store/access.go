package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

var (
	bucketPrincipals         = []byte("principals")
	bucketPrincipalsByApp    = []byte("principalsByAppId")
	bucketAssignments        = []byte("roleAssignments")
	bucketAssignmentsByOwner = []byte("roleAssignmentsByPrincipal")
	bucketActivity           = []byte("activity")
)

// accessBuckets are the buckets of identities, role assignments and the
// activity log.
var accessBuckets = [][]byte{bucketPrincipals, bucketPrincipalsByApp, bucketAssignments, bucketAssignmentsByOwner, bucketActivity}

// Principal is a service principal, or a user, of the built-in token
// issuer.
type Principal struct {
	// ObjectID is what role assignments name (principalId) and what tokens
	// carry as oid and sub.
	ObjectID string `json:"objectId"`
	// AppID is the client ID a service principal signs in with.
	AppID       string `json:"appId"`
	DisplayName string `json:"displayName"`
	// Credentials are a service principal's secrets, stored hashed.
	Credentials []Credential `json:"credentials,omitempty"`
	CreatedAt   time.Time    `json:"createdAt"`
	// User: a person, who signs in with UserPrincipalName and a password
	// (PasswordHash, Argon2id), not a service principal; Disabled ones
	// cannot.
	User              bool   `json:"user,omitempty"`
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	PasswordHash      string `json:"passwordHash,omitempty"`
	Disabled          bool   `json:"disabled,omitempty"`
}

// signInKey is what a principal is found by when it signs in: a service
// principal's app ID, a user's principal name.
func (p *Principal) signInKey() []byte {
	if p.User {
		return []byte("user:" + Key(p.UserPrincipalName))
	}
	return []byte(Key(p.AppID))
}

// Credential is one secret of a principal: never the secret itself, only
// its SHA-256 (secrets are 256 random bits, so a fast hash loses nothing
// against guessing).
type Credential struct {
	KeyID       string    `json:"keyId"`
	Hash        string    `json:"hash"`
	Hint        string    `json:"hint"`
	StartDate   time.Time `json:"startDateTime"`
	EndDate     time.Time `json:"endDateTime"`
	DisplayName string    `json:"displayName,omitempty"`
}

// RoleAssignment grants a role to a principal at a scope.
type RoleAssignment struct {
	// ID is {scope}/providers/Microsoft.Authorization/roleAssignments/{name},
	// with the casing it was created with.
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Scope            string    `json:"scope"`
	RoleDefinitionID string    `json:"roleDefinitionId"`
	PrincipalID      string    `json:"principalId"`
	PrincipalType    string    `json:"principalType"`
	Description      string    `json:"description,omitempty"`
	CreatedBy        string    `json:"createdBy,omitempty"`
	CreatedOn        time.Time `json:"createdOn"`
	UpdatedOn        time.Time `json:"updatedOn"`
}

// Event is one entry of the activity log: who did what to which resource,
// and how it ended. It never holds a request body.
type Event struct {
	ID             string    `json:"eventDataId"`
	CorrelationID  string    `json:"correlationId"`
	Caller         string    `json:"caller"`
	Operation      string    `json:"operationName"`
	ResourceID     string    `json:"resourceId"`
	Subscription   string    `json:"subscriptionId,omitempty"`
	ResourceGroup  string    `json:"resourceGroupName,omitempty"`
	Status         string    `json:"status"`
	HTTPStatusCode int       `json:"httpStatusCode"`
	Method         string    `json:"method"`
	ClientIP       string    `json:"clientIpAddress,omitempty"`
	Time           time.Time `json:"eventTimestamp"`
}

func (t txn) Principal(objectID string) (*Principal, error) {
	return get[Principal](t.b(bucketPrincipals), Key(objectID))
}

func (t txn) PrincipalByAppID(appID string) (*Principal, error) {
	oid, err := t.b(bucketPrincipalsByApp).get([]byte(Key(appID)))
	if err != nil {
		return nil, err
	}
	if oid == nil {
		return nil, ErrNotFound
	}
	p, err := t.Principal(string(oid))
	if err == nil && p.User {
		return nil, ErrNotFound // a user's key, given as an app ID
	}
	return p, err
}

func (t txn) UserByName(userPrincipalName string) (*Principal, error) {
	oid, err := t.b(bucketPrincipalsByApp).get((&Principal{User: true, UserPrincipalName: userPrincipalName}).signInKey())
	if err != nil {
		return nil, err
	}
	if oid == nil {
		return nil, ErrNotFound
	}
	return t.Principal(string(oid))
}

func (t txn) Principals() ([]Principal, error) {
	return all[Principal](t.b(bucketPrincipals), nil)
}

func (t txn) PutPrincipal(p *Principal) error {
	if err := t.b(bucketPrincipalsByApp).put(p.signInKey(), []byte(Key(p.ObjectID))); err != nil {
		return err
	}
	return put(t.b(bucketPrincipals), Key(p.ObjectID), p)
}

func (t txn) DeletePrincipal(objectID string) error {
	p, err := t.Principal(objectID)
	if err != nil {
		return err
	}
	if err := t.b(bucketPrincipalsByApp).del(p.signInKey()); err != nil {
		return err
	}
	return t.b(bucketPrincipals).del([]byte(Key(objectID)))
}

// assignmentIndexKey orders a principal's role assignments together.
func assignmentIndexKey(principalID, id string) []byte {
	return []byte(Key(principalID) + "\x00" + Key(id))
}

func (t txn) RoleAssignment(id string) (*RoleAssignment, error) {
	return get[RoleAssignment](t.b(bucketAssignments), Key(id))
}

func (t txn) RoleAssignments() ([]RoleAssignment, error) {
	return all[RoleAssignment](t.b(bucketAssignments), nil)
}

func (t txn) RoleAssignmentsOf(principalID string) ([]RoleAssignment, error) {
	prefix := []byte(Key(principalID) + "\x00")
	keys, err := keysWith(t.b(bucketAssignmentsByOwner), prefix)
	if err != nil {
		return nil, err
	}
	var out []RoleAssignment
	for _, k := range keys {
		a, err := t.RoleAssignment(string(k[len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("role assignment index %q: %w", k, err)
		}
		out = append(out, *a)
	}
	return out, nil
}

func (t txn) PutRoleAssignment(a *RoleAssignment) error {
	if old, err := t.RoleAssignment(a.ID); err == nil {
		if err := t.b(bucketAssignmentsByOwner).del(assignmentIndexKey(old.PrincipalID, old.ID)); err != nil {
			return err
		}
	}
	if err := t.b(bucketAssignmentsByOwner).put(assignmentIndexKey(a.PrincipalID, a.ID), []byte{}); err != nil {
		return err
	}
	return put(t.b(bucketAssignments), Key(a.ID), a)
}

func (t txn) DeleteRoleAssignment(id string) error {
	a, err := t.RoleAssignment(id)
	if err != nil {
		return err
	}
	if err := t.b(bucketAssignmentsByOwner).del(assignmentIndexKey(a.PrincipalID, a.ID)); err != nil {
		return err
	}
	return t.b(bucketAssignments).del([]byte(Key(id)))
}

// eventKey orders events by time, then by the order they were appended
// (seq), so that events of the same instant keep their order.
func eventKey(at time.Time, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	return binary.BigEndian.AppendUint64(k, seq)
}

func (t txn) AppendEvent(e *Event) error {
	b := t.b(bucketActivity)
	seq, err := b.nextSequence()
	if err != nil {
		return err
	}
	return put(b, string(eventKey(e.Time, seq)), e)
}

func (t txn) Events(from time.Time, before []byte, fn func(key []byte, e Event) bool) error {
	var bad error
	err := t.b(bucketActivity).scanBack(eventKey(from, 0), before, func(k, v []byte) bool {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			bad = fmt.Errorf("corrupt event %x: %w", k, err)
			return false
		}
		return fn(k, e)
	})
	if err == nil {
		err = bad
	}
	return err
}

func (t txn) PruneEvents(before time.Time) (int, error) {
	b := t.b(bucketActivity)
	end := eventKey(before, 0)
	var old [][]byte
	err := b.scan(nil, func(k, _ []byte) bool {
		if bytes.Compare(k, end) >= 0 {
			return false
		}
		old = append(old, bytes.Clone(k))
		return true
	})
	for i, k := range old {
		if err != nil {
			return i, err
		}
		err = b.del(k)
	}
	return len(old), err
}
