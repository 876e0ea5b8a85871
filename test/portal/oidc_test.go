package portal_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/dataplanetest"
)

// oidcHub is a hub whose portal signs users in through an external
// issuer: zitadel's example OpenID Provider (github.com/zitadel/oidc, a
// certified implementation, with its own login page and users), the
// portal registered there as a confidential client. The issuer's user id1
// is a Reader of the subscription, which holds one cluster.
func oidcHub(t *testing.T) (hubURL, issuer string, hub *httptest.Server) {
	t.Helper()
	idpListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer = "http://" + idpListener.Addr().String() + "/"
	hubURL = "https://" + hubListener.Addr().String()
	storage.RegisterClients(storage.WebClient("arcgitops-portal", "portal-secret", hubURL+"/portal/oidc/callback"))
	idp := httptest.NewUnstartedServer(exampleop.SetupServer(issuer, storage.NewStorage(storage.NewUserStore(issuer)), nil, false))
	idp.Listener = idpListener
	idp.Start()
	t.Cleanup(idp.Close)

	srv := dataplanetest.New(t, func(o *dataplane.Options) {
		o.OIDCIssuerURL, o.OIDCAudience = issuer, "api://arcgitops"
		o.PortalOIDCClientID, o.PortalOIDCClientSecret = "arcgitops-portal", "portal-secret"
	})
	hub = httptest.NewUnstartedServer(srv.Handler())
	hub.Listener = hubListener
	hub.StartTLS()
	t.Cleanup(hub.Close)

	ctx := context.Background()
	c := &armclient.Client{BaseURL: hubURL, HTTP: hub.Client(), Token: dataplanetest.OwnerTokens(t, srv, hubURL, hub.Client())}
	if _, err := c.Put(ctx, sub+"/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/c0?api-version=2024-01-01",
		map[string]any{"location": "westeurope"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, sub+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + armrbac.Reader.ID,
			"principalId": "id1", "principalType": "User"}}, nil); err != nil {
		t.Fatal(err)
	}
	return hubURL, issuer, hub
}

// TestPortalOIDCInBrowser: the portal's button, the issuer's login page,
// and back signed in as the issuer's user, who sees what its role
// assignment lets it read; a callback the browser did not start is
// refused.
func TestPortalOIDCInBrowser(t *testing.T) {
	hubURL, issuer, _ := oidcHub(t)
	b := open(t, fleet{})

	b.do(chromedp.Navigate(hubURL+"/portal/oidc/callback?state=forged&code=stolen"), chromedp.WaitVisible(chromedp.CSS(`.problem`)))
	if problem := b.text(`.problem`); !strings.Contains(problem, "not started in this browser") {
		t.Fatalf("a forged callback: %q", problem)
	}

	b.do(chromedp.Navigate(hubURL+"/portal/"), chromedp.WaitVisible(chromedp.CSS(`#oidc`)))
	if text := b.text(`main.signin`); !strings.Contains(text, issuer) {
		t.Fatalf("the sign-in page does not name the issuer:\n%s", text)
	}
	b.do(chromedp.Click(chromedp.CSS(`#oidc`)), chromedp.WaitVisible(chromedp.CSS(`#username`)))
	if location := b.read(chromedp.Location()); !strings.HasPrefix(location, issuer+"login/username") {
		t.Fatalf("the issuer's login page is at %s", location)
	}
	b.do(chromedp.SendKeys(chromedp.CSS(`#username`), "test-user@127.0.0.1"), chromedp.SendKeys(chromedp.CSS(`#password`), "verysecure"),
		chromedp.Submit(chromedp.CSS(`#password`)), chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby=stale]`)))
	if who := b.text(`.who`); who != "Signed in as Test User" {
		t.Fatalf("after the issuer's login: %q", who)
	}
	if counts := b.text(`.counts`); !strings.Contains(counts, "1 clusters") {
		t.Fatalf("the Reader's overview: %q", counts)
	}
}

// TestPortalOIDCRefusals: what the start sends the issuer, and every
// callback that must not sign anyone in.
func TestPortalOIDCRefusals(t *testing.T) {
	hubURL, issuer, hub := oidcHub(t)
	client := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Transport: hub.Client().Transport, Jar: jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(c *http.Client, path string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, hubURL+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}
	// start begins a sign-in in c and returns the state sent to the issuer.
	start := func(c *http.Client) string {
		t.Helper()
		status, h, _ := get(c, "/portal/oidc/start")
		to, err := url.Parse(h.Get("Location"))
		if status != http.StatusFound || err != nil || !strings.HasPrefix(to.String(), issuer) {
			t.Fatalf("start: %d to %q", status, h.Get("Location"))
		}
		q := to.Query()
		for k, want := range map[string]string{"response_type": "code", "client_id": "arcgitops-portal", "code_challenge_method": "S256",
			"redirect_uri": hubURL + "/portal/oidc/callback", "scope": "openid profile email"} {
			if q.Get(k) != want {
				t.Fatalf("start sends %s=%q, want %q", k, q.Get(k), want)
			}
		}
		if len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "" {
			t.Fatalf("start sends no PKCE challenge, nonce or state: %s", to.RawQuery)
		}
		cookie := h.Get("Set-Cookie")
		for _, attr := range []string{"__Host-arcgitops-portal-oidc=", "HttpOnly", "Secure", "SameSite=Lax"} {
			if !strings.Contains(cookie, attr) {
				t.Fatalf("the sign-in's cookie lacks %s: %s", attr, cookie)
			}
		}
		return q.Get("state")
	}
	a, other := client(), client()
	for _, tc := range []struct {
		name   string
		c      *http.Client
		query  func(state string) string
		status int
		says   string
	}{
		{"another browser's callback", other, func(s string) string { return "state=" + s + "&code=x" }, http.StatusBadRequest, "not started in this browser"},
		{"a state never sent", a, func(string) string { return "state=forged&code=x" }, http.StatusBadRequest, "not started in this browser"},
		{"the issuer refused", a, func(s string) string { return "state=" + s + "&error=access_denied" }, http.StatusUnauthorized, "did not sign you in (access_denied)"},
		{"an error that is not a code", a, func(s string) string { return "state=" + s + "&error=" + url.QueryEscape("<b>call us</b>") },
			http.StatusUnauthorized, "did not sign you in (an unknown error)"},
		{"a code the issuer never gave", a, func(s string) string { return "state=" + s + "&code=invented" }, http.StatusUnauthorized, "could not be completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := start(a)
			status, h, body := get(tc.c, "/portal/oidc/callback?"+tc.query(state))
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Fatalf("%d, want %d saying %q:\n%s", status, tc.status, tc.says, body)
			}
			if strings.Contains(strings.Join(h.Values("Set-Cookie"), " "), "arcgitops-portal=") || strings.Contains(body, "<b>") {
				t.Fatalf("signed in, or the issuer's text shown: %v\n%s", h.Values("Set-Cookie"), body)
			}
			// A state is good once: the right browser cannot use it after.
			if status, _, _ := get(a, "/portal/oidc/callback?state="+state+"&code=x"); status != http.StatusBadRequest {
				t.Fatalf("a state used twice: %d", status)
			}
		})
	}
}
