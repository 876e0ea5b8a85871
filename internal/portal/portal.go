// Package portal is the data plane's web portal, served under /portal:
// sign-in, then pages of the fleet's GitOps state as the signed-in
// principal may read it. Pages are rendered on the server from Go
// templates (html/template escapes every value a page shows) with embedded
// assets: no Node build, no script needed to read a page. One vendored
// library, htmx with its server-sent events extension (hack/vendor-js.sh
// pins them), makes pages live: an open page keeps a stream of the fleet's
// changes (events.go) and reads its main part again on each.
//
// Sessions live in the server's memory, in a cookie that is HttpOnly,
// SameSite=Strict and, over HTTPS, Secure with the __Host- prefix; every
// form that changes something carries the session's CSRF token, and a
// cross-origin POST is refused.
package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Prefix is where the portal is served.
const Prefix = "/portal"

// SessionLifetime is how long a sign-in lasts.
const SessionLifetime = 8 * time.Hour

// Principal is who a session acts as.
type Principal struct {
	ObjectID, AppID string
	// Issuer is the external issuer that signed it in (empty: the data
	// plane's own).
	Issuer string
	// Name is how pages name it (its display name, else its app ID).
	Name string
}

// ErrBadCredentials is SignIn's answer to a wrong app ID or secret.
var ErrBadCredentials = errors.New("the name or password (app ID or secret) is wrong, or the secret has expired")

// ErrTooManyFailures is SignIn's answer when a name or app ID has failed too
// often from an address.
var ErrTooManyFailures = errors.New("too many failed sign-ins for this name from this address: wait and retry")

// ErrNoPrincipal is Backend.Active's answer for a principal deleted or
// disabled since it signed in: its sessions end.
var ErrNoPrincipal = errors.New("the principal was deleted or disabled")

// Backend is what the portal signs in with and reads: the data plane.
type Backend interface {
	// Active checks that a signed-in principal may still sign in
	// (ErrNoPrincipal when not).
	Active(ctx context.Context, p Principal) error
	// SignIn checks a user's name (it has an @) and password, or a
	// service principal's app ID and secret, for a client at addr.
	SignIn(ctx context.Context, name, secret, addr string) (Principal, error)
	// Fleet is what p may read now.
	Fleet(ctx context.Context, p Principal) (Fleet, error)
	// Query runs a Resource Graph query as p (a *QueryError when the
	// engine refuses it), with the first ShownRows rows.
	Query(ctx context.Context, p Principal, query string) (Result, error)
	// Activity is a page of the activity log as p may read it, newest
	// first, from before (a Next of an earlier page; "" for the newest).
	Activity(ctx context.Context, p Principal, before string) (ActivityPage, error)
	// Policy is the policy assignments p may read, with the compliance of
	// the resources each evaluated.
	Policy(ctx context.Context, p Principal) ([]Assignment, error)
	// ARM sends an ARM request as p from addr, through the data plane's
	// own access checks and activity log, and returns its answer.
	ARM(ctx context.Context, p Principal, addr, method, path string, body []byte) (int, []byte, error)
	// Changes is closed when the fleet next changes (an agent reports, a
	// resource is written): open pages then read themselves again.
	Changes() <-chan struct{}
	// Configuration is the fluxConfiguration id, when p may read it
	// (ErrNotFound when it does not exist or p may not).
	Configuration(ctx context.Context, p Principal, id string) (Resource, error)
}

// Options configure a portal.
type Options struct {
	Backend Backend
	Now     func() time.Time
	Log     logr.Logger
	// OIDC, when set, signs users in through an external issuer too.
	OIDC *OIDC
	// BaseURL is the URL the portal is reached at, for the issuer to send
	// the browser back to (default: the request's scheme and host).
	BaseURL func(*http.Request) string
}

// Portal serves the pages.
type Portal struct {
	opts     Options
	pages    *template.Template
	static   http.Handler
	mu       sync.Mutex
	sessions map[string]*session
	pending  map[string]*pendingLogin // OpenID Connect sign-ins, by state
}

