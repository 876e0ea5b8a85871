package dataplane

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
	"github.com/arcgitops/arcgitops/internal/kql"
	"github.com/arcgitops/arcgitops/internal/policy"
	"github.com/arcgitops/arcgitops/internal/portal"
)

// portalBackend is the portal's view of the data plane: sign-in with a
// service principal's secret (limited as the token endpoint limits it),
// and the fleet from the Resource Graph index, as the principal may read it.
type portalBackend struct{ s *Server }

func (b portalBackend) SignIn(_ context.Context, appID, secret, addr string) (portal.Principal, error) {
	failKey := "signin:" + appID + "|" + addr
	if !b.s.signinFailures.has(failKey) {
		return portal.Principal{}, portal.ErrTooManyFailures
	}
	if strings.Contains(appID, "@") { // a user's name, not an app ID
		return b.signInUser(appID, secret, failKey)
	}
	p, err := b.s.checkSecret(appID, secret)
	if errors.Is(err, errBadSecret) {
		b.s.signinFailures.allow(failKey)
		return portal.Principal{}, portal.ErrBadCredentials
	}
	if err != nil {
		return portal.Principal{}, err
	}
	name := p.DisplayName
	if name == "" {
		name = p.AppID
	}
	return portal.Principal{ObjectID: p.ObjectID, AppID: p.AppID, Name: name}, nil
}

// signInUser checks a user's name and password (a disabled user's too, so
// that answers do not tell which users are disabled).
func (b portalBackend) signInUser(name, password, failKey string) (portal.Principal, error) {
	var p *store.Principal
	err := b.s.store.View(func(tx store.Tx) (err error) { p, err = tx.UserByName(name); return err })
	switch {
	case errors.Is(err, store.ErrNotFound):
		identity.UnknownUser(password)
	case err != nil:
		return portal.Principal{}, err
	case identity.PasswordMatches(password, p.PasswordHash) && !p.Disabled:
		return portal.Principal{ObjectID: p.ObjectID, Name: p.DisplayName}, nil
	}
	b.s.signinFailures.allow(failKey)
	return portal.Principal{}, portal.ErrBadCredentials
}

// Active checks only that the principal may still sign in: the page's own
// reads load its role assignments.
func (b portalBackend) Active(_ context.Context, who portal.Principal) error {
	err := b.s.store.View(func(tx store.Tx) error { return activePrincipal(tx, b.identity(who), b.s.issuer.URL) })
	if errors.Is(err, store.ErrNotFound) {
		return portal.ErrNoPrincipal
	}
	return err
}

// caller is a signed-in principal with its role assignments as they are
// now (a session does not keep what it was granted at sign-in).
func (b portalBackend) caller(who portal.Principal) (*caller, error) {
	return b.s.callerOf(b.identity(who))
}

// identity is who as the access checks know it: a principal of the
// built-in issuer, or of the external one that signed it in.
func (b portalBackend) identity(who portal.Principal) identity.Principal {
	return identity.Principal{ObjectID: who.ObjectID, AppID: who.AppID, Issuer: cmp.Or(who.Issuer, b.s.issuer.URL)}
}

// Changes is closed when the fleet next changes: an agent reports, a
// resource is written (the portal's pages update live).
func (b portalBackend) Changes() <-chan struct{} { return b.s.graph.changes() }

