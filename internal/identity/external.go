package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coreos/go-oidc/v3/oidc"
)

// External verifies access tokens of an external OpenID Connect issuer
// (Entra ID, Dex, Keycloak), with the keys its discovery document names.
type External struct {
	issuer   string
	verifier *oidc.IDTokenVerifier
}

// NewExternal reads issuerURL's discovery document; tokens must name
// audience in aud. hc is the HTTP client for discovery and keys.
func NewExternal(ctx context.Context, issuerURL, audience string, hc *http.Client) (*External, error) {
	if audience == "" {
		return nil, errors.New("an external issuer needs an audience: the aud its access tokens carry for this hub")
	}
	ctx = oidc.ClientContext(context.WithoutCancel(ctx), hc)
	p, err := oidc.NewProvider(ctx, issuerURL)
	if err != nil {
		return nil, fmt.Errorf("failed to read the discovery document of %s: %w", issuerURL, err)
	}
	return &External{issuer: issuerURL, verifier: p.Verifier(&oidc.Config{ClientID: audience})}, nil
}

// Issuer is the issuer URL the tokens must name.
func (e *External) Issuer() string { return e.issuer }

// Verify checks raw and returns its principal: the oid claim (Entra ID's
// object ID) or, without one, sub.
func (e *External) Verify(ctx context.Context, raw string) (Principal, *TokenError) {
	tok, err := e.verifier.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return Principal{}, &TokenError{Code: "ExpiredAuthenticationToken", Reason: "The access token has expired."}
		}
		return Principal{}, invalid("The access token of " + e.issuer + " failed verification (signature, audience or validity).")
	}
	var c struct {
		OID   string `json:"oid"`
		AppID string `json:"appid"`
		AZP   string `json:"azp"`
	}
	if err := tok.Claims(&c); err != nil {
		return Principal{}, invalid("The access token's claims are not JSON.")
	}
	p := Principal{ObjectID: c.OID, AppID: c.AppID, Issuer: tok.Issuer}
	if p.ObjectID == "" {
		p.ObjectID = tok.Subject
	}
	if p.AppID == "" {
		p.AppID = c.AZP
	}
	if p.ObjectID == "" {
		return Principal{}, invalid("The access token has neither an oid nor a sub claim.")
	}
	return p, nil
}