type session struct {
	principal Principal
	csrf      string
	expires   time.Time
}

//go:embed templates/*.html
var templates embed.FS

//go:embed static
var static embed.FS

// New makes a portal.
func New(opts Options) *Portal {
	funcs := template.FuncMap{
		"ago":   func(t time.Time) string { return ago(opts.Now(), t) },
		"class": stateClass,
		"add":   func(a, b int) int { return a + b },
		"mul":   func(a, b int) int { return a * b },
		// bar is a chart bar's width for a share of 100 (at most 240).
		"bar": func(percent float64) int { return max(1, int(percent*2.4)) },
	}
	sub, _ := fs.Sub(static, "static")
	if opts.BaseURL == nil {
		opts.BaseURL = requestBase
	}
	return &Portal{
		opts:     opts,
		pages:    template.Must(template.New("").Funcs(funcs).ParseFS(templates, "templates/*.html")),
		static:   http.StripPrefix(Prefix+"/static/", http.FileServerFS(sub)),
		sessions: map[string]*session{},
		pending:  map[string]*pendingLogin{},
	}
}

// requestBase is the scheme and host a request came to.
func requestBase(r *http.Request) string {
	if secure(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// ServeHTTP serves the portal's paths (under Prefix).
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	path := strings.TrimPrefix(r.URL.Path, Prefix)
	if strings.HasPrefix(path, "/static/") {
		p.static.ServeHTTP(w, r)
		return
	}
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		http.Error(w, "A form of this portal must be sent from this portal (the request's Origin is another site).", http.StatusForbidden)
		return
	}
	if path == "" {
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
		return
	}
	pages := map[string]map[string]http.HandlerFunc{
		"/signin":                  {http.MethodGet: func(w http.ResponseWriter, r *http.Request) { p.signInPage(w, r, "", http.StatusOK) }, http.MethodPost: p.signIn},
		"/oidc/start":              {http.MethodGet: p.oidcStart},
		"/oidc/callback":           {http.MethodGet: p.oidcCallback},
		"/signout":                 {http.MethodPost: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.signOut) }},
		"/":                        {http.MethodGet: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.overview) }},
		"/configuration":           {http.MethodGet: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.configuration) }},
		"/clusters":                {http.MethodGet: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.clusters) }},
		"/cluster":                 {http.MethodGet: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.cluster) }},
		"/graph":                   {http.MethodGet: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.graph) }},
		"/activity":                {http.MethodGet: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.activity) }},
		"/events":                  {http.MethodGet: p.events},
		"/policy":                  {http.MethodGet: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.policy) }},
		"/policy/remediate":        {http.MethodPost: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.remediate) }},
		"/configuration/suspend":   {http.MethodPost: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.suspend) }},
		"/configuration/reconcile": {http.MethodPost: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.reconcile) }},
		"/configuration/delete": {
			http.MethodGet:  func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.confirmDelete) },
			http.MethodPost: func(w http.ResponseWriter, r *http.Request) { p.withSession(w, r, p.deleteConfiguration) },
		},
	}
	methods, ok := pages[path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	handle, ok := methods[r.Method]
	if !ok {
		allow := slices.Sorted(maps.Keys(methods))
		w.Header().Set("Allow", strings.Join(allow, ", "))
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	handle(w, r)
}

// sameOrigin: a POST's Origin, when the browser sends one, is this host.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// secure: the request came over HTTPS, so cookies can be Secure. Over
// plain HTTP the portal signs in on a loopback address only (a browser
// keeps a cookie there), and refuses elsewhere.
func secure(r *http.Request) bool { return r.TLS != nil }

func loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func cookieName(r *http.Request, name string) string {
	if secure(r) {
		return "__Host-" + name
	}
	return name
}

func (p *Portal) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName(r, name), Value: value, Path: "/", MaxAge: maxAge,
		Secure: secure(r), HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

const (
	sessionCookie = "arcgitops-portal"
	signInCookie  = "arcgitops-portal-signin" // the sign-in form's CSRF token
)

func (p *Portal) signInPage(w http.ResponseWriter, r *http.Request, problem string, status int) {
	if !secure(r) && !loopback(r) {
		http.Error(w, "The portal signs in over HTTPS only: serve the data plane with TLS (--tls-cert-file, --tls-key-file), or open it on a loopback address.", http.StatusForbidden)
		return
	}
	csrf := token()
	p.setCookie(w, r, signInCookie, csrf, 600)
	data := map[string]any{"CSRF": csrf, "Problem": problem, "AppID": r.PostFormValue("appId")}
	if p.opts.OIDC != nil {
		data["OIDC"] = p.opts.OIDC.Issuer()
	}
	p.render(w, status, "signin.html", data)
}

func (p *Portal) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.signInPage(w, r, "The form could not be read: send it again.", http.StatusBadRequest)
		return
	}
	c, err := r.Cookie(cookieName(r, signInCookie))
	if err != nil || !equal(c.Value, r.PostForm.Get("csrf")) {
		p.signInPage(w, r, "The sign-in form expired or was not this portal's: sign in again.", http.StatusForbidden)
		return
	}
	appID, secret := strings.TrimSpace(r.PostForm.Get("appId")), r.PostForm.Get("secret")
	if appID == "" || secret == "" {
		p.signInPage(w, r, "Give a user's name and password, or a service principal's app ID and a secret of it.", http.StatusBadRequest)
		return
	}
	addr, _, _ := net.SplitHostPort(r.RemoteAddr)
	who, err := p.opts.Backend.SignIn(r.Context(), appID, secret, addr)
	switch {
	case errors.Is(err, ErrBadCredentials):
		p.signInPage(w, r, "The name or password (app ID or secret) is wrong, or the secret has expired.", http.StatusUnauthorized)
		return
	case errors.Is(err, ErrTooManyFailures):
		p.signInPage(w, r, "Too many failed sign-ins for this name from this address: wait a minute and retry.", http.StatusTooManyRequests)
		return
	case err != nil:
		p.opts.Log.Error(err, "Portal sign-in failed")
		p.signInPage(w, r, "Signing in failed on the server; it has been logged.", http.StatusInternalServerError)
		return
	}
	p.startSession(w, r, who, false)
}

