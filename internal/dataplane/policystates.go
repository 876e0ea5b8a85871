package dataplane

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/odata"
	"github.com/arcgitops/arcgitops/internal/policy"
)

// policyStatesAPIVersions are Microsoft.PolicyInsights' policy states
// api-versions (az policy state sends 2019-10-01).
var policyStatesAPIVersions = []string{"2018-04-04", "2019-10-01", "2024-10-01"}

const (
	readPolicyStates     = "Microsoft.PolicyInsights/policyStates/queryResults/read"
	summarizePolicyState = "Microsoft.PolicyInsights/policyStates/summarize/read"
	triggerEvaluation    = "Microsoft.PolicyInsights/policyStates/triggerEvaluation/action"
)

// statesPage is the most states one response holds; $top may ask for
// fewer, @odata.nextLink leads to the rest. Tests lower it.
var statesPage = 1000

// stateSchema are the properties of a policy state record, as
// Microsoft.PolicyInsights names them; $filter, $select, $orderby and
// $apply may name any.
var stateSchema = odata.Schema{
	"timestamp", "resourceId", "policyAssignmentId", "policyDefinitionId", "effectiveParameters", "isCompliant",
	"subscriptionId", "resourceType", "resourceLocation", "resourceGroup", "resourceTags", "policyAssignmentName",
	"policyAssignmentOwner", "policyAssignmentParameters", "policyAssignmentScope", "policyDefinitionName",
	"policyDefinitionAction", "policyDefinitionCategory", "policySetDefinitionId", "policySetDefinitionName",
	"policySetDefinitionOwner", "policySetDefinitionCategory", "policySetDefinitionParameters", "managementGroupIds",
	"policyDefinitionReferenceId", "complianceState", "policyDefinitionGroupNames", "policyDefinitionVersion",
	"policySetDefinitionVersion", "policyAssignmentVersion",
}

// statesQuery is what a policy states request asks for: the states under
// a resource scope, or of one assignment or definition.
type statesQuery struct {
	// path is the request's scope, as the request spelled it.
	path string
	// resourceScope, assignmentID, definitionName, setName: one is set.
	resourceScope, assignmentID, definitionName, setName string
}

func (q statesQuery) covers(st *store.PolicyState) bool {
	switch {
	case q.assignmentID != "":
		return strings.EqualFold(st.AssignmentID, q.assignmentID)
	case q.definitionName != "":
		return strings.EqualFold(lastSegment(st.DefinitionID), q.definitionName)
	case q.setName != "":
		return st.SetDefinitionID != "" && strings.EqualFold(lastSegment(st.SetDefinitionID), q.setName)
	}
	return inScope(st.ResourceID, q.resourceScope)
}

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }

// statesScope reads the scope of a policy states request: a subscription,
// resource group or resource, or a policy assignment or definition.
func (s *Server) statesScope(scope string) (statesQuery, *apiError) {
	q := statesQuery{path: scope}
	segs := strings.Split(strings.Trim(scope, "/"), "/")
	if n := len(segs); n >= 4 && strings.EqualFold(segs[n-4], "providers") && strings.EqualFold(segs[n-3], "Microsoft.Authorization") {
		owner := "/" + strings.Join(segs[:n-4], "/")
		if e := s.checkScope(owner); e != nil || owner == "/" {
			return q, &apiError{http.StatusBadRequest, "InvalidScope", fmt.Sprintf("The scope '%s' is not valid: policy states are queried under a subscription, a resource group, a resource, or a policy assignment or definition of a subscription.", scope)}
		}
		switch strings.ToLower(segs[n-2]) {
		case "policyassignments":
			q.assignmentID = scope
			return q, nil
		case "policydefinitions":
			q.definitionName = segs[n-1]
			return q, nil
		case "policysetdefinitions":
			q.setName = segs[n-1]
			return q, nil
		}
	}
	if e := s.checkScope(scope); e != nil {
		return q, e
	}
	if scope == "/" {
		return q, &apiError{http.StatusBadRequest, "InvalidScope", "Query policy states under a subscription, a resource group, a resource, or a policy assignment or definition, not the root."}
	}
	q.resourceScope = scope
	return q, nil
}