func (b portalBackend) Fleet(_ context.Context, who portal.Principal) (portal.Fleet, error) {
	c, err := b.caller(who)
	if err != nil {
		return portal.Fleet{}, err
	}
	visible := b.s.graphAccess(c, nil)
	var f portal.Fleet
	clusters := b.s.graph.scan("Resources", func(e *graphEntry) bool {
		return (e.typ == strings.ToLower(arm.ConnectedClustersType) || e.typ == strings.ToLower(arm.ManagedClustersType)) && visible(e)
	})
	names := map[string]string{}
	for _, row := range clusters {
		cl := portal.Cluster{ID: text(row["id"]), Name: text(row["name"]), Subscription: text(row["subscriptionId"]),
			ResourceGroup: text(row["resourceGroup"]), Location: text(row["location"]),
			Connectivity: text(property(row, "connectivityStatus")), LastSeen: when(property(row, "lastConnectivityTime")), Tags: tags(row["tags"])}
		names[strings.ToLower(cl.ID)] = cl.Name
		f.Clusters = append(f.Clusters, cl)
	}
	configs := b.s.graph.scan("KubernetesConfigurationResources", func(e *graphEntry) bool {
		return e.typ == strings.ToLower(arm.FluxConfigurationsType) && visible(e)
	})
	for _, row := range configs {
		id := text(row["id"])
		clusterID, _, _ := strings.Cut(strings.ToLower(id), "/providers/microsoft.kubernetesconfiguration/")
		f.Configurations = append(f.Configurations, portal.Configuration{ID: id, Name: text(row["name"]),
			ClusterID: clusterID, ClusterName: names[clusterID],
			Scope: text(property(row, "scope")), Namespace: text(property(row, "namespace")),
			ComplianceState: text(property(row, "complianceState")), ProvisioningState: text(property(row, "provisioningState")),
			Message: text(property(row, "errorMessage")), UpdatedAt: when(property(row, "statusUpdatedAt"))})
	}
	return f, b.markWaiting(f.Configurations)
}

// markWaiting marks the configurations whose protected settings must be
// applied again: the data plane failed them (expired, lost with their key,
// unreadable), which only their record tells. Only Failed ones with a
// message are read.
func (b portalBackend) markWaiting(configs []portal.Configuration) error {
	return b.s.store.View(func(tx store.Tx) error {
		for i := range configs {
			c := &configs[i]
			if c.ProvisioningState != string(v1alpha1.ProvisioningFailed) || c.Message == "" {
				continue
			}
			cfg, err := tx.Config(c.ClusterID, c.Name)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			c.WaitingForProtectedSettings = cfg.Error != ""
		}
		return nil
	})
}

func (b portalBackend) Configuration(_ context.Context, who portal.Principal, id string) (portal.Resource, error) {
	c, err := b.caller(who)
	if err != nil {
		return portal.Resource{}, err
	}
	visible := b.s.graphAccess(c, nil)
	rows := b.s.graph.lookup("KubernetesConfigurationResources", id, true, func(e *graphEntry) bool {
		return e.typ == strings.ToLower(arm.FluxConfigurationsType) && visible(e)
	})
	if len(rows) == 0 {
		return portal.Resource{}, portal.ErrNotFound
	}
	props, err := json.Marshal(rows[0]["properties"])
	if err != nil {
		return portal.Resource{}, err
	}
	res := portal.Resource{ID: text(rows[0]["id"]), Name: text(rows[0]["name"]), Properties: props,
		CanWrite: c.can(writeConfigs, text(rows[0]["id"]))}
	// The history is not an ARM property: it is read from the record.
	clusterID, _, _ := strings.Cut(strings.ToLower(res.ID), "/providers/microsoft.kubernetesconfiguration/")
	err = b.s.store.View(func(tx store.Tx) error {
		cfg, err := tx.Config(clusterID, res.Name)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted since the index read it
		}
		if err != nil {
			return err
		}
		for _, h := range cfg.History {
			res.History = append(res.History, portal.ComplianceChange{At: h.At, State: h.State, Message: h.Message})
		}
		return nil
	})
	return res, err
}

func (b portalBackend) Query(_ context.Context, who portal.Principal, query string) (portal.Result, error) {
	c, err := b.caller(who)
	if err != nil {
		return portal.Result{}, err
	}
	q, err := kql.Parse(query, graphTables)
	if err != nil {
		return portal.Result{}, &portal.QueryError{Message: "The query is not valid: " + err.Error()}
	}
	res, err := b.s.runGraph(q, c, nil)
	if err != nil {
		return portal.Result{}, &portal.QueryError{Message: "The query failed: " + err.Error()}
	}
	out := portal.Result{Columns: res.Columns, Total: len(res.Rows)}
	for _, row := range res.Rows[:min(len(res.Rows), portal.ShownRows)] {
		vals := make([]string, len(res.Columns))
		for i, col := range res.Columns {
			if v, _ := kql.Get(row, col); v != nil {
				vals[i] = kql.String(v)
			}
		}
		out.Rows = append(out.Rows, vals)
	}
	return out, nil
}

