package dataplane

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
)

// The hub's users, people who sign in to the portal with a name and a
// password, are served in the shape of Microsoft Graph's /v1.0/users (as
// az ad user create sends it), authorized like service principals: at the
// root scope, by Owner and User Access Administrator.
const (
	readUsers   = "Microsoft.Directory/users/read"
	writeUsers  = "Microsoft.Directory/users/write"
	deleteUsers = "Microsoft.Directory/users/delete"
)

// routeUsers serves /v1.0/users[/{id or userPrincipalName}]; it reports
// whether segs were one of them.
func (s *Server) routeUsers(w http.ResponseWriter, r *http.Request, segs []string) bool {
	if len(segs) < 2 || segs[0] != "v1.0" || !strings.EqualFold(segs[1], "users") {
		return false
	}
	switch len(segs) {
	case 2:
		setRoute(r, "users")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:  s.guard(readUsers, "/", s.listUsers),
			http.MethodPost: s.guard(writeUsers, "/", s.createUser),
		})
	case 3:
		setRoute(r, "user")
		id := segs[2]
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:    s.guard(readUsers, "/", func(w http.ResponseWriter, _ *http.Request) { s.getUser(w, id) }),
			http.MethodPatch:  s.guard(writeUsers, "/", func(w http.ResponseWriter, r *http.Request) { s.patchUser(w, r, id) }),
			http.MethodDelete: s.guard(deleteUsers, "/", func(w http.ResponseWriter, _ *http.Request) { s.deleteUser(w, id) }),
		})
	default:
		writeError(w, notFoundPath(r))
	}
	return true
}

// userNameRE is a userPrincipalName: a local part of the characters Entra
// ID allows, @, a domain.
var userNameRE = regexp.MustCompile(`^[A-Za-z0-9'._!#^~+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$`)

func renderUser(p *store.Principal) map[string]any {
	nick, _, _ := strings.Cut(p.UserPrincipalName, "@")
	return map[string]any{"id": p.ObjectID, "displayName": p.DisplayName, "userPrincipalName": p.UserPrincipalName,
		"mailNickname": nick, "accountEnabled": !p.Disabled, "createdDateTime": p.CreatedAt.UTC().Format(time.RFC3339)}
}

func badUser(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "Request_BadRequest", msg}
}

// passwordProfile is Graph's: the password, and whether it must change at
// the next sign-in (the hub has no such step: false only).
type passwordProfile struct {
	Password                      string `json:"password"`
	ForceChangePasswordNextSignIn bool   `json:"forceChangePasswordNextSignIn"`
}

