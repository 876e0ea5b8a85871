package dataplane

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

const adaPassword = "Correct-Horse-7"

// adaBody is az ad user create's body for ada, with edits.
func adaBody(edits ...string) string {
	body := `{"accountEnabled": true, "displayName": "Ada Lovelace", "mailNickname": "ada", "userPrincipalName": "ada@contoso.com",` +
		` "passwordProfile": {"password": "` + adaPassword + `", "forceChangePasswordNextSignIn": false}}`
	for i := 0; i+1 < len(edits); i += 2 {
		body = strings.Replace(body, edits[i], edits[i+1], 1)
	}
	return body
}

// TestUsers: the owner makes, reads, changes and deletes users through
// Graph's /v1.0/users; bad bodies change nothing; a user is never a service
// principal; passwords are never answered or stored.
func TestUsers(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	principals := func() int {
		var n int
		g.Expect(f.srv.store.View(func(tx store.Tx) error { all, err := tx.Principals(); n = len(all); return err })).To(Succeed())
		return n
	}
	before := principals()
	for _, tc := range []struct {
		name, body, says string
	}{
		{"no accountEnabled", adaBody(`"accountEnabled": true, `, ""), "accountEnabled is required"},
		{"no name", adaBody(`"Ada Lovelace"`, `""`), "displayName is required"},
		{"not name@domain", adaBody("ada@contoso.com", "ada"), "userPrincipalName is required"},
		{"a space in the name", adaBody("ada@contoso.com", "a da@contoso.com"), "userPrincipalName is required"},
		{"no password", adaBody(`, "passwordProfile": {"password": "`+adaPassword+`", "forceChangePasswordNextSignIn": false}`, ""), "passwordProfile.password is required"},
		{"a weak password", adaBody(adaPassword, "horsehorse"), "complexity requirements"},
		{"a change at sign-in", adaBody(`"forceChangePasswordNextSignIn": false`, `"forceChangePasswordNextSignIn": true`), "forceChangePasswordNextSignIn must be false"},
		{"an unknown field", adaBody(`"mailNickname"`, `"mailNicknam"`), "mailNicknam"},
	} {
		r := f.do(http.MethodPost, "/v1.0/users", tc.body)
		g.Expect(r.status).To(Equal(http.StatusBadRequest), tc.name)
		g.Expect(string(r.body)).To(ContainSubstring(tc.says), tc.name)
		g.Expect(string(r.body)).NotTo(ContainSubstring(adaPassword), tc.name)
	}
	g.Expect(principals()).To(Equal(before), "a refused body changes nothing")

	r := f.do(http.MethodPost, "/v1.0/users", adaBody())
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	ada := r.json(t)
	id := ada["id"].(string)
	g.Expect(ada).To(And(HaveKeyWithValue("userPrincipalName", "ada@contoso.com"), HaveKeyWithValue("accountEnabled", true),
		HaveKeyWithValue("mailNickname", "ada"), Not(HaveKey("passwordProfile"))))
	r = f.do(http.MethodPost, "/v1.0/users", adaBody("ada@contoso.com", "ADA@Contoso.com"))
	g.Expect(r.status).To(Equal(http.StatusBadRequest))
	g.Expect(string(r.body)).To(ContainSubstring("already exists"))

	// Read by ID, by name, listed; never as a service principal, nor a
	// service principal as a user.
	for _, path := range []string{"/v1.0/users/" + id, "/v1.0/users/Ada@contoso.com"} {
		r = f.do(http.MethodGet, path, "")
		g.Expect(r.status).To(Equal(http.StatusOK), path)
		g.Expect(r.json(t)["id"]).To(Equal(id))
	}
	r = f.do(http.MethodGet, "/v1.0/users?$filter="+url.QueryEscape("userPrincipalName eq 'ada@contoso.com'"), "")
	g.Expect(r.json(t)["value"]).To(HaveLen(1))
	g.Expect(f.do(http.MethodGet, "/v1.0/servicePrincipals/"+id, "").status).To(Equal(http.StatusNotFound))
	g.Expect(string(f.do(http.MethodGet, "/v1.0/servicePrincipals", "").body)).NotTo(ContainSubstring(id))
	owner := f.ownerCredentials()
	g.Expect(f.do(http.MethodGet, "/v1.0/users/"+owner.ObjectID, "").status).To(Equal(http.StatusNotFound))
	g.Expect(string(f.do(http.MethodGet, "/v1.0/users", "").body)).NotTo(ContainSubstring(owner.ObjectID))

	// A user's name and password are no client credentials.
	for _, clientID := range []string{"ada@contoso.com", "user:ada@contoso.com"} {
		_, err := f.signIn(clientID, adaPassword)
		g.Expect(err).To(HaveOccurred(), clientID)
	}

	// At rest: a salted hash, not the password.
	raw := f.atRest()
	g.Expect(bytes.Contains(raw, []byte(adaPassword))).To(BeFalse())
	g.Expect(bytes.Contains(raw, []byte("$argon2id$"))).To(BeTrue())

	// Only who may manage the directory may: a Reader at / may not.
	_, readerTok := f.principal("reader", "Reader", "/")
	g.Expect(f.as(readerTok, http.MethodPost, "/v1.0/users", adaBody("ada@", "bob@")).status).To(Equal(http.StatusForbidden))
	g.Expect(f.as(readerTok, http.MethodGet, "/v1.0/users", "").status).To(Equal(http.StatusOK))

	// Changed: the name stays; deleted: with its role assignments.
	r = f.do(http.MethodPatch, "/v1.0/users/"+id, `{"userPrincipalName": "lovelace@contoso.com"}`)
	g.Expect(r.status).To(Equal(http.StatusBadRequest))
	g.Expect(string(r.body)).To(ContainSubstring("cannot be changed"))
	g.Expect(f.do(http.MethodPatch, "/v1.0/users/"+id, `{"displayName": "Countess Lovelace"}`).status).To(Equal(http.StatusNoContent))
	g.Expect(f.do(http.MethodGet, "/v1.0/users/"+id, "").json(t)["displayName"]).To(Equal("Countess Lovelace"))
	f.assign(id, "Reader", sub1)
	g.Expect(f.do(http.MethodDelete, "/v1.0/users/ada@contoso.com", "").status).To(Equal(http.StatusNoContent))
	g.Expect(f.do(http.MethodGet, "/v1.0/users/"+id, "").status).To(Equal(http.StatusNotFound))
	g.Expect(f.srv.store.View(func(tx store.Tx) error {
		as, err := tx.RoleAssignmentsOf(id)
		g.Expect(as).To(BeEmpty())
		return err
	})).To(Succeed())
}

