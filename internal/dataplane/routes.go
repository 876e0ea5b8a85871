package dataplane

import (
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/portal"
)

// clusterRef identifies a cluster by its ARM path.
type clusterRef struct {
	Subscription  string
	ResourceGroup string
	Provider      string // Microsoft.Kubernetes or Microsoft.ContainerService
	Type          string // connectedClusters or managedClusters
	Name          string
}

// clusterTypes maps a lowercased provider/type to its canonical form.
var clusterTypes = map[string][2]string{
	"microsoft.kubernetes/connectedclusters":     {"Microsoft.Kubernetes", "connectedClusters"},
	"microsoft.containerservice/managedclusters": {"Microsoft.ContainerService", "managedClusters"},
}

// ID is the canonical ARM resource ID of the cluster.
func (c clusterRef) ID() string {
	return "/subscriptions/" + c.Subscription + "/resourceGroups/" + c.ResourceGroup +
		"/providers/" + c.Provider + "/" + c.Type + "/" + c.Name
}

// ResourceType is the ARM type of the cluster, e.g. Microsoft.Kubernetes/connectedClusters.
func (c clusterRef) ResourceType() string { return c.Provider + "/" + c.Type }

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9._()-]{1,90}$`)

// parseCluster reads subscriptions/{s}/resourceGroups/{rg}/providers/{rp}/{type}[/{name}]
// from segs; it returns how many segments it used (6 for a collection, 7
// for a cluster), or 0 when segs are not a cluster path.
func parseCluster(segs []string) (clusterRef, int) {
	if len(segs) < 6 || !strings.EqualFold(segs[0], "subscriptions") || !strings.EqualFold(segs[2], "resourceGroups") ||
		!strings.EqualFold(segs[4], "providers") || !segmentRE.MatchString(segs[1]) || !segmentRE.MatchString(segs[3]) {
		return clusterRef{}, 0
	}
	if len(segs) < 7 {
		return clusterRef{}, 0
	}
	t, ok := clusterTypes[strings.ToLower(segs[5]+"/"+segs[6])]
	if !ok {
		return clusterRef{}, 0
	}
	ref := clusterRef{Subscription: segs[1], ResourceGroup: segs[3], Provider: t[0], Type: t[1]}
	if len(segs) == 7 {
		return ref, 7
	}
	ref.Name = segs[7]
	if !segmentRE.MatchString(ref.Name) {
		return clusterRef{}, 0
	}
	return ref, 8
}

func isConfigPath(segs []string) bool {
	return len(segs) >= 3 && strings.EqualFold(segs[0], "providers") &&
		strings.EqualFold(segs[1], "Microsoft.KubernetesConfiguration") && strings.EqualFold(segs[2], "fluxConfigurations")
}

// The fluxConfigurations actions.
const (
	readConfigs   = "Microsoft.KubernetesConfiguration/fluxConfigurations/read"
	writeConfigs  = "Microsoft.KubernetesConfiguration/fluxConfigurations/write"
	deleteConfigs = "Microsoft.KubernetesConfiguration/fluxConfigurations/delete"
	// reconcileConfigs is this data plane's own action (Azure has none):
	// roles that grant fluxConfigurations/* or * grant it.
	reconcileConfigs = "Microsoft.KubernetesConfiguration/fluxConfigurations/reconcile/action"
)

// The resource group actions.
const (
	readGroups   = "Microsoft.Resources/subscriptions/resourceGroups/read"
	writeGroups  = "Microsoft.Resources/subscriptions/resourceGroups/write"
	deleteGroups = "Microsoft.Resources/subscriptions/resourceGroups/delete"
)

// route dispatches ARM and agent requests, after rate limiting; ARM
// requests are authenticated, authorized per route, and writes recorded in
// the activity log.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	segs := strings.Split(path, "/")

	if strings.HasPrefix("/"+path, agentapi.PathPrefix+"/") {
		s.routeAgent(w, r, segs[2:])
		return
	}
	// Sign-in is not under the per-address limit: wrong secrets are
	// limited per client ID and address, so that a burst of them does not
	// slow anyone else's sign-in.
	if s.routeSignIn(w, r, segs) {
		return
	}
	if !s.limiter.allow("client:" + clientIP(r)) {
		writeError(w, tooMany())
		return
	}
	if "/"+path == portal.Prefix || strings.HasPrefix("/"+path, portal.Prefix+"/") {
		s.portal.ServeHTTP(w, r) // signs in with its own sessions
		return
	}
	correlation := correlationID(r)
	w.Header().Set("x-ms-correlation-request-id", correlation)
	w.Header().Set("x-ms-request-id", uuid.NewString())
	if r = s.authenticate(w, r); r == nil {
		return
	}
	if isWrite(r.Method) {
		w = &activityWriter{ResponseWriter: w, s: s, r: r, correlation: correlation}
	}
	// Only an authenticated caller takes a body slot.
	s.withBodySlot(w, r, func() { s.routeARM(w, r, segs) })
}

// routeARM dispatches an authenticated ARM request.
func (s *Server) routeARM(w http.ResponseWriter, r *http.Request, segs []string) {
	if s.routeTenancy(w, r, segs) || s.routeAuthorization(w, r, segs) || s.routePrincipals(w, r, segs) || s.routeUsers(w, r, segs) || s.routePolicyInsights(w, r, segs) ||
		s.routeKeyVault(w, r, segs) || s.routeResourceGraph(w, r, segs) {
		return
	}
	if activityPath(segs) {
		setRoute(r, "activitylog")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.listActivity(w, r, segs[1]) },
		})
		return
	}
	ref, n := parseCluster(segs)
	if n == 0 {
		writeError(w, notFoundPath(r))
		return
	}
	rest := segs[n:]
	switch {
	case n == 7 && len(rest) == 0:
		setRoute(r, "clusters")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.listClusters(w, r, ref) },
		})
	case n == 8 && len(rest) == 0:
		setRoute(r, "cluster")
		id, act := ref.ID(), ref.ResourceType()+"/"
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    s.guard(act+"write", id, func(w http.ResponseWriter, r *http.Request) { s.putCluster(w, r, ref) }),
			http.MethodGet:    s.guard(act+"read", id, func(w http.ResponseWriter, r *http.Request) { s.getCluster(w, r, ref) }),
			http.MethodDelete: s.guard(act+"delete", id, func(w http.ResponseWriter, r *http.Request) { s.deleteCluster(w, r, ref) }),
		})
	case n == 8 && len(rest) == 1 && strings.EqualFold(rest[0], "regenerateAgentToken"):
		setRoute(r, "cluster-token")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: s.guard(ref.ResourceType()+"/regenerateAgentToken/action", ref.ID(),
				func(w http.ResponseWriter, r *http.Request) { s.regenerateToken(w, r, ref) }),
		})
	case n == 8 && isExtensionPath(rest):
		s.routeExtensions(w, r, ref, rest)
	case n == 8 && isConfigPath(rest) && len(rest) == 3:
		setRoute(r, "fluxconfigurations")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.listConfigs(w, r, ref) },
		})
	case n == 8 && isConfigPath(rest) && len(rest) == 4:
		setRoute(r, "fluxconfiguration")
		name := rest[3]
		id := arm.FluxConfigID(ref.ID(), name)
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    s.guard(writeConfigs, id, func(w http.ResponseWriter, r *http.Request) { s.putConfig(w, r, ref, name) }),
			http.MethodPatch:  s.guard(writeConfigs, id, func(w http.ResponseWriter, r *http.Request) { s.patchConfig(w, r, ref, name) }),
			http.MethodGet:    s.guard(readConfigs, id, func(w http.ResponseWriter, r *http.Request) { s.getConfig(w, r, ref, name) }),
			http.MethodDelete: s.guard(deleteConfigs, id, func(w http.ResponseWriter, r *http.Request) { s.deleteConfig(w, r, ref, name) }),
		})
	case n == 8 && isConfigPath(rest) && len(rest) == 5 && strings.EqualFold(rest[4], "reconcile"):
		setRoute(r, "fluxconfiguration-reconcile")
		name := rest[3]
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: s.guard(reconcileConfigs, arm.FluxConfigID(ref.ID(), name), func(w http.ResponseWriter, r *http.Request) { s.reconcileConfig(w, r, ref, name) }),
		})
	case n == 8 && isConfigPath(rest) && len(rest) == 6 && strings.EqualFold(rest[4], "operations"):
		setRoute(r, "fluxconfiguration-operation")
		name, op := rest[3], rest[5]
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: s.guard(readConfigs, arm.FluxConfigID(ref.ID(), name), func(w http.ResponseWriter, r *http.Request) { s.getOperation(w, r, ref, name, op) }),
		})
	default:
		writeError(w, notFoundPath(r))
	}
}

// routeAgent dispatches /agent/v1{clusterID}/fluxConfigurations[...].
func (s *Server) routeAgent(w http.ResponseWriter, r *http.Request, segs []string) {
	ref, n := parseCluster(segs)
	if n != 8 || len(segs) < 9 || !strings.EqualFold(segs[8], "fluxConfigurations") {
		writeError(w, notFoundPath(r))
		return
	}
	clusterKey, aerr := s.authenticateAgent(r, ref)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if !s.limiter.allow("agent:" + clusterKey) {
		writeError(w, tooMany())
		return
	}
	s.withBodySlot(w, r, func() { s.routeAgentCalls(w, r, ref, segs[9:]) })
}

// routeAgentCalls dispatches an authenticated agent's request.
func (s *Server) routeAgentCalls(w http.ResponseWriter, r *http.Request, ref clusterRef, rest []string) {
	switch {
	case len(rest) == 0:
		setRoute(r, "agent-list")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.agentList(w, r, ref) },
		})
	case len(rest) == 2 && rest[1] == "status":
		setRoute(r, "agent-status")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut: func(w http.ResponseWriter, r *http.Request) { s.agentStatus(w, r, ref, rest[0]) },
		})
	case len(rest) == 3 && rest[1] == "protectedSettings" && rest[2] == "ack":
		setRoute(r, "agent-ack")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: func(w http.ResponseWriter, r *http.Request) { s.agentAck(w, r, ref, rest[0]) },
		})
	case len(rest) == 2 && rest[1] == "deleted":
		setRoute(r, "agent-deleted")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: func(w http.ResponseWriter, r *http.Request) { s.agentDeleted(w, r, ref, rest[0]) },
		})
	default:
		writeError(w, notFoundPath(r))
	}
}

func (s *Server) methods(w http.ResponseWriter, r *http.Request, handlers map[string]http.HandlerFunc) {
	h, ok := handlers[r.Method]
	if !ok {
		allowed := make([]string, 0, len(handlers))
		for m := range handlers {
			allowed = append(allowed, m)
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, &apiError{http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The method " + r.Method + " is not allowed on this resource; use " + strings.Join(allowed, ", ") + "."})
		return
	}
	h(w, r)
}

func notFoundPath(r *http.Request) *apiError {
	return &apiError{http.StatusNotFound, "NotFound", "No resource type is served at " + r.URL.Path + "."}
}

func tooMany() *apiError {
	return &apiError{http.StatusTooManyRequests, "TooManyRequests", "Too many requests from this client: retry after the time in the Retry-After header."}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// routeTenancy dispatches the tenants, subscriptions and resource groups
// (what az login and az group need); it reports whether it did.
func (s *Server) routeTenancy(w http.ResponseWriter, r *http.Request, segs []string) bool {
	isGroups := len(segs) >= 3 && strings.EqualFold(segs[0], "subscriptions") && strings.EqualFold(segs[2], "resourceGroups")
	switch {
	case len(segs) == 1 && strings.EqualFold(segs[0], "tenants"):
		setRoute(r, "tenants")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.listTenants})
	case len(segs) == 1 && strings.EqualFold(segs[0], "subscriptions"):
		setRoute(r, "subscriptions")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.listSubscriptions})
	case len(segs) == 2 && strings.EqualFold(segs[0], "subscriptions"):
		setRoute(r, "subscription")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.getSubscription(w, r, segs[1]) },
		})
	case isGroups && len(segs) == 3:
		setRoute(r, "resourcegroups")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.listGroups(w, r, segs[1]) },
		})
	case isGroups && len(segs) == 4:
		setRoute(r, "resourcegroup")
		ref := groupRef{Subscription: segs[1], Name: segs[3]}
		id := ref.ID()
		get := s.guard(readGroups, id, func(w http.ResponseWriter, r *http.Request) { s.getGroup(w, r, ref) })
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    s.guard(writeGroups, id, func(w http.ResponseWriter, r *http.Request) { s.putGroup(w, r, ref) }),
			http.MethodGet:    get,
			http.MethodHead:   get,
			http.MethodDelete: s.guard(deleteGroups, id, func(w http.ResponseWriter, r *http.Request) { s.deleteGroup(w, r, ref) }),
		})
	default:
		return false
	}
	return true
}
