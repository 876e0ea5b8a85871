package dataplane

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
)

// The hub is its own directory. Its service principals are served in the
// shape of Microsoft Graph's (/v1.0/servicePrincipals, addPassword,
// removePassword), authorized by these actions at the root scope, which
// only Owner and User Access Administrator there hold by default.
const (
	readPrincipals   = "Microsoft.Directory/servicePrincipals/read"
	writePrincipals  = "Microsoft.Directory/servicePrincipals/write"
	deletePrincipals = "Microsoft.Directory/servicePrincipals/delete"
)

// routePrincipals serves /v1.0/servicePrincipals[/{id}[/addPassword|
// removePassword]]; it reports whether segs were one of them.
func (s *Server) routePrincipals(w http.ResponseWriter, r *http.Request, segs []string) bool {
	if len(segs) < 2 || segs[0] != "v1.0" || !strings.EqualFold(segs[1], "servicePrincipals") {
		return false
	}
	switch {
	case len(segs) == 2:
		setRoute(r, "serviceprincipals")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:  s.guard(readPrincipals, "/", s.listPrincipals),
			http.MethodPost: s.guard(writePrincipals, "/", s.createPrincipal),
		})
	case len(segs) == 3:
		setRoute(r, "serviceprincipal")
		id := segs[2]
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:    s.guard(readPrincipals, "/", func(w http.ResponseWriter, _ *http.Request) { s.getPrincipal(w, id) }),
			http.MethodDelete: s.guard(deletePrincipals, "/", func(w http.ResponseWriter, _ *http.Request) { s.deletePrincipal(w, id) }),
		})
	case len(segs) == 4 && strings.EqualFold(segs[3], "addPassword"):
		setRoute(r, "serviceprincipal-addpassword")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: s.guard(writePrincipals, "/", func(w http.ResponseWriter, r *http.Request) { s.addPassword(w, r, segs[2]) }),
		})
	case len(segs) == 4 && strings.EqualFold(segs[3], "removePassword"):
		setRoute(r, "serviceprincipal-removepassword")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: s.guard(writePrincipals, "/", func(w http.ResponseWriter, r *http.Request) { s.removePassword(w, r, segs[2]) }),
		})
	default:
		writeError(w, notFoundPath(r))
	}
	return true
}

func principalNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

func renderCredential(c *store.Credential) map[string]any {
	return map[string]any{"keyId": c.KeyID, "hint": c.Hint, "displayName": c.DisplayName,
		"startDateTime": c.StartDate.UTC().Format(time.RFC3339), "endDateTime": c.EndDate.UTC().Format(time.RFC3339), "secretText": nil}
}

func renderPrincipal(p *store.Principal) map[string]any {
	creds := make([]map[string]any, 0, len(p.Credentials))
	for i := range p.Credentials {
		creds = append(creds, renderCredential(&p.Credentials[i]))
	}
	return map[string]any{
		"id": p.ObjectID, "appId": p.AppID, "displayName": p.DisplayName, "servicePrincipalType": "Application",
		"servicePrincipalNames": []string{p.AppID}, "accountEnabled": true,
		"createdDateTime": p.CreatedAt.UTC().Format(time.RFC3339), "passwordCredentials": creds,
	}
}

var principalFilterRE = regexp.MustCompile(`^(?i)(appId|displayName|id)\s+eq\s+'([^']*)'$`)

func (s *Server) listPrincipals(w http.ResponseWriter, r *http.Request) {
	s.listDirectory(w, r, principalFilterRE, "use appId eq '<id>', displayName eq '<name>' or id eq '<id>'",
		func(p *store.Principal, field, value string) bool {
			return !p.User && (field == "" || (field == "appid" && strings.EqualFold(p.AppID, value)) ||
				(field == "displayname" && p.DisplayName == value) || (field == "id" && strings.EqualFold(p.ObjectID, value)))
		}, renderPrincipal)
}