// routePolicyStates serves {scope}/providers/Microsoft.PolicyInsights/
// policyStates/{latest|default}/{queryResults|summarize|triggerEvaluation}.
func (s *Server) routePolicyStates(w http.ResponseWriter, r *http.Request, scope, resource, action string) {
	if e := checkAPIVersion(r, policyStatesAPIVersions, nil); e != nil {
		writeError(w, e)
		return
	}
	res := strings.ToLower(resource)
	if res != "latest" && res != "default" {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidPolicyStatesResource", fmt.Sprintf("'%s' is not a policy states resource: use latest, or default (every state kept; here the same as latest, since only the latest state of each resource and assignment is kept).", resource)})
		return
	}
	q, e := s.statesScope(scope)
	if e != nil {
		writeError(w, e)
		return
	}
	switch action {
	case "queryresults":
		setRoute(r, "policystates-query")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodPost: s.guard(readPolicyStates, scope, func(w http.ResponseWriter, r *http.Request) {
			s.queryPolicyStates(w, r, q, res)
		})})
	case "summarize":
		setRoute(r, "policystates-summarize")
		if res != "latest" {
			writeError(w, &apiError{http.StatusBadRequest, "InvalidPolicyStatesResource", "Summaries are of the latest states: use policyStates/latest/summarize."})
			return
		}
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodPost: s.guard(summarizePolicyState, scope, func(w http.ResponseWriter, r *http.Request) {
			s.summarizePolicyStates(w, r, q)
		})})
	case "triggerevaluation":
		setRoute(r, "policystates-trigger")
		segs := strings.Split(strings.Trim(scope, "/"), "/")
		if q.resourceScope == "" || res != "latest" || (len(segs) != 2 && len(segs) != 4) {
			writeError(w, &apiError{http.StatusBadRequest, "InvalidScope", "An evaluation is triggered for a subscription or a resource group: POST {scope}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation."})
			return
		}
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodPost: s.guard(triggerEvaluation, scope, func(w http.ResponseWriter, r *http.Request) {
			s.triggerEvaluation(w, r, q.resourceScope)
		})})
	default:
		writeError(w, notFoundPath(r))
	}
}

