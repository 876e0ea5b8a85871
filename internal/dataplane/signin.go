package dataplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
)

// DefaultAudience is the audience of the built-in issuer's tokens when none
// is configured.
const DefaultAudience = arm.DefaultAudience

// OwnerCredentialsFile is the file in the data directory where start writes
// the credentials of the owner principal it makes when no principal holds
// Owner at the root scope (first start, or recovery).
const OwnerCredentialsFile = "owner-credentials.json"

// Credentials are a service principal's sign-in, in the shape
// `az ad sp create-for-rbac` prints.
type Credentials struct {
	AppID       string `json:"appId"`
	DisplayName string `json:"displayName"`
	Password    string `json:"password"`
	Tenant      string `json:"tenant"`
	ObjectID    string `json:"objectId"`
}

// ReadCredentials reads a credentials file such as OwnerCredentialsFile.
func ReadCredentials(path string) (Credentials, error) {
	var c Credentials
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.AppID == "" || c.Password == "" {
		return c, fmt.Errorf("%s is not a credentials file (appId and password)", path)
	}
	return c, nil
}

// credentialLifetime is how long a new secret is valid, as az's default.
const credentialLifetime = 365 * 24 * time.Hour

// newPrincipal makes a principal with one secret, returning the secret.
func newPrincipal(displayName string, now time.Time) (*store.Principal, string, error) {
	secret, hash, err := identity.NewSecret()
	if err != nil {
		return nil, "", err
	}
	p := &store.Principal{
		ObjectID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: displayName, CreatedAt: now,
		Credentials: []store.Credential{{KeyID: uuid.NewString(), Hash: hash, Hint: identity.Hint(secret),
			StartDate: now, EndDate: now.Add(credentialLifetime)}},
	}
	return p, secret, nil
}

// ensureOwner makes an owner when no principal holds Owner at the root
// scope (first start), or when Options.NewOwner asks for one (the way back
// in for whoever holds the data directory, after the owners' secrets are
// lost). Its credentials go to OwnerCredentialsFile (0600), never to the
// log.
func (s *Server) ensureOwner() error {
	creds, err := MakeOwner(s.store, s.opts.TenantID, s.opts.Now(), s.opts.NewOwner)
	if err != nil || creds == nil {
		return err
	}
	path := filepath.Join(s.opts.DataDir, OwnerCredentialsFile)
	raw, _ := json.MarshalIndent(creds, "", "  ")
	if err := writeFile0600(path, append(raw, '\n')); err != nil {
		return fmt.Errorf("failed to write the owner's credentials: %w", err)
	}
	s.opts.Log.Info("Made an owner principal (Owner at the root scope); its credentials are in the file (0600): sign in with them and keep them safe",
		"file", path, "appId", creds.AppID, "objectId", creds.ObjectID)
	return nil
}

// MakeOwner makes, in one transaction, a principal holding Owner at the
// root scope, unless one exists already (always: even then), and returns
// its credentials (nil when one existed). Replicas starting together on
// an empty store make one owner between them: the check and the write are
// one serializable transaction.
func MakeOwner(st store.Store, tenantID string, now time.Time, always bool) (*Credentials, error) {
	var creds *Credentials
	err := st.Update(func(tx store.Tx) error {
		creds = nil
		if !always {
			if ok, err := hasRootOwner(tx, "", ""); err != nil || ok {
				return err
			}
		}
		p, secret, err := newPrincipal("arcgitops-owner", now)
		if err != nil {
			return err
		}
		if err := tx.PutPrincipal(p); err != nil {
			return err
		}
		name := uuid.NewString()
		if err := tx.PutRoleAssignment(&store.RoleAssignment{
			ID: "/providers/Microsoft.Authorization/roleAssignments/" + name, Name: name, Scope: "/",
			RoleDefinitionID: roleDefinitionID("/", armrbac.Owner.ID), PrincipalID: p.ObjectID, PrincipalType: "ServicePrincipal",
			Description: "Made at start, as the hub's owner.", CreatedOn: now, UpdatedOn: now,
		}); err != nil {
			return err
		}
		creds = &Credentials{AppID: p.AppID, DisplayName: p.DisplayName, Password: secret, Tenant: tenantID, ObjectID: p.ObjectID}
		return nil
	})
	return creds, err
}

