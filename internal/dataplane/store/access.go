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

func (t boltTx) Principal(objectID string) (*Principal, error) {
	return get[Principal](t.tx.Bucket(bucketPrincipals), Key(objectID))
}

func (t boltTx) PrincipalByAppID(appID string) (*Principal, error) {
	oid := t.tx.Bucket(bucketPrincipalsByApp).Get([]byte(Key(appID)))
	if oid == nil {
		return nil, ErrNotFound
	}
	p, err := t.Principal(string(oid))
	if err == nil && p.User {
		return nil, ErrNotFound // a user's key, given as an app ID
	}
	return p, err
}

func (t boltTx) UserByName(userPrincipalName string) (*Principal, error) {
	oid := t.tx.Bucket(bucketPrincipalsByApp).Get((&Principal{User: true, UserPrincipalName: userPrincipalName}).signInKey())
	if oid == nil {
		return nil, ErrNotFound
	}
	return t.Principal(string(oid))
}

func (t boltTx) Principals() ([]Principal, error) {
	return all[Principal](t.tx.Bucket(bucketPrincipals), nil)
}

func (t boltTx) PutPrincipal(p *Principal) error {
	if err := t.tx.Bucket(bucketPrincipalsByApp).Put(p.signInKey(), []byte(Key(p.ObjectID))); err != nil {
		return err
	}
	return put(t.tx.Bucket(bucketPrincipals), Key(p.ObjectID), p)
}

func (t boltTx) DeletePrincipal(objectID string) error {
	p, err := t.Principal(objectID)
	if err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketPrincipalsByApp).Delete(p.signInKey()); err != nil {
		return err
	}
	return t.tx.Bucket(bucketPrincipals).Delete([]byte(Key(objectID)))
}

// assignmentIndexKey orders a principal's role assignments together.
func assignmentIndexKey(principalID, id string) []byte {
	return []byte(Key(principalID) + "\x00" + Key(id))
}

func (t boltTx) RoleAssignment(id string) (*RoleAssignment, error) {
	return get[RoleAssignment](t.tx.Bucket(bucketAssignments), Key(id))
}

func (t boltTx) RoleAssignments() ([]RoleAssignment, error) {
	return all[RoleAssignment](t.tx.Bucket(bucketAssignments), nil)
}

func (t boltTx) RoleAssignmentsOf(principalID string) ([]RoleAssignment, error) {
	prefix := []byte(Key(principalID) + "\x00")
	var out []RoleAssignment
	c := t.tx.Bucket(bucketAssignmentsByOwner).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		a, err := t.RoleAssignment(string(k[len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("role assignment index %q: %w", k, err)
		}
		out = append(out, *a)
	}
	return out, nil
}

func (t boltTx) PutRoleAssignment(a *RoleAssignment) error {
	if old, err := t.RoleAssignment(a.ID); err == nil {
		if err := t.tx.Bucket(bucketAssignmentsByOwner).Delete(assignmentIndexKey(old.PrincipalID, old.ID)); err != nil {
			return err
		}
	}
	if err := t.tx.Bucket(bucketAssignmentsByOwner).Put(assignmentIndexKey(a.PrincipalID, a.ID), nil); err != nil {
		return err
	}
	return put(t.tx.Bucket(bucketAssignments), Key(a.ID), a)
}

func (t boltTx) DeleteRoleAssignment(id string) error {
	a, err := t.RoleAssignment(id)
	if err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketAssignmentsByOwner).Delete(assignmentIndexKey(a.PrincipalID, a.ID)); err != nil {
		return err
	}
	return t.tx.Bucket(bucketAssignments).Delete([]byte(Key(id)))
}

// eventKey orders events by time, then by the order they were appended
// (seq), so that events of the same instant keep their order.
func eventKey(at time.Time, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	return binary.BigEndian.AppendUint64(k, seq)
}

func (t boltTx) AppendEvent(e *Event) error {
	b := t.tx.Bucket(bucketActivity)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return put(b, string(eventKey(e.Time, seq)), e)
}

func (t boltTx) Events(from time.Time, before []byte, fn func(key []byte, e Event) bool) error {
	c := t.tx.Bucket(bucketActivity).Cursor()
	start := eventKey(from, 0)
	// Seek finds the first key at or after before; the events to list
	// start one step back from it.
	k, v := c.Last()
	if before != nil {
		if sk, _ := c.Seek(before); sk != nil {
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
	}
	for ; k != nil && bytes.Compare(k, start) >= 0; k, v = c.Prev() {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("corrupt event %x: %w", k, err)
		}
		if !fn(k, e) {
			return nil
		}
	}
	return nil
}

func (t boltTx) PruneEvents(before time.Time) (int, error) {
	b := t.tx.Bucket(bucketActivity)
	c := b.Cursor()
	end := eventKey(before, 0)
	n := 0
	for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = c.First() {
		if err := b.Delete(k); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