// stateRecords are the states q covers, as Microsoft.PolicyInsights
// renders them.
func (s *Server) stateRecords(q statesQuery) ([]odata.Record, error) {
	var out []odata.Record
	err := s.store.View(func(tx store.Tx) error {
		states, err := tx.PolicyStates(q.assignmentID)
		if err != nil {
			return err
		}
		assignments, definitions, locations := map[string]*store.PolicyAssignment{}, map[string]*policyDefinitionProps{}, map[string]string{}
		for i := range states {
			st := &states[i]
			if !q.covers(st) {
				continue
			}
			key := store.Key(st.AssignmentID)
			a, seen := assignments[key]
			if !seen {
				a, _ = tx.PolicyAssignment(st.AssignmentID)
				assignments[key] = a
			}
			dkey := store.Key(st.DefinitionID)
			d, seen := definitions[dkey]
			if !seen {
				d = definitionPropsOf(tx, st.DefinitionID)
				definitions[dkey] = d
			}
			rec := stateRecord(st, a, d, clusterLocation(tx, st.ResourceID, locations))
			if st.SetDefinitionID != "" {
				skey := "set\x00" + store.Key(st.SetDefinitionID)
				sd, seen := definitions[skey]
				if !seen {
					sd = setPropsOf(tx, st.SetDefinitionID)
					definitions[skey] = sd
				}
				rec["policySetDefinitionId"], rec["policySetDefinitionName"] = st.SetDefinitionID, lastSegment(st.SetDefinitionID)
				rec["policySetDefinitionCategory"], rec["policyDefinitionReferenceId"] = sd.Metadata.Category, st.ReferenceID
				rec["policySetDefinitionVersion"] = sd.Version
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// policyDefinitionProps is what a state says of its definition.
type policyDefinitionProps struct {
	Metadata struct {
		Category string `json:"category"`
	} `json:"metadata"`
	Version string `json:"version"`
}

func definitionPropsOf(tx store.Tx, id string) *policyDefinitionProps {
	var p policyDefinitionProps
	if d, err := policyDefinition(tx, id); err == nil {
		_ = json.Unmarshal(d.Properties, &p)
	}
	return &p
}

func setPropsOf(tx store.Tx, id string) *policyDefinitionProps {
	var p policyDefinitionProps
	if d, err := tx.PolicySetDefinition(id); err == nil {
		_ = json.Unmarshal(d.Properties, &p)
	}
	return &p
}

// clusterLocation is the location of the cluster a resource is or belongs
// to; configurations, as extension resources, have none.
func clusterLocation(tx store.Tx, resourceID string, cache map[string]string) string {
	if strings.Contains(strings.ToLower(resourceID), "/providers/microsoft.kubernetesconfiguration/") {
		return ""
	}
	key := store.Key(resourceID)
	loc, seen := cache[key]
	if !seen {
		if c, err := tx.Cluster(resourceID); err == nil {
			loc = c.Location
		}
		cache[key] = loc
	}
	return loc
}

// stateRecord renders a state. resourceTags and policyAssignmentOwner are
// "tbd", as Azure's own answers have them.
func stateRecord(st *store.PolicyState, a *store.PolicyAssignment, d *policyDefinitionProps, location string) odata.Record {
	segs := strings.Split(strings.Trim(st.ResourceID, "/"), "/")
	rec := odata.Record{
		"timestamp": st.Timestamp.UTC(), "resourceId": st.ResourceID, "policyAssignmentId": st.AssignmentID,
		"policyDefinitionId": st.DefinitionID, "effectiveParameters": "", "isCompliant": st.ComplianceState == policy.Compliant,
		"subscriptionId": segs[1], "resourceType": st.ResourceType, "resourceLocation": location, "resourceGroup": "",
		"resourceTags": "tbd", "policyAssignmentName": lastSegment(st.AssignmentID), "policyAssignmentOwner": "tbd",
		"policyAssignmentParameters": "{}", "policyAssignmentScope": "", "policyDefinitionName": lastSegment(st.DefinitionID),
		"policyDefinitionAction": strings.ToLower(st.Effect), "policyDefinitionCategory": d.Metadata.Category,
		"policySetDefinitionId": "", "policySetDefinitionName": "", "policySetDefinitionOwner": "", "policySetDefinitionCategory": "",
		"policySetDefinitionParameters": "", "managementGroupIds": "", "policyDefinitionReferenceId": "",
		"complianceState": st.ComplianceState, "policyDefinitionGroupNames": []string{}, "policyDefinitionVersion": d.Version,
		"policySetDefinitionVersion": "", "policyAssignmentVersion": "",
	}
	if len(segs) >= 4 && strings.EqualFold(segs[2], "resourceGroups") {
		rec["resourceGroup"] = strings.ToLower(segs[3])
	}
	if a != nil {
		var props assignmentProperties
		_ = json.Unmarshal(a.Properties, &props)
		rec["policyAssignmentScope"] = a.Scope
		if len(props.Parameters) > 0 {
			if raw, err := json.Marshal(props.Parameters); err == nil {
				rec["policyAssignmentParameters"] = string(raw)
			}
		}
	}
	return rec
}

// queryOptions reads $filter, $orderby, $select, $top, $apply, $from and
// $to; a bad one is a 400 naming it.
type queryOptions struct {
	filter  *odata.Filter
	orderBy []odata.Order
	sel     []string
	top     int
	apply   []odata.Transform
	skip    int
}

func parseQueryOptions(v url.Values, summarize bool) (*queryOptions, *apiError) {
	bad := func(err error) *apiError {
		return &apiError{http.StatusBadRequest, "InvalidQueryParameterValue", err.Error()}
	}
	o := &queryOptions{}
	var err error
	if f := v.Get("$filter"); f != "" {
		if o.filter, err = odata.ParseFilter(f, stateSchema); err != nil {
			return nil, bad(err)
		}
	}
	if t := v.Get("$top"); t != "" {
		if o.top, err = odata.ParseTop(t, statesPage); err != nil {
			return nil, bad(err)
		}
	}
	for _, name := range []string{"$from", "$to"} {
		if t := v.Get(name); t != "" {
			if _, err := odata.ParseFilter("timestamp le "+strings.ReplaceAll(t, " ", "T"), stateSchema); err != nil {
				return nil, bad(fmt.Errorf("%s: '%s' is not a date-time such as 2026-11-26T00:00:00Z", name, t))
			}
		}
	}
	if summarize {
		return o, nil
	}
	if ob := v.Get("$orderby"); ob != "" {
		if o.orderBy, err = odata.ParseOrderBy(ob, stateSchema); err != nil {
			return nil, bad(err)
		}
	}
	if sel := v.Get("$select"); sel != "" {
		if o.sel, err = odata.ParseSelect(sel, stateSchema); err != nil {
			return nil, bad(err)
		}
	}
	if ap := v.Get("$apply"); ap != "" {
		if o.apply, err = odata.ParseApply(ap, stateSchema); err != nil {
			return nil, bad(err)
		}
	}
	if ex := v.Get("$expand"); ex != "" {
		return nil, bad(fmt.Errorf("$expand: '%s' is not served: states here have no components or evaluation details", ex))
	}
	if sk := v.Get("$skiptoken"); sk != "" {
		if o.skip, err = strconv.Atoi(sk); err != nil || o.skip < 0 {
			return nil, bad(fmt.Errorf("$skiptoken: '%s' is not one this service gave in an @odata.nextLink", sk))
		}
	}
	return o, nil
}

func (s *Server) queryPolicyStates(w http.ResponseWriter, r *http.Request, q statesQuery, resource string) {
	opts, e := parseQueryOptions(r.URL.Query(), false)
	if e != nil {
		writeError(w, e)
		return
	}
	all, err := s.stateRecords(q)
	if err != nil {
		s.fail(w, err)
		return
	}
	recs := all[:0]
	for _, rec := range all {
		if opts.filter.Match(rec) {
			recs = append(recs, rec)
		}
	}
	// A stable order, so that pages do not overlap: newest first, as Azure.
	odata.Sort(recs, []odata.Order{{Property: "timestamp", Desc: true}, {Property: "resourceId"}, {Property: "policyAssignmentId"}})
	odata.Sort(recs, opts.orderBy)
	recs = odata.Apply(recs, opts.apply)
	context := s.baseURL(r) + q.path + "/providers/Microsoft.PolicyInsights/policyStates/$metadata#" + resource
	total := len(recs)
	recs = recs[min(opts.skip, len(recs)):]
	out := map[string]any{"@odata.context": context, "@odata.count": total}
	limit := statesPage
	if opts.top > 0 {
		limit = opts.top
	} else if len(recs) > statesPage {
		next := r.URL.Query()
		next.Set("$skiptoken", strconv.Itoa(opts.skip+statesPage))
		out["@odata.nextLink"] = s.baseURL(r) + r.URL.Path + "?" + next.Encode()
	}
	value := make([]any, 0, min(limit, len(recs)))
	for _, rec := range recs[:min(limit, len(recs))] {
		if opts.sel != nil {
			rec = odata.Project(rec, opts.sel)
		}
		if opts.apply == nil {
			rec["@odata.id"] = nil
			rec["@odata.context"] = context + "/$entity"
		}
		value = append(value, rec)
	}
	out["value"] = value
	writeJSON(w, http.StatusOK, out)
}

// summarizePolicyStates counts compliance as Azure's summarize does: per
// resource (non-compliant when any assignment finds it so), per policy, and
// per assignment with its definition.
func (s *Server) summarizePolicyStates(w http.ResponseWriter, r *http.Request, q statesQuery) {
	opts, e := parseQueryOptions(r.URL.Query(), true)
	if e != nil {
		writeError(w, e)
		return
	}
	all, err := s.stateRecords(q)
	if err != nil {
		s.fail(w, err)
		return
	}
	var recs []odata.Record
	for _, rec := range all {
		if opts.filter.Match(rec) {
			recs = append(recs, rec)
		}
	}
	queryURI := func(extra string) string {
		f := "IsCompliant eq false" + extra
		return s.baseURL(r) + q.path + "/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?api-version=2019-10-01&$filter=" + url.QueryEscape(f)
	}
	type member struct {
		definitionID, ref, effect string
		recs                      []odata.Record
	}
	type group struct {
		id, setID string
		recs      []odata.Record
		members   []*member
	}
	var groups []*group
	byID := map[string]*group{}
	for _, rec := range recs {
		id := strings.ToLower(rec["policyAssignmentId"].(string))
		g := byID[id]
		if g == nil {
			g = &group{id: id, setID: strings.ToLower(rec["policySetDefinitionId"].(string))}
			byID[id] = g
			groups = append(groups, g)
		}
		g.recs = append(g.recs, rec)
		defID, ref := strings.ToLower(rec["policyDefinitionId"].(string)), rec["policyDefinitionReferenceId"].(string)
		i := slices.IndexFunc(g.members, func(m *member) bool { return m.definitionID == defID && m.ref == ref })
		if i < 0 {
			g.members = append(g.members, &member{definitionID: defID, ref: ref, effect: rec["policyDefinitionAction"].(string)})
			i = len(g.members) - 1
		}
		g.members[i].recs = append(g.members[i].recs, rec)
	}
	summaries := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		filter := fmt.Sprintf(" and PolicyAssignmentId eq '%s'", g.id)
		definitions := make([]any, 0, len(g.members))
		for _, m := range g.members {
			defRes := summaryResults(m.recs, queryURI(filter+fmt.Sprintf(" and PolicyDefinitionId eq '%s'", m.definitionID)))
			delete(defRes, "nonCompliantPolicies")
			definitions = append(definitions, map[string]any{"policyDefinitionId": m.definitionID, "policyDefinitionReferenceId": m.ref,
				"policyDefinitionGroupNames": []string{}, "effect": m.effect, "results": defRes})
		}
		summaries = append(summaries, map[string]any{
			"policyAssignmentId": g.id, "policySetDefinitionId": g.setID, "results": summaryResults(g.recs, queryURI(filter)),
			"policyDefinitions": definitions, "policyGroups": []any{},
		})
	}
	// The most non-compliant first; $top keeps that many assignments.
	slices.SortStableFunc(summaries, func(a, b map[string]any) int {
		return b["results"].(map[string]any)["nonCompliantResources"].(int) - a["results"].(map[string]any)["nonCompliantResources"].(int)
	})
	if opts.top > 0 && len(summaries) > opts.top {
		summaries = summaries[:opts.top]
	}
	context := s.baseURL(r) + q.path + "/providers/Microsoft.PolicyInsights/policyStates/$metadata#summary"
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": context, "@odata.count": 1, "value": []any{map[string]any{
		"@odata.id": nil, "@odata.context": context + "/$entity",
		"results": summaryResults(recs, queryURI("")), "policyAssignments": summaries,
	}}})
}