// listDirectory answers a Graph list of the principals keep selects,
// filtered by a $filter "<field> eq '<value>'" that filter matches (usage
// says which fields), by display name.
func (s *Server) listDirectory(w http.ResponseWriter, r *http.Request, filter *regexp.Regexp, usage string,
	keep func(p *store.Principal, field, value string) bool, render func(*store.Principal) map[string]any) {
	var field, value string
	if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
		m := filter.FindStringSubmatch(f)
		if m == nil {
			writeError(w, &apiError{http.StatusBadRequest, "BadRequest", "$filter: " + usage + "."})
			return
		}
		field, value = strings.ToLower(m[1]), m[2]
	}
	var all []store.Principal
	if err := s.store.View(func(tx store.Tx) (err error) { all, err = tx.Principals(); return err }); err != nil {
		s.fail(w, err)
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].DisplayName < all[j].DisplayName })
	out := []map[string]any{}
	for i := range all {
		if keep(&all[i], field, value) {
			out = append(out, render(&all[i]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *Server) getPrincipal(w http.ResponseWriter, id string) {
	s.getDirectory(w, id, servicePrincipalOf, renderPrincipal)
}

// getDirectory answers the principal find finds by id, or Graph's 404.
func (s *Server) getDirectory(w http.ResponseWriter, id string, find func(store.Tx, string) (*store.Principal, error), render func(*store.Principal) map[string]any) {
	var p *store.Principal
	err := s.store.View(func(tx store.Tx) (err error) { p, err = find(tx, id); return err })
	s.answerDirectory(w, id, err, func() { writeJSON(w, http.StatusOK, render(p)) })
}

// answerDirectory answers a directory request that ended with err: Graph's
// 404 for a missing principal, else ok.
func (s *Server) answerDirectory(w http.ResponseWriter, id string, err error, ok func()) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, principalNotFound(id))
	case err != nil:
		s.fail(w, err)
	default:
		ok()
	}
}

var displayNameRE = regexp.MustCompile(`^[^\x00-\x1f]{1,120}$`)

// createPrincipal makes a service principal (with its application: the
// hub has no separate application objects) without a secret; addPassword
// gives it one.
func (s *Server) createPrincipal(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DisplayName string `json:"displayName"`
	}
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if !displayNameRE.MatchString(body.DisplayName) {
		writeError(w, &apiError{http.StatusBadRequest, "Request_BadRequest", "displayName is required: 1 to 120 printable characters."})
		return
	}
	p, _, err := newPrincipal(body.DisplayName, s.opts.Now())
	if err != nil {
		s.fail(w, err)
		return
	}
	p.Credentials = nil
	if err := s.store.Update(func(tx store.Tx) error { return tx.PutPrincipal(p) }); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, renderPrincipal(p))
}

// hasRootOwner reports whether an existing principal holds Owner at the
// root scope, leaving out principal exceptPrincipal and assignment
// exceptAssignment (either may be "").
func hasRootOwner(tx store.Tx, exceptPrincipal, exceptAssignment string) (bool, error) {
	all, err := tx.RoleAssignments()
	if err != nil {
		return false, err
	}
	for _, a := range all {
		if armrbac.NormalizeScope(a.Scope) == "/" && strings.EqualFold(roleGUID(a.RoleDefinitionID), armrbac.Owner.ID) &&
			!strings.EqualFold(a.PrincipalID, exceptPrincipal) && !strings.EqualFold(a.ID, exceptAssignment) {
			if p, err := tx.Principal(a.PrincipalID); err == nil && !p.Disabled {
				return true, nil
			}
		}
	}
	return false, nil
}

