package identity

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are what an access token says about its caller.
type Claims struct {
	jwt.Claims
	// ObjectID names the principal in role assignments.
	ObjectID string `json:"oid,omitempty"`
	AppID    string `json:"appid,omitempty"`
	TenantID string `json:"tid,omitempty"`
	// IdentityType is "app" for service principals, as Entra ID says it.
	IdentityType string `json:"idtyp,omitempty"`
	Version      string `json:"ver,omitempty"`
}

// Principal is who a verified token speaks for.
type Principal struct {
	// ObjectID is what role assignments name.
	ObjectID string
	// AppID is the client ID, when the principal is an application.
	AppID string
	// Issuer is the token's issuer.
	Issuer string
}

// TokenError is why a token was refused, in ARM's words: Code is ARM's
// error code, Reason what the WWW-Authenticate header says. Neither holds
// the token.
type TokenError struct {
	Code   string
	Reason string
}

func (e *TokenError) Error() string { return e.Code + ": " + e.Reason }

func invalid(reason string) *TokenError {
	return &TokenError{Code: "InvalidAuthenticationToken", Reason: reason}
}

// Issuer signs access tokens for the principals of the data plane.
type Issuer struct {
	Keys *KeySet
	// URL is the iss claim, e.g. https://hub.example.com/adfs.
	URL string
	// Audience is the aud claim: the resource ID clients ask tokens for
	// (az's --endpoint-active-directory-resource-id).
	Audience string
	TenantID string
	Lifetime time.Duration
}

// Issue signs an access token for p, valid from now for Lifetime.
func (i *Issuer) Issue(p Principal, now time.Time) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: Algorithm, Key: i.Keys.active},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	c := Claims{
		Claims: jwt.Claims{
			Issuer:    i.URL,
			Audience:  jwt.Audience{i.Audience},
			Subject:   p.ObjectID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute)),
			Expiry:    jwt.NewNumericDate(now.Add(i.Lifetime)),
		},
		ObjectID: p.ObjectID, AppID: p.AppID, TenantID: i.TenantID, IdentityType: "app", Version: "1.0",
	}
	return jwt.Signed(signer).Claims(c).Serialize()
}

// leeway is the clock skew tolerated on exp and nbf.
const leeway = time.Minute

// Verify checks a token's signature (Algorithm, one of the issuer's keys),
// issuer, audience and validity period at now, and says who it speaks for.
func (i *Issuer) Verify(raw string, now time.Time) (Principal, *TokenError) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{Algorithm})
	if err != nil {
		return Principal{}, invalid("The access token is not a signed JWT with algorithm " + string(Algorithm) + ".")
	}
	key, err := i.Keys.verificationKey(tok.Headers[0].KeyID)
	if err != nil {
		return Principal{}, invalid("The access token is signed by a key this issuer does not have.")
	}
	var c Claims
	if err := tok.Claims(key, &c); err != nil {
		return Principal{}, invalid("The access token's signature is invalid.")
	}
	if terr := validate(c.Claims, i.URL, i.Audience, now); terr != nil {
		return Principal{}, terr
	}
	if c.ObjectID == "" {
		return Principal{}, invalid("The access token has no oid claim.")
	}
	return Principal{ObjectID: c.ObjectID, AppID: c.AppID, Issuer: c.Issuer}, nil
}

// validate checks the registered claims as ARM does, naming which failed.
func validate(c jwt.Claims, issuer, audience string, now time.Time) *TokenError {
	err := c.ValidateWithLeeway(jwt.Expected{Issuer: issuer, Time: now}, leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return &TokenError{Code: "ExpiredAuthenticationToken", Reason: "The access token expiry UTC time '" + c.Expiry.Time().UTC().Format(time.RFC3339) + "' is earlier than current UTC time '" + now.UTC().Format(time.RFC3339) + "'."}
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return &TokenError{Code: "InvalidAuthenticationTokenTenant", Reason: fmt.Sprintf("The access token is from the wrong issuer %q: it must be issued by %q.", c.Issuer, issuer)}
	case err != nil:
		return invalid("The access token is not valid yet or has no expiry.")
	case c.Expiry == nil:
		return invalid("The access token has no expiry.")
	case !audienceMatches(c.Audience, audience):
		return &TokenError{Code: "InvalidAuthenticationTokenAudience", Reason: fmt.Sprintf("The access token has an invalid audience %q: it must be %q.", strings.Join(c.Audience, ","), audience)}
	}
	return nil
}

// audienceMatches compares audiences as resource IDs: a trailing slash does
// not matter (az asks for "https://management.local/" and may get either).
func audienceMatches(got jwt.Audience, want string) bool {
	for _, a := range got {
		if strings.TrimSuffix(a, "/") == strings.TrimSuffix(want, "/") {
			return true
		}
	}
	return false
}

// Issued reads the issuer of a token without verifying it, to choose the
// verifier; the verifier then checks everything.
func Issued(raw string) (string, bool) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA})
	if err != nil {
		return "", false
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", false
	}
	return c.Issuer, true
}
