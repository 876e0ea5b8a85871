package portal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC signs users in through an external OpenID Connect issuer (Entra
// ID, Dex, Keycloak): the authorization code flow with PKCE (S256), a
// nonce in the ID token, and a state kept on the server and bound to the
// browser that started it by a cookie. github.com/coreos/go-oidc reads the
// discovery document and verifies ID tokens; golang.org/x/oauth2 makes the
// PKCE verifier and exchanges the code.
type OIDC struct {
	issuer   string
	provider *oidc.Provider
	config   oauth2.Config // without RedirectURL: it is the request's
	verifier *oidc.IDTokenVerifier
	hc       *http.Client
}

// NewOIDC reads issuer's discovery document. clientSecret is empty for a
// public client (PKCE alone); hc sends the requests to the issuer.
func NewOIDC(ctx context.Context, issuer, clientID, clientSecret string, hc *http.Client) (*OIDC, error) {
	if clientID == "" {
		return nil, errors.New("the portal's OpenID Connect sign-in needs the client ID registered for it at the issuer")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), issuer)
	if err != nil {
		return nil, fmt.Errorf("failed to read the discovery document of %s: %w", issuer, err)
	}
	return &OIDC{
		issuer: issuer, provider: p,
		config: oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: p.Endpoint(),
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID}),
		hc:       hc,
	}, nil
}

// Issuer is the issuer's URL.
func (o *OIDC) Issuer() string { return o.issuer }

// pendingLogin is a sign-in sent to the issuer, by its state.
type pendingLogin struct {
	nonce, verifier string
	// binding is the value of the browser's oidc cookie: the callback
	// must come back to the browser that started it.
	binding string
	expires time.Time
}

// LoginLifetime is how long a user has at the issuer's login page.
const LoginLifetime = 10 * time.Minute

// maxPending bounds the sign-ins waiting at the issuer.
const maxPending = 10000

const oidcCookie = "arcgitops-portal-oidc"

// callbackPath is where the issuer sends the browser back: register
// <portal URL>/oidc/callback as the client's redirect URI.
const callbackPath = Prefix + "/oidc/callback"

// oidcStart sends the browser to the issuer's login.
func (p *Portal) oidcStart(w http.ResponseWriter, r *http.Request) {
	o := p.opts.OIDC
	if o == nil {
		http.NotFound(w, r)
		return
	}
	if !secure(r) && !loopback(r) {
		http.Error(w, "The portal signs in over HTTPS only.", http.StatusForbidden)
		return
	}
	state, login := token(), &pendingLogin{nonce: token(), verifier: oauth2.GenerateVerifier(), binding: token(),
		expires: p.opts.Now().Add(LoginLifetime)}
	p.mu.Lock()
	now := p.opts.Now()
	for k, l := range p.pending {
		if !now.Before(l.expires) {
			delete(p.pending, k)
		}
	}
	full := len(p.pending) >= maxPending
	if !full {
		p.pending[state] = login
	}
	p.mu.Unlock()
	if full {
		p.signInPage(w, r, "Too many sign-ins are waiting at the issuer: retry in a few minutes.", http.StatusTooManyRequests)
		return
	}
	// Lax, not Strict: the browser comes back from the issuer's site.
	http.SetCookie(w, &http.Cookie{Name: cookieName(r, oidcCookie), Value: login.binding, Path: "/", MaxAge: int(LoginLifetime / time.Second),
		Secure: secure(r), HttpOnly: true, SameSite: http.SameSiteLaxMode})
	cfg := o.config
	cfg.RedirectURL = p.opts.BaseURL(r) + callbackPath
	http.Redirect(w, r, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(login.verifier), oidc.Nonce(login.nonce)), http.StatusFound)
}

// oauthError is an OAuth error code (RFC 6749 section 4.1.2.1); anything
// else in the parameter is not shown.
var oauthError = regexp.MustCompile(`^[a-z_]{1,64}$`)

// oidcCallback ends a sign-in: the state must be one this portal sent,
// from this browser, within LoginLifetime; the code is exchanged with the
// PKCE verifier, and the ID token verified (signature, issuer, audience,
// expiry, nonce). The user is named in role assignments by the token's oid
// claim (Entra ID's object ID) or, without one, its sub.
func (p *Portal) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := p.opts.OIDC
	if o == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	p.mu.Lock()
	login := p.pending[q.Get("state")]
	delete(p.pending, q.Get("state"))
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName(r, oidcCookie), Value: "", Path: "/", MaxAge: -1,
		Secure: secure(r), HttpOnly: true, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(cookieName(r, oidcCookie))
	if login == nil || !p.opts.Now().Before(login.expires) || err != nil || !equal(c.Value, login.binding) {
		p.signInPage(w, r, "That sign-in was not started in this browser, or took longer than 10 minutes: sign in again.", http.StatusBadRequest)
		return
	}
	if e := q.Get("error"); e != "" {
		if !oauthError.MatchString(e) {
			e = "an unknown error"
		}
		p.signInPage(w, r, "The issuer did not sign you in ("+e+"): sign in again, or ask its administrator.", http.StatusUnauthorized)
		return
	}
	who, err := o.exchange(r.Context(), q.Get("code"), p.opts.BaseURL(r)+callbackPath, login)
	if err != nil {
		p.opts.Log.Info("Portal: an OpenID Connect sign-in failed", "issuer", o.issuer, "reason", err.Error())
		p.signInPage(w, r, "The sign-in could not be completed with the issuer: sign in again.", http.StatusUnauthorized)
		return
	}
	p.startSession(w, r, who, true)
}

// exchange trades code for tokens and reads the user of the ID token.
func (o *OIDC) exchange(ctx context.Context, code, redirectURL string, login *pendingLogin) (Principal, error) {
	ctx = oidc.ClientContext(ctx, o.hc)
	cfg := o.config
	cfg.RedirectURL = redirectURL
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(login.verifier))
	if err != nil {
		return Principal{}, fmt.Errorf("the code exchange failed: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return Principal{}, errors.New("the token response has no id_token")
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return Principal{}, fmt.Errorf("the ID token failed verification: %w", err)
	}
	if !equal(idt.Nonce, login.nonce) {
		return Principal{}, errors.New("the ID token's nonce is not the one sent")
	}
	var claims struct {
		OID               string `json:"oid"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
		Email             string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Principal{}, fmt.Errorf("the ID token's claims are not JSON: %w", err)
	}
	id := cmp.Or(claims.OID, idt.Subject)
	if id == "" {
		return Principal{}, errors.New("the ID token has neither an oid nor a sub claim")
	}
	name := cmp.Or(claims.Name, claims.PreferredUsername, claims.Email)
	if name == "" {
		// Issuers that keep the profile out of the ID token serve it at
		// their userinfo endpoint; only the name is taken from there.
		if info, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil && info.Subject == idt.Subject {
			var profile struct {
				Name              string `json:"name"`
				PreferredUsername string `json:"preferred_username"`
			}
			_ = info.Claims(&profile)
			name = cmp.Or(profile.Name, profile.PreferredUsername, info.Email)
		}
	}
	return Principal{ObjectID: id, Issuer: idt.Issuer, Name: cmp.Or(name, id)}, nil
}