func (b portalBackend) Activity(_ context.Context, who portal.Principal, before string) (portal.ActivityPage, error) {
	c, err := b.caller(who)
	if err != nil {
		return portal.ActivityPage{}, err
	}
	var from []byte // nil: the newest
	if before != "" {
		from, _ = base64.RawURLEncoding.DecodeString(before)
		if len(from) == 0 { // not a token of ours: the newest too
			from = nil
		}
	}
	var page portal.ActivityPage
	var last []byte
	err = b.s.store.View(func(tx store.Tx) error {
		return tx.Events(time.Unix(0, 0), from, func(key []byte, e store.Event) bool { // every event kept
			if !c.can(readActivity, e.ResourceID) {
				return true
			}
			if len(page.Events) == portal.ActivityPageSize {
				page.Next = base64.RawURLEncoding.EncodeToString(last)
				return false
			}
			page.Events = append(page.Events, portal.Event{Time: e.Time, Caller: e.Caller, Operation: e.Operation, ResourceID: e.ResourceID,
				Status: e.Status, HTTPStatusCode: e.HTTPStatusCode, CorrelationID: e.CorrelationID})
			last = key
			return true
		})
	})
	return page, err
}

func (b portalBackend) Policy(_ context.Context, who portal.Principal) ([]portal.Assignment, error) {
	c, err := b.caller(who)
	if err != nil {
		return nil, err
	}
	visible := b.s.graphAccess(c, nil)
	byID := map[string]*portal.Assignment{}
	var out []*portal.Assignment
	for _, row := range b.s.graph.scan("PolicyResources", func(e *graphEntry) bool {
		return e.typ == strings.ToLower(policyAssignmentType) && visible(e)
	}) {
		id := text(row["id"])
		scope, _, _ := strings.Cut(id, "/providers/"+policyAssignmentType+"/")
		a := &portal.Assignment{ID: id, Name: text(row["name"]), DisplayName: text(property(row, "displayName")), Scope: scope,
			CanRemediate: c.can(writeRemediations, scope)}
		byID[strings.ToLower(id)] = a
		out = append(out, a)
	}
	for _, row := range b.s.graph.scan("PolicyResources", func(e *graphEntry) bool {
		return e.typ == "microsoft.policyinsights/policystates" && visible(e)
	}) {
		a := byID[strings.ToLower(text(property(row, "policyAssignmentId")))]
		if a == nil {
			continue
		}
		if text(property(row, "complianceState")) == policy.Compliant {
			a.Compliant++
		} else if text(property(row, "complianceState")) == policy.NonCompliant {
			a.NonCompliant++
			a.NonCompliantResources = append(a.NonCompliantResources, text(property(row, "resourceId")))
		}
	}
	as := make([]portal.Assignment, len(out))
	for i, a := range out {
		slices.Sort(a.NonCompliantResources)
		as[i] = *a
	}
	portal.SortAssignments(as)
	return as, nil
}

// ARM sends an ARM request through the data plane's own handler as the
// principal (a token issued for it), so that an action from the portal
// meets the same access checks, validation and activity log as one from
// az.
func (b portalBackend) ARM(ctx context.Context, who portal.Principal, addr, method, path string, body []byte) (int, []byte, error) {
	// The request carries its principal in its context, where no client
	// can put one: a user of an external issuer has no token of this hub.
	req, err := http.NewRequestWithContext(context.WithValue(ctx, portalPrincipalKey{}, b.identity(who)), method, path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.RemoteAddr = addr
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	b.s.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes(), nil
}

// property is one of an index row's properties.
func property(row kql.Row, key string) any {
	if o, ok := row["properties"].(*kql.Object); ok {
		v, _ := o.Get(key)
		return v
	}
	return nil
}

// tags are a row's tags as strings.
func tags(v any) map[string]string {
	o, ok := v.(*kql.Object)
	if !ok || o.Len() == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range o.Map() {
		out[k] = kql.String(v)
	}
	return out
}

func text(v any) string { s, _ := v.(string); return s }

func when(v any) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, text(v))
	return t
}
