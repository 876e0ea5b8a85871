package dataplane

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

// Subscription is a subscription the data plane serves.
type Subscription struct {
	ID          string
	DisplayName string
}

// DefaultSubscription is the subscription served when none is configured,
// the CLI's default.
var DefaultSubscription = Subscription{ID: DefaultSubscriptionID, DisplayName: "arcgitops"}

// DefaultSubscriptionID is DefaultSubscription's ID.
const DefaultSubscriptionID = "00000000-0000-0000-0000-000000000000"

// DefaultTenant is the tenant served when none is configured: "adfs", as
// Azure Stack Hub's ADFS sign-in names it.
const DefaultTenant = "adfs"

// subscription returns the served subscription with this id
// (case-insensitive), or nil.
func (s *Server) subscription(id string) *Subscription {
	for i := range s.opts.Subscriptions {
		if strings.EqualFold(s.opts.Subscriptions[i].ID, id) {
			return &s.opts.Subscriptions[i]
		}
	}
	return nil
}

func subscriptionNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "SubscriptionNotFound", fmt.Sprintf("The subscription '%s' could not be found.", id)}
}

func (s *Server) renderSubscription(sub *Subscription) map[string]any {
	return map[string]any{
		"id": "/subscriptions/" + sub.ID, "subscriptionId": sub.ID, "tenantId": s.opts.TenantID,
		"displayName": sub.DisplayName, "state": "Enabled", "authorizationSource": "RoleBased",
		"subscriptionPolicies": map[string]any{"locationPlacementId": "Public_2014-09-01", "quotaId": "Internal_2014-09-01", "spendingLimit": "Off"},
	}
}

// listSubscriptions serves GET /subscriptions, as az login reads it.
func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		writeError(w, e)
		return
	}
	value := []map[string]any{}
	who := callerOf(r)
	for i := range s.opts.Subscriptions {
		if armrbac.Reaches(who.grants, "/subscriptions/"+s.opts.Subscriptions[i].ID) {
			value = append(value, s.renderSubscription(&s.opts.Subscriptions[i]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request, id string) {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		writeError(w, e)
		return
	}
	sub := s.subscription(id)
	if sub == nil {
		writeError(w, subscriptionNotFound(id))
		return
	}
	// A principal with a role anywhere in a subscription reads it, as in
	// ARM, where az account show works for a resource group's reader.
	if who := callerOf(r); !armrbac.Reaches(who.grants, "/subscriptions/"+sub.ID) {
		writeError(w, forbidden(who, "Microsoft.Resources/subscriptions/read", "/subscriptions/"+sub.ID))
		return
	}
	writeJSON(w, http.StatusOK, s.renderSubscription(sub))
}

// listTenants serves GET /tenants.
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": []map[string]any{
		{"id": "/tenants/" + s.opts.TenantID, "tenantId": s.opts.TenantID, "tenantCategory": "Home"},
	}})
}

// groupRef names a resource group.
type groupRef struct{ Subscription, Name string }

func (g groupRef) ID() string { return arm.ResourceGroupID(g.Subscription, g.Name) }

func renderGroup(g *store.ResourceGroup) map[string]any {
	out := map[string]any{"id": g.ID, "name": g.Name, "type": "Microsoft.Resources/resourceGroups", "location": g.Location,
		"properties": map[string]any{"provisioningState": "Succeeded"}}
	if len(g.Tags) > 0 {
		out["tags"] = g.Tags
	}
	return out
}

func groupNotFound(ref groupRef) *apiError {
	return &apiError{http.StatusNotFound, "ResourceGroupNotFound", fmt.Sprintf("Resource group '%s' could not be found.", ref.Name)}
}