// summaryResults counts states: resources (non-compliant when any state
// of theirs is) and policies (assignment and definition; non-compliant
// when any resource is).
func summaryResults(recs []odata.Record, uri string) map[string]any {
	resources, policies := map[string]bool{}, map[string]bool{}
	for _, rec := range recs {
		compliant := rec["isCompliant"].(bool)
		r := strings.ToLower(rec["resourceId"].(string))
		p := strings.ToLower(rec["policyAssignmentId"].(string) + "\x00" + rec["policyDefinitionId"].(string) + "\x00" + rec["policyDefinitionReferenceId"].(string))
		if was, seen := resources[r]; !seen || was {
			resources[r] = compliant
		}
		if was, seen := policies[p]; !seen || was {
			policies[p] = compliant
		}
	}
	details := func(m map[string]bool) ([]any, int) {
		var yes, no int
		for _, c := range m {
			if c {
				yes++
			} else {
				no++
			}
		}
		var out []any
		if yes > 0 {
			out = append(out, map[string]any{"complianceState": "compliant", "count": yes})
		}
		if no > 0 {
			out = append(out, map[string]any{"complianceState": "noncompliant", "count": no})
		}
		if out == nil {
			out = []any{}
		}
		return out, no
	}
	rd, ncr := details(resources)
	pd, ncp := details(policies)
	return map[string]any{"queryResultsUri": uri, "nonCompliantResources": ncr, "nonCompliantPolicies": ncp,
		"resourceDetails": rd, "policyDetails": pd, "policyGroupDetails": []any{}}
}