// startSession signs the browser in as who and sends it to the overview.
// Back from an issuer's site (fromIssuer), a redirect would still count as
// that site's navigation, and the browser would keep the SameSite=Strict
// session cookie to itself: a page of the portal's own moves on instead.
func (p *Portal) startSession(w http.ResponseWriter, r *http.Request, who Principal, fromIssuer bool) {
	id := token()
	p.mu.Lock()
	now := p.opts.Now()
	for k, s := range p.sessions { // the ended ones go as new ones come
		if !now.Before(s.expires) {
			delete(p.sessions, k)
		}
	}
	p.sessions[id] = &session{principal: who, csrf: token(), expires: now.Add(SessionLifetime)}
	p.mu.Unlock()
	p.setCookie(w, r, signInCookie, "", -1)
	p.setCookie(w, r, sessionCookie, id, int(SessionLifetime/time.Second))
	if fromIssuer {
		p.render(w, http.StatusOK, "signedin.html", map[string]any{"Who": who.Name})
		return
	}
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

// withSession runs h with the request's session; without one it sends
// the browser to sign in; a POST must carry the session's CSRF token.
func (p *Portal) withSession(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request, string, *session)) {
	id, s := p.sessionOf(r)
	if s == nil {
		if r.Header.Get("HX-Request") == "true" { // a live update: the whole page goes to sign in
			w.Header().Set("HX-Redirect", Prefix+"/signin")
			http.Error(w, "Sign in again.", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
		return
	}
	switch err := p.opts.Backend.Active(r.Context(), s.principal); {
	case errors.Is(err, ErrNoPrincipal):
		p.mu.Lock()
		delete(p.sessions, id)
		p.mu.Unlock()
		p.setCookie(w, r, sessionCookie, "", -1)
		p.signInPage(w, r, "Your account was deleted or disabled since you signed in: sign in with another.", http.StatusUnauthorized)
		return
	case err != nil:
		p.opts.Log.Error(err, "Portal: failed to check a session's principal")
		http.Error(w, "Checking your session failed on the server; it has been logged.", http.StatusInternalServerError)
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil || !equal(s.csrf, r.PostForm.Get("csrf")) {
			http.Error(w, "The form was not this portal's (its CSRF token is missing or wrong): reload the page and try again.", http.StatusForbidden)
			return
		}
	}
	h(w, r, id, s)
}

// sessionOf is the request's session and its ID (nil when it has none, or
// it ended).
func (p *Portal) sessionOf(r *http.Request) (string, *session) {
	c, err := r.Cookie(cookieName(r, sessionCookie))
	if err != nil {
		return "", nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.sessions[c.Value]; s != nil && p.opts.Now().Before(s.expires) {
		return c.Value, s
	}
	return "", nil
}

func equal(a, b string) bool { return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (p *Portal) signOut(w http.ResponseWriter, r *http.Request, id string, _ *session) {
	p.mu.Lock()
	delete(p.sessions, id)
	p.mu.Unlock()
	p.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
}

func (p *Portal) overview(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	fleet, ok := p.fleet(w, r, s)
	if !ok {
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	p.page(w, r, s, http.StatusOK, "overview.html", map[string]any{"Overview": Summarize(fleet, p.opts.Now(), page), "StaleAfter": strconv.Itoa(int(StaleAfter/time.Minute)) + " minutes"})
}

func (p *Portal) clusters(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	fleet, ok := p.fleet(w, r, s)
	if !ok {
		return
	}
	v := r.URL.Query()
	q := ClusterQuery{Subscription: v.Get("subscription"), ResourceGroup: v.Get("resourceGroup"), Tag: v.Get("tag"), Compliance: v.Get("compliance")}
	page, _ := strconv.Atoi(v.Get("page"))
	p.page(w, r, s, http.StatusOK, "clusters.html", map[string]any{"List": Clusters(fleet, q, page)})
}

func (p *Portal) cluster(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	fleet, ok := p.fleet(w, r, s)
	if !ok {
		return
	}
	id := r.URL.Query().Get("id")
	i := slices.IndexFunc(fleet.Clusters, func(c Cluster) bool { return strings.EqualFold(c.ID, id) })
	if i < 0 {
		http.Error(w, "No such cluster, or not one you may read.", http.StatusNotFound)
		return
	}
	var configs []Configuration
	for _, c := range fleet.Configurations {
		if strings.EqualFold(c.ClusterID, id) {
			configs = append(configs, c)
		}
	}
	slices.SortFunc(configs, func(a, b Configuration) int { return strings.Compare(a.Name, b.Name) })
	p.page(w, r, s, http.StatusOK, "cluster.html", map[string]any{"Cluster": fleet.Clusters[i], "Configurations": configs})
}

// graph is the Resource Graph explorer: a query (in the URL, so that a
// query can be shared as a link) and its result, or the engine's error.
func (p *Portal) graph(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	query := r.URL.Query().Get("q")
	data := map[string]any{"Stock": StockQueries, "Query": query}
	status := http.StatusOK
	if strings.TrimSpace(query) != "" {
		res, err := p.opts.Backend.Query(r.Context(), s.principal, query)
		var qe *QueryError
		switch {
		case errors.As(err, &qe):
			data["Error"], status = qe.Message, http.StatusBadRequest
		case err != nil:
			p.opts.Log.Error(err, "Portal: a query failed")
			data["Error"], status = "The query failed on the server; it has been logged.", http.StatusInternalServerError
		default:
			data["Result"], data["Chart"] = res, Chart(res)
		}
	}
	p.page(w, r, s, status, "graph.html", data)
}

func (p *Portal) activity(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	page, err := p.opts.Backend.Activity(r.Context(), s.principal, r.URL.Query().Get("before"))
	if err != nil {
		p.opts.Log.Error(err, "Portal: failed to read the activity log")
		http.Error(w, "Reading the activity log failed on the server; it has been logged.", http.StatusInternalServerError)
		return
	}
	p.page(w, r, s, http.StatusOK, "activity.html", map[string]any{"Page": page})
}

func (p *Portal) policy(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	p.policyPage(w, r, s, http.StatusOK, r.URL.Query().Get("remediation"), "")
}

func (p *Portal) policyPage(w http.ResponseWriter, r *http.Request, s *session, status int, started, problem string) {
	as, err := p.opts.Backend.Policy(r.Context(), s.principal)
	if err != nil {
		p.opts.Log.Error(err, "Portal: failed to read policy")
		http.Error(w, "Reading policy failed on the server; it has been logged.", http.StatusInternalServerError)
		return
	}
	p.page(w, r, s, status, "policy.html", map[string]any{"Assignments": as,
		"Started": started, "Problem": problem})
}

// remediate starts a remediation of an assignment's non-compliant
// resources, as PUT .../remediations/{name} does, as the principal.
func (p *Portal) remediate(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	id := r.PostForm.Get("assignment")
	scope, _, ok := strings.Cut(id, "/providers/Microsoft.Authorization/policyAssignments/")
	if !ok {
		p.policyPage(w, r, s, http.StatusBadRequest, "", "Name a policy assignment to remediate.")
		return
	}
	name := "portal-" + strconv.FormatInt(p.opts.Now().UnixMilli(), 36)
	body, _ := json.Marshal(map[string]any{"properties": map[string]any{"policyAssignmentId": id}})
	status, answer, err := p.opts.Backend.ARM(r.Context(), s.principal, r.RemoteAddr, http.MethodPut,
		scope+"/providers/Microsoft.PolicyInsights/remediations/"+name+"?api-version=2021-10-01", body)
	if err != nil {
		p.opts.Log.Error(err, "Portal: failed to start a remediation")
		p.policyPage(w, r, s, http.StatusInternalServerError, "", "Starting the remediation failed on the server; it has been logged.")
		return
	}
	if status >= 300 {
		p.policyPage(w, r, s, status, "", "The remediation was refused: "+armMessage(answer))
		return
	}
	http.Redirect(w, r, Prefix+"/policy?remediation="+url.QueryEscape(name), http.StatusSeeOther)
}

// suspend suspends or resumes a configuration (suspend=true or false), as
// az k8s-configuration flux update --suspend does: a PATCH as the
// principal.
func (p *Portal) suspend(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	id, suspend := r.PostForm.Get("id"), r.PostForm.Get("suspend") == "true"
	body, _ := json.Marshal(map[string]any{"properties": map[string]any{"suspend": suspend}})
	p.configurationAction(w, r, s, http.MethodPatch, id, "", body, Prefix+"/configuration?id="+url.QueryEscape(id))
}

// reconcile asks the cluster to reconcile a configuration now (the data
// plane's POST .../reconcile, as the principal), and says so on its page.
func (p *Portal) reconcile(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	id := r.PostForm.Get("id")
	p.configurationAction(w, r, s, http.MethodPost, id, "/reconcile", nil, Prefix+"/configuration?id="+url.QueryEscape(id)+"&reconcile=requested")
}

// confirmDelete asks before deleting a configuration.
func (p *Portal) confirmDelete(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	if res, ok := p.readConfiguration(w, r, s); ok {
		p.page(w, r, s, http.StatusOK, "delete.html", map[string]any{"Resource": res})
	}
}

func (p *Portal) deleteConfiguration(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	p.configurationAction(w, r, s, http.MethodDelete, r.PostForm.Get("id"), "", nil, Prefix+"/")
}

// configurationAction sends an ARM request for a configuration (or its
// action, a path under it) as the principal and goes to next, or shows why
// it was refused.
func (p *Portal) configurationAction(w http.ResponseWriter, r *http.Request, s *session, method, id, action string, body []byte, next string) {
	if !strings.Contains(strings.ToLower(id), "/providers/microsoft.kubernetesconfiguration/fluxconfigurations/") {
		http.Error(w, "Name a fluxConfiguration (its ARM ID).", http.StatusBadRequest)
		return
	}
	status, answer, err := p.opts.Backend.ARM(r.Context(), s.principal, r.RemoteAddr, method, id+action+"?api-version="+apiVersion, body)
	if err != nil {
		p.opts.Log.Error(err, "Portal: a configuration action failed")
		http.Error(w, "The action failed on the server; it has been logged.", http.StatusInternalServerError)
		return
	}
	if status >= 300 {
		http.Error(w, "Refused: "+armMessage(answer), status)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// armMessage is the message of an ARM error answer.
func armMessage(answer []byte) string {
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal(answer, &e)
	return e.Error.Message
}

// apiVersion is the fluxConfigurations api-version the portal's actions
// send.
const apiVersion = "2024-11-01"

// fleet reads what the session's principal may read, answering the
// failure itself.
func (p *Portal) fleet(w http.ResponseWriter, r *http.Request, s *session) (Fleet, bool) {
	fleet, err := p.opts.Backend.Fleet(r.Context(), s.principal)
	if err != nil {
		p.opts.Log.Error(err, "Portal: failed to read the fleet")
		http.Error(w, "Reading the fleet failed on the server; it has been logged.", http.StatusInternalServerError)
		return Fleet{}, false
	}
	return fleet, true
}

func (p *Portal) configuration(w http.ResponseWriter, r *http.Request, _ string, s *session) {
	res, ok := p.readConfiguration(w, r, s)
	if !ok {
		return
	}
	page, err := NewConfigurationPage(res)
	if err != nil {
		p.opts.Log.Error(err, "Portal: failed to read a configuration")
		http.Error(w, "Reading the configuration failed on the server; it has been logged.", http.StatusInternalServerError)
		return
	}
	p.page(w, r, s, http.StatusOK, "configuration.html", map[string]any{"Page": page,
		"Requested": r.URL.Query().Get("reconcile") == "requested"})
}

// readConfiguration reads the configuration the URL's id names, answering
// a failure itself (404 for one the principal may not read).
func (p *Portal) readConfiguration(w http.ResponseWriter, r *http.Request, s *session) (Resource, bool) {
	res, err := p.opts.Backend.Configuration(r.Context(), s.principal, r.URL.Query().Get("id"))
	if errors.Is(err, ErrNotFound) {
		http.Error(w, "No such configuration, or not one you may read.", http.StatusNotFound)
		return res, false
	}
	if err != nil {
		p.opts.Log.Error(err, "Portal: failed to read a configuration")
		http.Error(w, "Reading the configuration failed on the server; it has been logged.", http.StatusInternalServerError)
		return res, false
	}
	return res, true
}

// livePages update themselves when the fleet changes; the others hold
// what the user is typing (a query) or asking (a confirmation).
var livePages = map[string]bool{"overview.html": true, "clusters.html": true, "cluster.html": true,
	"configuration.html": true, "policy.html": true, "activity.html": true}

// page renders a signed-in page: data with what the header shows (who, and
// the sign-out form's token).
func (p *Portal) page(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data map[string]any) {
	data["CSRF"], data["Who"] = s.csrf, s.principal.Name
	data["Live"], data["Self"] = livePages[name], r.URL.RequestURI()
	p.render(w, status, name, data)
}

func (p *Portal) render(w http.ResponseWriter, status int, name string, data any) {
	var b strings.Builder
	if err := p.pages.ExecuteTemplate(&b, name, data); err != nil {
		p.opts.Log.Error(err, "Portal: failed to render a page", "page", name)
		http.Error(w, "The page failed to render; it has been logged.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// stateClass is a compliance state's CSS class.
func stateClass(state string) string {
	switch state {
	case "Compliant":
		return "ok"
	case "Non-Compliant":
		return "bad"
	case "Pending", "Suspended":
		return "wait"
	}
	return "unknown"
}

// ago says how long before now t was, roughly ("never" for zero).
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
}