// groupRequest opens a resource group request: the api-version, the
// subscription and the name.
func (s *Server) groupRequest(r *http.Request, ref groupRef) *apiError {
	if e := checkAPIVersion(r, nil, clusterAPIVersion); e != nil {
		return e
	}
	if s.subscription(ref.Subscription) == nil {
		return subscriptionNotFound(ref.Subscription)
	}
	if ref.Name != "" && (!segmentRE.MatchString(ref.Name) || strings.HasSuffix(ref.Name, ".")) {
		return &apiError{http.StatusBadRequest, "InvalidResourceGroup", fmt.Sprintf(
			"The resource group name '%s' is invalid: use 1-90 letters, digits, '.', '_', '-', '(' and ')', not ending in '.'.", ref.Name)}
	}
	return nil
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request, ref groupRef) {
	if e := s.groupRequest(r, ref); e != nil {
		writeError(w, e)
		return
	}
	raw, e := readBody(r, s.opts.MaxBodyBytes)
	if e != nil {
		writeError(w, e)
		return
	}
	var body struct {
		Location   string            `json:"location"`
		Tags       map[string]string `json:"tags"`
		ManagedBy  string            `json:"managedBy"`
		Properties map[string]any    `json:"properties"`
		// A GET body sent back.
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if e := decodeStrict(raw, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.Location == "" {
		writeError(w, &apiError{http.StatusBadRequest, "LocationRequired", "The location property is required for this definition."})
		return
	}
	created := false
	var group *store.ResourceGroup
	err := s.store.Update(func(tx store.Tx) error {
		g, err := tx.ResourceGroup(ref.ID())
		switch {
		case errors.Is(err, store.ErrNotFound):
			g = &store.ResourceGroup{ID: ref.ID(), Subscription: ref.Subscription, Name: ref.Name, Location: body.Location, CreatedAt: s.opts.Now().UTC()}
			created = true
		case err != nil:
			return err
		case !strings.EqualFold(g.Location, body.Location):
			return errAPI{&apiError{http.StatusConflict, "InvalidResourceGroupLocation", fmt.Sprintf(
				"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", body.Location, g.Location)}}
		}
		g.Tags = body.Tags
		group = g
		return tx.PutResourceGroup(g)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, putStatus(created), renderGroup(group))
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, ref groupRef) {
	if e := s.groupRequest(r, ref); e != nil {
		writeError(w, e)
		return
	}
	var g *store.ResourceGroup
	err := s.store.View(func(tx store.Tx) (err error) { g, err = tx.ResourceGroup(ref.ID()); return err })
	switch {
	case errors.Is(err, store.ErrNotFound) && r.Method == http.MethodHead:
		w.WriteHeader(http.StatusNotFound)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, groupNotFound(ref))
	case err != nil:
		s.fail(w, err)
	case r.Method == http.MethodHead:
		w.WriteHeader(http.StatusNoContent) // az group exists
	default:
		writeJSON(w, http.StatusOK, renderGroup(g))
	}
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, sub string) {
	if e := s.groupRequest(r, groupRef{Subscription: sub}); e != nil {
		writeError(w, e)
		return
	}
	var groups []store.ResourceGroup
	if err := s.store.View(func(tx store.Tx) (err error) { groups, err = tx.ResourceGroups(sub); return err }); err != nil {
		s.fail(w, err)
		return
	}
	sort.Slice(groups, func(i, j int) bool { return strings.ToLower(groups[i].Name) < strings.ToLower(groups[j].Name) })
	value := make([]map[string]any, 0, len(groups))
	who := callerOf(r)
	for i := range groups {
		if who.can(readGroups, groups[i].ID) {
			value = append(value, renderGroup(&groups[i]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

// deleteGroup deletes a resource group with what it holds, as ARM does:
// its clusters, and with them their configurations.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, ref groupRef) {
	if e := s.groupRequest(r, ref); e != nil {
		writeError(w, e)
		return
	}
	var deleted []string
	err := s.store.Update(func(tx store.Tx) error {
		deleted = deleted[:0] // fn may run again
		if err := tx.DeleteResourceGroup(ref.ID()); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errAPI{groupNotFound(ref)}
			}
			return err
		}
		clusters, err := tx.Clusters()
		if err != nil {
			return err
		}
		for _, c := range clusters {
			if strings.EqualFold(c.Subscription, ref.Subscription) && strings.EqualFold(c.ResourceGroup, ref.Name) {
				if err := tx.DeleteCluster(c.ID); err != nil {
					return err
				}
				deleted = append(deleted, store.Key(c.ID))
			}
		}
		vaults, err := tx.Vaults(ref.ID() + "/providers/")
		for _, v := range vaults {
			if err == nil {
				err = tx.DeleteVault(v.ID)
			}
		}
		return err
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, k := range deleted {
		s.notify.changed(k)
	}
	w.WriteHeader(http.StatusOK)
}
