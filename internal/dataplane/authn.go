package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
)

// caller is the authenticated principal of an ARM request and the roles it
// holds.
type caller struct {
	identity.Principal
	grants []armrbac.Grant
}

// can reports whether the caller may perform action at scope.
func (c *caller) can(action, scope string) bool { return armrbac.Allowed(c.grants, action, scope) }

// name is how the activity log and errors name the caller: its app ID when
// it has one, else its object ID.
func (c *caller) name() string {
	if c.AppID != "" {
		return c.AppID
	}
	return c.ObjectID
}

type callerKey struct{}

// callerOf is the request's caller, set by authenticate.
func callerOf(r *http.Request) *caller {
	c, _ := r.Context().Value(callerKey{}).(*caller)
	return c
}

// authenticate checks the bearer token of an ARM request and loads the
// caller's role assignments; it answers 401 itself and returns nil when the
// token is missing or bad.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *http.Request {
	p, signedIn := r.Context().Value(portalPrincipalKey{}).(identity.Principal)
	if !signedIn {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			s.unauthorized(w, r, &identity.TokenError{Code: "AuthenticationFailed", Reason: "Authentication failed. The 'Authorization' header is missing or is not 'Bearer <access token>'."})
			return nil
		}
		var terr *identity.TokenError
		if s.external != nil && issuedBy(raw, s.external.Issuer()) {
			p, terr = s.external.Verify(r.Context(), raw)
		} else {
			p, terr = s.issuer.Verify(raw, s.opts.Now())
		}
		if terr != nil {
			s.unauthorized(w, r, terr)
			return nil
		}
	}
	c, err := s.callerOf(p)
	if errors.Is(err, store.ErrNotFound) {
		s.unauthorized(w, r, &identity.TokenError{Code: "InvalidAuthenticationToken", Reason: "The access token's principal no longer exists."})
		return nil
	}
	if err != nil {
		s.fail(w, err)
		return nil
	}
	if info := infoOf(r); info != nil {
		info.caller = c
	}
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
}

// portalPrincipalKey holds, in the context of the portal's in-process ARM
// requests, the principal of the session that sends them (signed in by the
// portal: no token to verify).
type portalPrincipalKey struct{}

// activePrincipal is nil when p may still act: one of the built-in
// issuer's principals must exist and not be disabled (ErrNotFound
// otherwise: its tokens and sessions stop at once); an external issuer's
// are its own to end.
func activePrincipal(tx store.Tx, p identity.Principal, builtIn string) error {
	if p.Issuer != builtIn {
		return nil
	}
	pr, err := tx.Principal(p.ObjectID)
	if err == nil && pr.Disabled {
		err = store.ErrNotFound
	}
	return err
}

// callerOf is p with its role assignments; ErrNotFound when p is one of
// the built-in issuer's principals and has been deleted (its tokens, and
// its portal sessions, stop working at once).
func (s *Server) callerOf(p identity.Principal) (*caller, error) {
	c := &caller{Principal: p}
	err := s.store.View(func(tx store.Tx) error {
		if err := activePrincipal(tx, p, s.issuer.URL); err != nil {
			return err
		}
		assignments, err := tx.RoleAssignmentsOf(p.ObjectID)
		if err != nil {
			return err
		}
		for _, a := range assignments {
			if role, ok := armrbac.RoleByID(a.RoleDefinitionID); ok {
				c.grants = append(c.grants, armrbac.Grant{Scope: a.Scope, Role: role})
			}
		}
		return nil
	})
	return c, err
}

// issuedBy reports whether raw names issuer as its iss; only then does the
// external verifier look at it (nothing is parsed twice without one).
func issuedBy(raw, issuer string) bool {
	iss, _ := identity.Issued(raw)
	return iss == issuer
}

// unauthorized is ARM's 401, with a WWW-Authenticate header that tells a
// client where to get a token.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, terr *identity.TokenError) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri=%q, error="invalid_token", error_description=%q`,
		s.baseURL(r)+"/adfs/oauth2/authorize", terr.Reason))
	writeError(w, &apiError{http.StatusUnauthorized, terr.Code, terr.Reason})
}

// forbidden is ARM's 403 AuthorizationFailed, naming the action and scope.
func forbidden(c *caller, action, scope string) *apiError {
	return &apiError{http.StatusForbidden, "AuthorizationFailed", fmt.Sprintf(
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		c.name(), c.ObjectID, action, scope)}
}

// guard runs h when the caller may perform action at scope, and answers 403
// otherwise. It records the operation for the activity log either way.
func (s *Server) guard(action, scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setOperation(r, action, scope)
		c := callerOf(r)
		if c == nil {
			s.fail(w, errors.New("guard reached without a caller"))
			return
		}
		if !c.can(action, scope) {
			writeError(w, forbidden(c, action, scope))
			return
		}
		h(w, r)
	}
}
