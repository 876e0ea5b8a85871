package dataplane

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/arcgitops/arcgitops/internal/kql"
)

// Microsoft.ResourceGraph's resources query: KQL over the index's tables,
// each row shown only to a caller who may read that resource.

// resourceGraphAPIVersions are the versions az graph and the Azure SDKs
// send.
var resourceGraphAPIVersions = []string{"2019-04-01", "2020-04-01-preview", "2021-03-01", "2022-10-01", "2024-04-01"}

const (
	graphDefaultTop = 100
	graphMaxTop     = 1000
)

func resourceGraphPath(segs []string) bool {
	return len(segs) == 3 && strings.EqualFold(segs[0], "providers") && strings.EqualFold(segs[1], "Microsoft.ResourceGraph") &&
		strings.EqualFold(segs[2], "resources")
}

// routeResourceGraph serves POST /providers/Microsoft.ResourceGraph/resources.
func (s *Server) routeResourceGraph(w http.ResponseWriter, r *http.Request, segs []string) bool {
	if !resourceGraphPath(segs) {
		return false
	}
	if e := checkAPIVersion(r, resourceGraphAPIVersions, nil); e != nil {
		writeError(w, e)
		return true
	}
	setRoute(r, "resourcegraph")
	s.methods(w, r, map[string]http.HandlerFunc{http.MethodPost: s.queryResourceGraph})
	return true
}

type graphRequest struct {
	Subscriptions    []string `json:"subscriptions,omitempty"`
	ManagementGroups []string `json:"managementGroups,omitempty"`
	Query            string   `json:"query"`
	Options          *struct {
		Top                *int   `json:"$top,omitempty"`
		Skip               *int   `json:"$skip,omitempty"`
		SkipToken          string `json:"$skipToken,omitempty"`
		ResultFormat       string `json:"resultFormat,omitempty"`
		AllowPartialScopes bool   `json:"allowPartialScopes,omitempty"`
		AuthorizationScope string `json:"authorizationScopeFilter,omitempty"`
	} `json:"options,omitempty"`
	Facets []graphFacet `json:"facets,omitempty"`
}

// graphFacet asks for counts of the query's result by an expression.
type graphFacet struct {
	Expression string `json:"expression"`
	Options    *struct {
		SortBy    string `json:"sortBy,omitempty"`
		SortOrder string `json:"sortOrder,omitempty"`
		Filter    string `json:"filter,omitempty"`
		Top       *int   `json:"$top,omitempty"`
	} `json:"options,omitempty"`
}

func graphBadRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "BadRequest", msg}
}

func (s *Server) queryResourceGraph(w http.ResponseWriter, r *http.Request) {
	var req graphRequest
	if e := s.decodeBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		writeError(w, graphBadRequest("query is required: a KQL query such as \"Resources | project name, type\"."))
		return
	}
	if len(req.ManagementGroups) > 0 {
		writeError(w, graphBadRequest("managementGroups are not served here: query by subscriptions."))
		return
	}
	top, skip, format, e := graphOptions(&req)
	if e != nil {
		writeError(w, e)
		return
	}
	for _, sub := range req.Subscriptions {
		if s.subscription(sub) == nil {
			writeError(w, subscriptionNotFound(sub))
			return
		}
	}
	q, err := kql.Parse(req.Query, graphTables)
	if err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidQuery", "The query is not valid: " + err.Error()})
		return
	}
	res, err := s.runGraph(q, callerOf(r), req.Subscriptions)
	if err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidQuery", "The query failed: " + err.Error()})
		return
	}
	total := len(res.Rows)
	page := res.Rows[min(skip, total):]
	truncated := "false"
	out := map[string]any{"totalRecords": total}
	if len(page) > top {
		page = page[:top]
		out["$skipToken"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(skip + top)))
		truncated = "true"
	}
	out["count"], out["resultTruncated"] = len(page), truncated
	out["data"] = graphData(res.Columns, page, format)
	facets := make([]any, 0, len(req.Facets))
	for _, f := range req.Facets {
		facets = append(facets, s.facet(res, f, format))
	}
	out["facets"] = facets
	writeJSON(w, http.StatusOK, out)
}