// lastRootOwner refuses a change that would leave no principal holding
// Owner at the root scope, besides principal withoutPrincipal or
// assignment withoutAssignment.
func lastRootOwner(tx store.Tx, withoutPrincipal, withoutAssignment string) error {
	ok, err := hasRootOwner(tx, withoutPrincipal, withoutAssignment)
	if err != nil || ok {
		return err
	}
	return errAPI{&apiError{http.StatusConflict, "LastOwner",
		"This would leave no principal with Owner at the root scope '/', and the hub without anyone who can assign roles: assign Owner at '/' to another principal first."}}
}

// deletePrincipal deletes a principal and its role assignments; its tokens
// stop working at once.
func (s *Server) deletePrincipal(w http.ResponseWriter, id string) {
	err := s.store.Update(func(tx store.Tx) error {
		if _, err := servicePrincipalOf(tx, id); err != nil {
			return err
		}
		return deletePrincipalTx(tx, id)
	})
	s.answerDirectory(w, id, err, func() { w.WriteHeader(http.StatusNoContent) })
}

// servicePrincipalOf is the service principal id (ErrNotFound for a user:
// /v1.0/users serves those).
func servicePrincipalOf(tx store.Tx, id string) (*store.Principal, error) {
	p, err := tx.Principal(id)
	if err == nil && p.User {
		return nil, store.ErrNotFound
	}
	return p, err
}

// deletePrincipalTx deletes principal id and its role assignments, unless
// it is the last owner at the root scope.
func deletePrincipalTx(tx store.Tx, id string) error {
	if err := lastRootOwner(tx, id, ""); err != nil {
		return err
	}
	assignments, err := tx.RoleAssignmentsOf(id)
	if err != nil {
		return err
	}
	for _, a := range assignments {
		if err := tx.DeleteRoleAssignment(a.ID); err != nil {
			return err
		}
	}
	return tx.DeletePrincipal(id)
}

// addPassword gives a principal a new secret, answered once and stored
// hashed.
func (s *Server) addPassword(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		PasswordCredential struct {
			DisplayName string     `json:"displayName"`
			EndDateTime *time.Time `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	now := s.opts.Now()
	end := now.Add(credentialLifetime)
	if t := body.PasswordCredential.EndDateTime; t != nil {
		if !t.After(now) {
			writeError(w, &apiError{http.StatusBadRequest, "Request_BadRequest", "passwordCredential.endDateTime must be in the future."})
			return
		}
		end = *t
	}
	secret, hash, err := identity.NewSecret()
	if err != nil {
		s.fail(w, err)
		return
	}
	cred := store.Credential{KeyID: uuid.NewString(), Hash: hash, Hint: identity.Hint(secret), StartDate: now, EndDate: end,
		DisplayName: body.PasswordCredential.DisplayName}
	err = s.updatePrincipal(id, func(p *store.Principal) error {
		if len(p.Credentials) >= 10 {
			return errAPI{&apiError{http.StatusBadRequest, "Request_BadRequest", "A principal has at most 10 secrets: remove one with removePassword first."}}
		}
		p.Credentials = append(p.Credentials, cred)
		return nil
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	out := renderCredential(&cred)
	out["secretText"] = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) removePassword(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		KeyID string `json:"keyId"`
	}
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	err := s.updatePrincipal(id, func(p *store.Principal) error {
		kept := p.Credentials[:0]
		for _, c := range p.Credentials {
			if !strings.EqualFold(c.KeyID, body.KeyID) {
				kept = append(kept, c)
			}
		}
		if len(kept) == len(p.Credentials) {
			return errAPI{&apiError{http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("The principal has no secret with keyId '%s'.", body.KeyID)}}
		}
		p.Credentials = kept
		return nil
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// updatePrincipal changes principal id with fn in one transaction; a
// missing principal is Graph's 404.
func (s *Server) updatePrincipal(id string, fn func(*store.Principal) error) error {
	return s.store.Update(func(tx store.Tx) error {
		p, err := servicePrincipalOf(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return errAPI{principalNotFound(id)}
		}
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		return tx.PutPrincipal(p)
	})
}
