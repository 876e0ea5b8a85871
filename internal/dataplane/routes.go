package dataplane

import (
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/arcgitops/arcgitops/internal/agentapi"
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

// route dispatches ARM and agent requests, after rate limiting.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	segs := strings.Split(path, "/")

	if strings.HasPrefix("/"+path, agentapi.PathPrefix+"/") {
		s.routeAgent(w, r, segs[2:])
		return
	}
	if !s.limiter.allow("client:" + clientIP(r)) {
		writeError(w, tooMany())
		return
	}
	if s.routeTenancy(w, r, segs) {
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
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    func(w http.ResponseWriter, r *http.Request) { s.putCluster(w, r, ref) },
			http.MethodGet:    func(w http.ResponseWriter, r *http.Request) { s.getCluster(w, r, ref) },
			http.MethodDelete: func(w http.ResponseWriter, r *http.Request) { s.deleteCluster(w, r, ref) },
		})
	case n == 8 && len(rest) == 1 && strings.EqualFold(rest[0], "regenerateAgentToken"):
		setRoute(r, "cluster-token")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: func(w http.ResponseWriter, r *http.Request) { s.regenerateToken(w, r, ref) },
		})
	case n == 8 && isConfigPath(rest) && len(rest) == 3:
		setRoute(r, "fluxconfigurations")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.listConfigs(w, r, ref) },
		})
	case n == 8 && isConfigPath(rest) && len(rest) == 4:
		setRoute(r, "fluxconfiguration")
		name := rest[3]
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    func(w http.ResponseWriter, r *http.Request) { s.putConfig(w, r, ref, name) },
			http.MethodPatch:  func(w http.ResponseWriter, r *http.Request) { s.patchConfig(w, r, ref, name) },
			http.MethodGet:    func(w http.ResponseWriter, r *http.Request) { s.getConfig(w, r, ref, name) },
			http.MethodDelete: func(w http.ResponseWriter, r *http.Request) { s.deleteConfig(w, r, ref, name) },
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
	rest := segs[9:]
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
		get := func(w http.ResponseWriter, r *http.Request) { s.getGroup(w, r, ref) }
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    func(w http.ResponseWriter, r *http.Request) { s.putGroup(w, r, ref) },
			http.MethodGet:    get,
			http.MethodHead:   get,
			http.MethodDelete: func(w http.ResponseWriter, r *http.Request) { s.deleteGroup(w, r, ref) },
		})
	default:
		return false
	}
	return true
}