// TestPortalUserSignIn: a user signs in to the portal with its name and
// password, and sees what its roles allow; a wrong password, a disabled
// user and a changed password are refused, and disabling a user ends its
// session.
func TestPortalUserSignIn(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	graphFleet(f)
	r := f.do(http.MethodPost, "/v1.0/users", adaBody())
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	id := r.json(t)["id"].(string)
	f.assign(id, "Reader", sub1+"/resourceGroups/other")

	signIn := func(b *browser, name, password string) (int, string) {
		_, _, page := b.do(http.MethodGet, "/portal/signin", nil)
		status, _, page := b.do(http.MethodPost, "/portal/signin", url.Values{"csrf": {csrfOf(t, page)}, "appId": {name}, "secret": {password}})
		return status, page
	}
	b := f.browser()
	status, page := signIn(b, "ada@contoso.com", "Correct-Horse-8")
	g.Expect(status).To(Equal(http.StatusUnauthorized))
	g.Expect(page).To(ContainSubstring("is wrong"))
	status, _ = signIn(b, "nobody@contoso.com", adaPassword)
	g.Expect(status).To(Equal(http.StatusUnauthorized), "an unknown user is answered as a wrong password")
	page = b.signIn(t, "ADA@contoso.com", adaPassword)
	g.Expect(page).To(ContainSubstring("Signed in as Ada Lovelace"))
	g.Expect(page).To(ContainSubstring("<strong>1</strong> clusters"), "the Reader of resource group other sees its one cluster")

	// Disabled: the session ends at the next page, and no sign-in works.
	g.Expect(f.do(http.MethodPatch, "/v1.0/users/"+id, `{"accountEnabled": false}`).status).To(Equal(http.StatusNoContent))
	status, _, page = b.do(http.MethodGet, "/portal/", nil)
	g.Expect(status).To(Equal(http.StatusUnauthorized))
	g.Expect(page).To(ContainSubstring("deleted or disabled since you signed in"))
	status, h, _ := b.do(http.MethodGet, "/portal/", nil)
	g.Expect(status).To(Equal(http.StatusSeeOther), "the session is gone")
	g.Expect(h.Get("Location")).To(Equal("/portal/signin"))
	status, _ = signIn(f.browser(), "ada@contoso.com", adaPassword)
	g.Expect(status).To(Equal(http.StatusUnauthorized))

	// Enabled with a new password: the old one is refused.
	g.Expect(f.do(http.MethodPatch, "/v1.0/users/"+id, `{"accountEnabled": true, "passwordProfile": {"password": "Analytical-Engine-1843"}}`).status).To(Equal(http.StatusNoContent))
	status, _ = signIn(f.browser(), "ada@contoso.com", adaPassword)
	g.Expect(status).To(Equal(http.StatusUnauthorized))
	f.browser().signIn(t, "ada@contoso.com", "Analytical-Engine-1843")
}