func writeFile0600(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// routeSignIn serves the ADFS-shaped issuer: discovery, token, keys. It
// reports whether the path was one of them.
func (s *Server) routeSignIn(w http.ResponseWriter, r *http.Request, segs []string) bool {
	if len(segs) == 0 || !strings.EqualFold(segs[0], "adfs") {
		return false
	}
	p := strings.ToLower(strings.Join(segs[1:], "/"))
	switch p {
	case ".well-known/openid-configuration":
		setRoute(r, "adfs-discovery")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.discovery})
	case "discovery/keys":
		setRoute(r, "adfs-keys")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "max-age=300")
			writeJSON(w, http.StatusOK, s.issuer.Keys.JWKS())
		}})
	case "oauth2/token":
		setRoute(r, "adfs-token")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodPost: s.token})
	case "oauth2/authorize":
		setRoute(r, "adfs-authorize")
		writeOAuthError(w, http.StatusBadRequest, "unsupported_response_type",
			"This issuer signs in service principals only (grant_type=client_credentials at the token endpoint).")
	default:
		writeError(w, notFoundPath(r))
	}
	return true
}

// discovery is the OpenID configuration az (MSAL) reads for an ADFS
// authority.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(r) + "/adfs"
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer.URL,
		"authorization_endpoint":                base + "/oauth2/authorize",
		"token_endpoint":                        base + "/oauth2/token",
		"jwks_uri":                              base + "/discovery/keys",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"client_credentials"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{string(identity.Algorithm)},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"scopes_supported":                      []string{"openid"},
		"access_token_issuer":                   s.issuer.URL,
	})
}

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// token serves the client credentials grant. Wrong secrets count against
// their client ID and address only: past the burst, that pair is answered
// 429 without looking at the secret, and every other client signs in as
// before.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The body must be application/x-www-form-urlencoded, under 64 KiB.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials; this issuer signs in service principals.")
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok {
		clientID, secret = id, sec
	}
	if clientID == "" || secret == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Give client_id and client_secret (in the body, or as HTTP Basic authentication).")
		return
	}
	if e := s.checkResource(r.PostForm.Get("scope"), r.PostForm.Get("resource")); e != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", e)
		return
	}
	failKey := "signin:" + clientID + "|" + clientIP(r)
	if !s.signinFailures.has(failKey) {
		writeOAuthError(w, http.StatusTooManyRequests, "temporarily_unavailable", "Too many failed sign-ins for this client from this address: wait and retry.")
		return
	}
	p, err := s.checkSecret(clientID, secret)
	if err != nil {
		if errors.Is(err, errBadSecret) {
			s.signinFailures.allow(failKey)
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "The client ID or secret is wrong, or the secret has expired.")
			return
		}
		s.opts.Log.Error(err, "Failed to check a client secret")
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "The issuer failed; it has been logged.")
		return
	}
	tok, err := s.issuer.Issue(identity.Principal{ObjectID: p.ObjectID, AppID: p.AppID}, s.opts.Now())
	if err != nil {
		s.opts.Log.Error(err, "Failed to sign a token")
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "The issuer failed; it has been logged.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	secs := int(s.issuer.Lifetime / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "access_token": tok, "expires_in": secs, "ext_expires_in": secs,
		"resource": s.issuer.Audience,
	})
}

var errBadSecret = errors.New("wrong client ID or secret")

// unknownClientHash is compared against for a client ID that does not exist.
var unknownClientHash = identity.HashSecret("no such client")

// checkSecret finds clientID's principal and one of its unexpired secrets
// equal to secret.
func (s *Server) checkSecret(clientID, secret string) (*store.Principal, error) {
	var p *store.Principal
	err := s.store.View(func(tx store.Tx) (err error) { p, err = tx.PrincipalByAppID(clientID); return err })
	if errors.Is(err, store.ErrNotFound) {
		// As long as a known client's check: answers do not tell which
		// client IDs exist.
		identity.SecretMatches(secret, unknownClientHash)
		return nil, errBadSecret
	}
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	for _, c := range p.Credentials {
		if identity.SecretMatches(secret, c.Hash) && now.Before(c.EndDate) {
			return p, nil
		}
	}
	return nil, errBadSecret
}

// checkResource accepts a token request for this issuer's audience: as an
// MSAL scope ("<audience>/.default") or an ADFS resource; neither means the
// audience. It returns what is wrong, or "".
func (s *Server) checkResource(scope, resource string) string {
	want := strings.TrimSuffix(s.issuer.Audience, "/")
	if resource != "" && strings.TrimSuffix(resource, "/") != want {
		return fmt.Sprintf("resource %q is not served here: ask for %q", resource, s.issuer.Audience)
	}
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "profile", "offline_access":
			continue
		}
		if strings.TrimSuffix(strings.TrimSuffix(sc, "/.default"), "/") != want {
			return fmt.Sprintf("scope %q is not served here: ask for %q", sc, want+"/.default")
		}
	}
	return ""
}