// triggerEvaluation re-evaluates every cluster of a subscription or
// resource group; the Location header leads to the operation, 202 while
// it runs and 200 once every cluster queued by it is evaluated.
func (s *Server) triggerEvaluation(w http.ResponseWriter, r *http.Request, scope string) {
	ticket, err := s.policy.trigger(scope)
	if err != nil {
		s.fail(w, err)
		return
	}
	segs := strings.Split(strings.Trim(scope, "/"), "/")
	loc := fmt.Sprintf("%s/subscriptions/%s/providers/Microsoft.PolicyInsights/asyncOperationResults/%s?api-version=%s",
		s.baseURL(r), segs[1], ticket, url.QueryEscape(r.URL.Query().Get("api-version")))
	w.Header().Set("Location", loc)
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusAccepted)
}

// evaluationResult answers a poll of a triggered evaluation.
func (s *Server) evaluationResult(w http.ResponseWriter, r *http.Request, ticket string) {
	if !s.policy.triggered(ticket) {
		w.Header().Set("Location", s.baseURL(r)+r.URL.RequestURI())
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "Succeeded"})
}

// trigger queues every cluster under scope for evaluation and returns a
// ticket: the boot of this engine and the trigger's number.
func (e *policyEngine) trigger(scope string) (string, error) {
	ids, err := e.clustersIn(scope)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	if e.active.Load() {
		for _, id := range ids {
			e.enqueueLocked(id, false)
		}
	}
	e.triggers++
	n := e.triggers
	e.mu.Unlock()
	e.poke()
	return fmt.Sprintf("%s-%d", e.boot, n), nil
}

// triggered reports whether the trigger of ticket is done: the queue was
// empty after it; a ticket of an earlier start is done once the queue is.
func (e *policyEngine) triggered(ticket string) bool {
	boot, num, _ := strings.Cut(ticket, "-")
	n, err := strconv.ParseUint(num, 10, 64)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil || boot != e.boot {
		return len(e.order) == 0 && !e.busy
	}
	return e.drained >= n
}

// newBoot names one start of the engine in trigger tickets.
func newBoot() string { return strings.ReplaceAll(uuid.NewString()[:8], "-", "") }