// runGraph runs a query over the index as c may read it, in the
// subscriptions given (all when none are).
func (s *Server) runGraph(q *kql.Query, c *caller, subscriptions []string) (*kql.Table, error) {
	visible := s.graphAccess(c, subscriptions)
	return q.Run(kql.Env{Now: s.opts.Now(), Tables: func(table string) (*kql.Table, error) {
		return &kql.Table{Columns: graphColumns, Rows: s.graph.scan(table, visible)}, nil
	}, Filter: func(table, column, value string, fold bool) (*kql.Table, bool, error) {
		var rows []kql.Row
		switch column {
		case "id": // the index holds rows by id
			rows = s.graph.lookup(table, value, fold, visible)
		case "type": // and keeps each row's type beside it
			rows = s.graph.scan(table, func(e *graphEntry) bool {
				return (e.typ == value || fold && strings.EqualFold(e.typ, value)) && visible(e)
			})
		default:
			return nil, false, nil
		}
		return &kql.Table{Columns: graphColumns, Rows: rows}, true, nil
	}})
}

// graphAccess says which rows a caller sees: those of the subscriptions
// asked for (all when none is) that the caller may read. A role that reads
// a type at a subscription reads all of it there: one check per type and
// subscription (rows by id come a subscription at a time), then one per
// row only where that fails.
func (s *Server) graphAccess(c *caller, subscriptions []string) func(*graphEntry) bool {
	var lastTyp, lastSub string
	var lastAll, lastAsked bool
	whole := map[[2]string]bool{}
	return func(e *graphEntry) bool {
		if e.typ != lastTyp || e.sub != lastSub {
			k := [2]string{e.typ, e.sub}
			all, seen := whole[k]
			if !seen {
				all = c.can(e.typ+"/read", "/subscriptions/"+e.sub)
				whole[k] = all
			}
			lastTyp, lastSub, lastAll = e.typ, e.sub, all
			lastAsked = len(subscriptions) == 0 || slices.ContainsFunc(subscriptions, func(x string) bool { return strings.EqualFold(x, e.sub) })
		}
		if !lastAsked {
			return false
		}
		return lastAll || c.can(e.typ+"/read", e.id)
	}
}

// facet counts the query's result by the facet's expression, as ARG does:
// the filter first, then the counts, sorted (by count, descending, unless
// asked otherwise) and cut to $top (10 unless asked). A facet that cannot
// be computed is a FacetError entry; the query's answer stands.
func (s *Server) facet(res *kql.Table, f graphFacet, format string) map[string]any {
	fail := func(msg string) map[string]any {
		return map[string]any{"expression": f.Expression, "resultType": "FacetError",
			"errors": []any{map[string]any{"code": "InvalidFacet", "message": msg}}}
	}
	top, sortBy, order, filter := 10, "count", "desc", ""
	if o := f.Options; o != nil {
		if o.Top != nil {
			if *o.Top < 1 || *o.Top > graphMaxTop {
				return fail(fmt.Sprintf("options.$top must be 1 to %d.", graphMaxTop))
			}
			top = *o.Top
		}
		if o.SortBy != "" {
			sortBy = o.SortBy
		}
		switch strings.ToLower(o.SortOrder) {
		case "", "desc":
		case "asc":
			order = "asc"
		default:
			return fail(fmt.Sprintf("options.sortOrder '%s' is not asc or desc.", o.SortOrder))
		}
		filter = o.Filter
	}
	if strings.TrimSpace(f.Expression) == "" {
		return fail("expression is required: a column or an expression to count by.")
	}
	// The expression and the filter are checked on their own, so that an
	// error's column is theirs; then the facet's query runs over the result:
	// the value as a column named facetValue_, renamed as ARG names it.
	if msg := checkPart("Result | summarize by facetValue_ = ", f.Expression); msg != "" {
		return fail("The facet's expression is not valid: " + msg)
	}
	q := "Result"
	if filter != "" {
		if msg := checkPart("Result | where ", filter); msg != "" {
			return fail("The facet's filter is not valid: " + msg)
		}
		q += " | where " + filter
	}
	sortCol := "count"
	if !strings.EqualFold(sortBy, "count") {
		sortCol = "facetValue_"
	}
	q += " | summarize count = count() by facetValue_ = " + f.Expression + " | order by " + sortCol + " " + order
	parsed, err := kql.Parse(q, []string{"Result"})
	if err != nil {
		return fail("The facet is not valid: " + err.Error())
	}
	counts, err := parsed.Run(kql.Env{Now: s.opts.Now(), Tables: func(string) (*kql.Table, error) { return res, nil }})
	if err != nil {
		return fail("The facet failed: " + err.Error())
	}
	rows := make([]kql.Row, 0, min(top, len(counts.Rows)))
	for _, r := range counts.Rows[:min(top, len(counts.Rows))] {
		v, _ := kql.Get(r, "facetValue_")
		n, _ := kql.Get(r, "count")
		rows = append(rows, kql.Row{f.Expression: v, "count": n})
	}
	return map[string]any{"expression": f.Expression, "resultType": "FacetResult", "totalRecords": len(counts.Rows),
		"count": len(rows), "data": graphData([]string{f.Expression, "count"}, rows, format)}
}