// hashed checks and hashes the profile's password.
func (pp *passwordProfile) hashed() (string, *apiError) {
	if pp.ForceChangePasswordNextSignIn {
		return "", badUser("passwordProfile.forceChangePasswordNextSignIn must be false: the hub has no password change at sign-in (set a password the user keeps).")
	}
	if err := identity.CheckPassword(pp.Password); err != nil {
		return "", badUser("passwordProfile.password: " + err.Error() + ".")
	}
	hash, err := identity.HashPassword(pp.Password)
	if err != nil {
		return "", &apiError{http.StatusInternalServerError, "InternalServerError", "Hashing the password failed."}
	}
	return hash, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AccountEnabled    *bool            `json:"accountEnabled"`
		DisplayName       string           `json:"displayName"`
		MailNickname      string           `json:"mailNickname"`
		UserPrincipalName string           `json:"userPrincipalName"`
		PasswordProfile   *passwordProfile `json:"passwordProfile"`
	}
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	switch {
	case body.AccountEnabled == nil:
		writeError(w, badUser("accountEnabled is required: true lets the user sign in."))
		return
	case !displayNameRE.MatchString(body.DisplayName):
		writeError(w, badUser("displayName is required: 1 to 120 printable characters."))
		return
	case !userNameRE.MatchString(body.UserPrincipalName):
		writeError(w, badUser("userPrincipalName is required, as name@domain (e.g. ada@contoso.com)."))
		return
	case body.PasswordProfile == nil:
		writeError(w, badUser("passwordProfile.password is required."))
		return
	}
	hash, e := body.PasswordProfile.hashed()
	if e != nil {
		writeError(w, e)
		return
	}
	p := &store.Principal{ObjectID: uuid.NewString(), DisplayName: body.DisplayName, CreatedAt: s.opts.Now(), User: true,
		UserPrincipalName: body.UserPrincipalName, PasswordHash: hash, Disabled: !*body.AccountEnabled}
	err := s.store.Update(func(tx store.Tx) error {
		if _, err := tx.UserByName(p.UserPrincipalName); err == nil {
			return errAPI{&apiError{http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Another object with the same value for property userPrincipalName already exists: %s.", p.UserPrincipalName)}}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.PutPrincipal(p)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, renderUser(p))
}

// userOf finds a user by its object ID or userPrincipalName.
func userOf(tx store.Tx, id string) (*store.Principal, error) {
	if strings.Contains(id, "@") {
		return tx.UserByName(id)
	}
	p, err := tx.Principal(id)
	if err == nil && !p.User {
		return nil, store.ErrNotFound // a service principal
	}
	return p, err
}

var userFilterRE = regexp.MustCompile(`^(?i)(userPrincipalName|displayName|id)\s+eq\s+'([^']*)'$`)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	s.listDirectory(w, r, userFilterRE, "use userPrincipalName eq '<name>', displayName eq '<name>' or id eq '<id>'",
		func(p *store.Principal, field, value string) bool {
			return p.User && (field == "" || (field == "userprincipalname" && strings.EqualFold(p.UserPrincipalName, value)) ||
				(field == "displayname" && p.DisplayName == value) || (field == "id" && strings.EqualFold(p.ObjectID, value)))
		}, renderUser)
}

func (s *Server) getUser(w http.ResponseWriter, id string) { s.getDirectory(w, id, userOf, renderUser) }

// patchUser changes a user's display name, whether it may sign in, or its
// password; disabling a user ends its portal sessions at their next page.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		AccountEnabled    *bool            `json:"accountEnabled"`
		DisplayName       *string          `json:"displayName"`
		UserPrincipalName *string          `json:"userPrincipalName"`
		PasswordProfile   *passwordProfile `json:"passwordProfile"`
	}
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.DisplayName != nil && !displayNameRE.MatchString(*body.DisplayName) {
		writeError(w, badUser("displayName: 1 to 120 printable characters."))
		return
	}
	hash := ""
	if body.PasswordProfile != nil {
		var e *apiError
		if hash, e = body.PasswordProfile.hashed(); e != nil {
			writeError(w, e)
			return
		}
	}
	err := s.store.Update(func(tx store.Tx) error {
		p, err := userOf(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return errAPI{principalNotFound(id)}
		}
		if err != nil {
			return err
		}
		if body.UserPrincipalName != nil && !strings.EqualFold(*body.UserPrincipalName, p.UserPrincipalName) {
			return errAPI{badUser("userPrincipalName cannot be changed here: create a user with the new name, give it the roles, and delete this one.")}
		}
		if body.DisplayName != nil {
			p.DisplayName = *body.DisplayName
		}
		if body.AccountEnabled != nil {
			if !*body.AccountEnabled {
				if err := lastRootOwner(tx, p.ObjectID, ""); err != nil {
					return err
				}
			}
			p.Disabled = !*body.AccountEnabled
		}
		if hash != "" {
			p.PasswordHash = hash
		}
		return tx.PutPrincipal(p)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteUser deletes a user and its role assignments.
func (s *Server) deleteUser(w http.ResponseWriter, id string) {
	err := s.store.Update(func(tx store.Tx) error {
		p, err := userOf(tx, id)
		if err != nil {
			return err
		}
		return deletePrincipalTx(tx, p.ObjectID)
	})
	s.answerDirectory(w, id, err, func() { w.WriteHeader(http.StatusNoContent) })
}
