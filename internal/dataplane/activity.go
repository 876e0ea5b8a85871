package dataplane

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

// activityAPIVersion is the Microsoft.Insights api-version of the activity
// log (az monitor activity-log list sends it).
var activityAPIVersion = []string{"2015-04-01"}

// readActivity is the action that reads activity log events.
const readActivity = "Microsoft.Insights/eventtypes/values/read"

// correlationID is the client's x-ms-correlation-request-id when it is a
// plain identifier (az sends a GUID), else a new one.
var correlationRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

func correlationID(r *http.Request) string {
	if id := r.Header.Get("x-ms-correlation-request-id"); correlationRE.MatchString(id) {
		return id
	}
	return uuid.NewString()
}

// activityWriter records a write in the activity log when its status is
// known, before any byte of the answer leaves: an acknowledged write is
// never missing from the log.
type activityWriter struct {
	http.ResponseWriter
	s           *Server
	r           *http.Request
	correlation string
	wrote       bool
}

func (a *activityWriter) WriteHeader(code int) {
	if !a.wrote {
		a.wrote = true
		a.s.record(a.r, code, a.correlation)
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *activityWriter) Write(b []byte) (int, error) {
	if !a.wrote {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(b)
}

func (a *activityWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// isWrite reports whether a method changes something (the activity log
// records these).
func isWrite(method string) bool {
	switch method {
	case http.MethodPut, http.MethodPatch, http.MethodPost, http.MethodDelete:
		return true
	}
	return false
}

// record appends the event of a finished write: who, what, where, how it
// ended. Requests refused before they named an operation (no such route,
// no valid token) are not recorded, as in Azure.
func (s *Server) record(r *http.Request, code int, correlation string) {
	info := infoOf(r)
	if info == nil || info.action == "" || info.caller == nil {
		return
	}
	status := "Succeeded"
	switch {
	case code == http.StatusAccepted:
		status = "Accepted"
	case code >= 400:
		status = "Failed"
	}
	e := &store.Event{
		ID: uuid.NewString(), CorrelationID: correlation, Caller: info.caller.name(),
		Operation: info.action, ResourceID: info.scope, Status: status, HTTPStatusCode: code,
		Method: r.Method, ClientIP: clientIP(r), Time: s.opts.Now().UTC(),
	}
	e.Subscription, e.ResourceGroup = arm.ScopeParts(info.scope)
	if err := s.store.Batch(func(tx store.Tx) error { return tx.AppendEvent(e) }); err != nil {
		s.opts.Log.Error(err, "Failed to record an activity log event", "operation", e.Operation, "resourceId", e.ResourceID)
	}
}

// activityFilter is a parsed $filter of the activity log.
type activityFilter struct {
	from, to time.Time
	eq       map[string]string // field (lowercase) -> value
}

var (
	filterAndRE = regexp.MustCompile(`(?i)\s+and\s+`)
	// Values are quoted, except times, which az sends bare.
	filterClauseRE = regexp.MustCompile(`^(\w+)\s+(eq|ge|gt|le|lt)\s+(?:'([^']*)'|([^\s']+))$`)
)

// activityFields maps the $filter fields the activity log takes (as az
// monitor activity-log list writes them) to the event field they match.
var activityFields = map[string]func(*store.Event) string{
	"resourcegroupname": func(e *store.Event) string { return e.ResourceGroup },
	"resourceuri":       func(e *store.Event) string { return e.ResourceID },
	"resourceid":        func(e *store.Event) string { return e.ResourceID },
	"correlationid":     func(e *store.Event) string { return e.CorrelationID },
	"caller":            func(e *store.Event) string { return e.Caller },
	"status":            func(e *store.Event) string { return e.Status },
	"resourceprovider":  func(e *store.Event) string { return providerOf(e.ResourceID) },
}

func parseActivityFilter(f string, now time.Time) (activityFilter, *apiError) {
	bad := func(msg string) (activityFilter, *apiError) {
		return activityFilter{}, &apiError{http.StatusBadRequest, "BadRequest", "$filter: " + msg +
			" Write it as eventTimestamp ge '<RFC 3339 time>' [and eventTimestamp le '<time>'] [and resourceGroupName|resourceUri|correlationId|caller|status|resourceProvider eq '<value>']."}
	}
	af := activityFilter{to: now, eq: map[string]string{}}
	if strings.TrimSpace(f) == "" {
		return bad("it is required, with a start time.")
	}
	hasFrom := false
	for _, clause := range filterAndRE.Split(strings.TrimSpace(f), -1) {
		m := filterClauseRE.FindStringSubmatch(strings.TrimSpace(clause))
		if m == nil {
			return bad(fmt.Sprintf("%q is not a clause of the form field op 'value'.", clause))
		}
		field, op, value := strings.ToLower(m[1]), strings.ToLower(m[2]), m[3]+m[4]
		if m[4] != "" && field != "eventtimestamp" {
			return bad(fmt.Sprintf("the value of %s must be quoted: %s %s '%s'.", m[1], m[1], m[2], m[4]))
		}
		if field == "eventtimestamp" {
			t, err := parseEventTime(value)
			if err != nil {
				return bad(fmt.Sprintf("%q is not an RFC 3339 time.", value))
			}
			switch op {
			case "ge", "gt":
				af.from, hasFrom = t, true
			case "le", "lt":
				af.to = t
			default:
				return bad("eventTimestamp takes ge or le.")
			}
			continue
		}
		if _, ok := activityFields[field]; !ok || op != "eq" {
			return bad(fmt.Sprintf("%s %s is not supported.", m[1], m[2]))
		}
		af.eq[field] = value
	}
	if !hasFrom {
		return bad("it needs a start time (eventTimestamp ge).")
	}
	return af, nil
}

// parseEventTime reads an RFC 3339 time, or one without a zone (UTC), as
// az monitor activity-log list sends it.
func parseEventTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", v, time.UTC)
}

func (f activityFilter) matches(e *store.Event) bool {
	if e.Time.After(f.to) {
		return false
	}
	for field, want := range f.eq {
		if !strings.EqualFold(activityFields[field](e), want) {
			return false
		}
	}
	return true
}

// listActivity serves the activity log of a subscription: the events the
// filter selects that the caller may read, newest first.
func (s *Server) listActivity(w http.ResponseWriter, r *http.Request, sub string) {
	if e := checkAPIVersion(r, activityAPIVersion, nil); e != nil {
		writeError(w, e)
		return
	}
	if s.subscription(sub) == nil {
		writeError(w, subscriptionNotFound(sub))
		return
	}
	q := r.URL.Query()
	f, aerr := parseActivityFilter(q.Get("$filter"), s.opts.Now())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var before []byte
	if tok := q.Get("$skipToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			writeError(w, &apiError{http.StatusBadRequest, "BadRequest", "$skipToken is not one this data plane handed out: follow nextLink as it is."})
			return
		}
		before = b
	}
	c := callerOf(r)
	value := []map[string]any{}
	var last []byte
	more := false
	err := s.store.View(func(tx store.Tx) error {
		return tx.Events(f.from, before, func(key []byte, e store.Event) bool {
			if !strings.EqualFold(e.Subscription, sub) || !f.matches(&e) || !c.can(readActivity, e.ResourceID) {
				return true
			}
			if len(value) == s.opts.PageSize {
				more = true
				return false
			}
			value = append(value, s.renderEvent(&e))
			last = key
			return true
		})
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	resp := map[string]any{"value": value}
	if more {
		q.Set("$skipToken", base64.RawURLEncoding.EncodeToString(last))
		resp["nextLink"] = s.baseURL(r) + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, resp)
}

// providerOf is the resource provider of a resource ID: the namespace after
// its last "providers" segment.
func providerOf(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	for i := len(segs) - 2; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") {
			return segs[i+1]
		}
	}
	if len(segs) >= 3 && strings.EqualFold(segs[2], "resourceGroups") {
		return "Microsoft.Resources"
	}
	return ""
}

// renderEvent is an event in Azure's EventData shape.
func (s *Server) renderEvent(e *store.Event) map[string]any {
	level := "Informational"
	if e.Status == "Failed" {
		level = "Error"
	}
	ts := e.Time.UTC().Format(time.RFC3339Nano)
	localized := func(v string) map[string]string { return map[string]string{"value": v, "localizedValue": v} }
	subStatus := strings.ReplaceAll(http.StatusText(e.HTTPStatusCode), " ", "")
	return map[string]any{
		"authorization":        map[string]string{"action": e.Operation, "scope": e.ResourceID},
		"caller":               e.Caller,
		"channels":             "Operation",
		"correlationId":        e.CorrelationID,
		"eventDataId":          e.ID,
		"eventName":            localized("EndRequest"),
		"category":             localized("Administrative"),
		"eventTimestamp":       ts,
		"submissionTimestamp":  ts,
		"id":                   e.ResourceID + "/events/" + e.ID + "/ticks/" + strconv.FormatInt(e.Time.UnixNano()/100, 10),
		"level":                level,
		"operationId":          e.CorrelationID,
		"operationName":        localized(e.Operation),
		"resourceGroupName":    e.ResourceGroup,
		"resourceProviderName": localized(providerOf(e.ResourceID)),
		"resourceType":         localized(operationType(e.Operation)),
		"resourceId":           e.ResourceID,
		"status":               localized(e.Status),
		"subStatus":            localized(subStatus),
		"subscriptionId":       e.Subscription,
		"tenantId":             s.opts.TenantID,
		"httpRequest":          map[string]string{"clientRequestId": e.CorrelationID, "clientIpAddress": e.ClientIP, "method": e.Method},
		"properties":           map[string]string{"statusCode": subStatus},
	}
}

// operationType is the resource type of an operation name: its segments
// but the verb.
func operationType(op string) string {
	if i := strings.LastIndex(op, "/"); i > 0 {
		return op[:i]
	}
	return op
}

// pruneActivity drops events older than the retention (Azure keeps 90 days).
func (s *Server) pruneActivity() error {
	if s.opts.ActivityLogRetention <= 0 {
		return nil
	}
	before := s.opts.Now().Add(-s.opts.ActivityLogRetention)
	return s.store.Update(func(tx store.Tx) error {
		_, err := tx.PruneEvents(before)
		return err
	})
}

// activityPath reports whether segs are
// subscriptions/{s}/providers/microsoft.insights/eventtypes/management/values.
func activityPath(segs []string) bool {
	want := []string{"subscriptions", "", "providers", "microsoft.insights", "eventtypes", "management", "values"}
	if len(segs) != len(want) {
		return false
	}
	for i, w := range want {
		if w != "" && !strings.EqualFold(segs[i], w) {
			return false
		}
	}
	return true
}