// checkPart parses part after prefix and says what is wrong with it, at
// part's own column ("" when nothing is).
func checkPart(prefix, part string) string {
	_, err := kql.Parse(prefix+part, []string{"Result"})
	var ke *kql.Error
	if !errors.As(err, &ke) {
		if err != nil {
			return err.Error()
		}
		return ""
	}
	if ke.Pos.Line == 1 && ke.Pos.Col > len(prefix) {
		ke.Pos.Col -= len(prefix)
	}
	return ke.Error()
}

// graphOptions reads a request's options: the page and the format.
func graphOptions(req *graphRequest) (top, skip int, format string, e *apiError) {
	top, format = graphDefaultTop, "objectArray"
	o := req.Options
	if o == nil {
		return top, 0, format, nil
	}
	if o.Top != nil {
		if *o.Top < 1 || *o.Top > graphMaxTop {
			return 0, 0, "", graphBadRequest(fmt.Sprintf("options.$top must be 1 to %d.", graphMaxTop))
		}
		top = *o.Top
	}
	if o.Skip != nil {
		if *o.Skip < 0 {
			return 0, 0, "", graphBadRequest("options.$skip must be 0 or more.")
		}
		skip = *o.Skip
	}
	if o.SkipToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(o.SkipToken)
		n, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || n < 0 {
			return 0, 0, "", graphBadRequest("options.$skipToken is not one this service gave.")
		}
		skip = n
	}
	switch strings.ToLower(o.ResultFormat) {
	case "", "objectarray":
	case "table":
		format = "table"
	default:
		return 0, 0, "", graphBadRequest(fmt.Sprintf("options.resultFormat '%s' is not objectArray or table.", o.ResultFormat))
	}
	return top, skip, format, nil
}

// graphData is a page of rows in the format asked for: objects, or a
// table of typed columns and rows.
func graphData(columns []string, page []kql.Row, format string) any {
	if format == "table" {
		cols := make([]map[string]string, len(columns))
		for i, c := range columns {
			cols[i] = map[string]string{"name": c, "type": graphType(page, c)}
		}
		rows := make([][]any, len(page))
		for i, row := range page {
			rows[i] = make([]any, len(columns))
			for j, c := range columns {
				v, _ := kql.Get(row, c)
				rows[i][j] = jsonValue(v)
			}
		}
		return map[string]any{"columns": cols, "rows": rows}
	}
	data := make([]map[string]any, len(page))
	for i, row := range page {
		m := make(map[string]any, len(columns))
		for _, c := range columns {
			v, _ := kql.Get(row, c)
			m[c] = jsonValue(v)
		}
		data[i] = m
	}
	return data
}

// graphColumns are the columns of every table, in Resource Graph's order.
var graphColumns = []string{"id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId",
	"managedBy", "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"}

// jsonValue is a query value as JSON carries it: datetimes and timespans
// as strings.
func jsonValue(v any) any {
	switch v.(type) {
	case nil, bool, int64, float64, string, []any, map[string]any, *kql.Object:
		return v
	}
	return kql.String(v)
}

// graphType is a column's type as the table format names it, from its
// first non-null value.
func graphType(rows []kql.Row, col string) string {
	for _, r := range rows {
		v, _ := kql.Get(r, col)
		switch v.(type) {
		case nil:
			continue
		case string:
			return "string"
		case int64:
			return "integer"
		case float64:
			return "number"
		case bool:
			return "boolean"
		case []any, map[string]any, *kql.Object:
			return "object"
		default:
			return "string"
		}
	}
	return "object"
}
