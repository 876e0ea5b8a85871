package odata

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

var schema = Schema{"resourceId", "complianceState", "isCompliant", "policyDefinitionAction", "resourceLocation", "timestamp", "count"}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func records() []Record {
	return []Record{
		{"resourceId": "/subscriptions/s/resourceGroups/RG/providers/Microsoft.Kubernetes/connectedClusters/c1", "complianceState": "NonCompliant", "isCompliant": false, "policyDefinitionAction": "deployifnotexists", "resourceLocation": "eastus", "timestamp": t0, "count": 3},
		{"resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c2", "complianceState": "Compliant", "isCompliant": true, "policyDefinitionAction": "audit", "resourceLocation": "westeurope", "timestamp": t0.Add(time.Hour), "count": 1},
		{"resourceId": "/subscriptions/s/resourceGroups/other/providers/Microsoft.Kubernetes/connectedClusters/c3", "complianceState": "NonCompliant", "isCompliant": false, "policyDefinitionAction": "deny", "resourceLocation": nil, "timestamp": t0.Add(2 * time.Hour), "count": 2},
	}
}

func names(recs []Record) string {
	var out []string
	for _, r := range recs {
		id, _ := r["resourceId"].(string)
		out = append(out, id[strings.LastIndex(id, "/")+1:])
	}
	return strings.Join(out, ",")
}

func TestFilter(t *testing.T) {
	for _, tc := range []struct{ filter, want string }{
		{"isCompliant eq false", "c1,c3"},
		{"IsCompliant eq true", "c2"},
		{"ComplianceState eq 'noncompliant'", "c1,c3"},
		{"(policyDefinitionAction eq 'deny' or policyDefinitionAction eq 'audit') and resourceLocation ne 'eastus'", "c2,c3"},
		{"not (complianceState eq 'Compliant')", "c1,c3"},
		{"resourceLocation eq null", "c3"},
		{"resourceLocation ne null", "c1,c2"},
		{"count gt 1 and count le 3", "c1,c3"},
		{"count lt -1", ""},
		{"timestamp ge 2026-11-26T13:00:00Z", "c2,c3"},
		{"timestamp lt '2026-11-26T13:00:00Z'", "c1"},
		{"contains(resourceId, '/resourcegroups/rg/')", "c1,c2"},
		{"startswith(tolower(resourceId), '/subscriptions/s/resourcegroups/other')", "c3"},
		{"endswith(resourceId, 'C2')", "c2"},
		{"toupper(resourceLocation) eq 'EASTUS'", "c1"},
		{"resourceId eq 'it''s'", ""},
		{"isCompliant", "c2"},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			g := NewWithT(t)
			f, err := ParseFilter(tc.filter, schema)
			g.Expect(err).NotTo(HaveOccurred())
			var got []Record
			for _, r := range records() {
				if f.Match(r) {
					got = append(got, r)
				}
			}
			g.Expect(names(got)).To(Equal(tc.want))
		})
	}
}

func TestFilterErrors(t *testing.T) {
	for _, tc := range []struct{ filter, want string }{
		{"resourceGroup eq 'rg'", "$filter: at 1: unknown property 'resourceGroup'; the properties are resourceId, complianceState"},
		{"isCompliant equals false", "$filter: at 13: expected eq, ne, gt, ge, lt, le, and or or, found 'equals'"},
		{"resourceId eq 'open", "$filter: at 15: the string starting here has no closing quote"},
		{"matches(resourceId, 'x')", "$filter: at 1: unknown function 'matches'"},
		{"contains(resourceId)", "$filter: at 1: contains takes 2 argument(s), not 1"},
		{"(isCompliant eq true", "$filter: at the end: expected ')', found 'end of input'"},
		{"isCompliant eq", "$filter: at the end: expected a property, a value or '(', found 'end of input'"},
		{"timestamp gt 2026-13-45", "$filter: at 14: '2026-13-45' is neither a number nor a date-time"},
		{"isCompliant eq true)", "$filter: at 20: unexpected ')' after a complete expression"},
		{"resourceId eq #", "$filter: at 15: unexpected character '#'"},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			_, err := ParseFilter(tc.filter, schema)
			NewWithT(t).Expect(err).To(MatchError(ContainSubstring(tc.want)))
		})
	}
}

func TestOrderSelectTop(t *testing.T) {
	g := NewWithT(t)
	o, err := ParseOrderBy("complianceState desc, Timestamp", schema)
	g.Expect(err).NotTo(HaveOccurred())
	recs := records()
	Sort(recs, o)
	g.Expect(names(recs)).To(Equal("c1,c3,c2"))
	o, _ = ParseOrderBy("resourceLocation asc", schema)
	Sort(recs, o)
	g.Expect(names(recs)).To(Equal("c3,c1,c2")) // null first

	sel, err := ParseSelect("resourceId, COUNT", schema)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(Project(recs[0], sel)).To(Equal(Record{"resourceId": recs[0]["resourceId"], "count": 2}))

	for _, tc := range []struct {
		s    string
		fn   func(string, Schema) error
		want string
	}{
		{"timestamp sideways", func(s string, sc Schema) error { _, err := ParseOrderBy(s, sc); return err }, "$orderby: 'sideways' after timestamp is not asc or desc"},
		{"a b c", func(s string, sc Schema) error { _, err := ParseOrderBy(s, sc); return err }, "$orderby: 'a b c' is not 'property [asc|desc]'"},
		{"resourceId, nope", func(s string, sc Schema) error { _, err := ParseSelect(s, sc); return err }, "$select: unknown property 'nope'"},
	} {
		g.Expect(tc.fn(tc.s, schema)).To(MatchError(ContainSubstring(tc.want)), tc.s)
	}
	n, err := ParseTop("5", 1000)
	g.Expect(n, err).To(Equal(5))
	for _, bad := range []string{"0", "1001", "five", ""} {
		_, err := ParseTop(bad, 1000)
		g.Expect(err).To(MatchError(ContainSubstring("is not a whole number from 1 to 1000")), bad)
	}
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		apply string
		want  []Record
	}{
		{"aggregate($count as numberOfRecords)", []Record{{"numberOfRecords": 3}}},
		{"groupby((complianceState), aggregate($count as n))", []Record{{"complianceState": "NonCompliant", "n": 2}, {"complianceState": "Compliant", "n": 1}}},
		{"groupby((isCompliant, complianceState))", []Record{{"isCompliant": false, "complianceState": "NonCompliant"}, {"isCompliant": true, "complianceState": "Compliant"}}},
		{"groupby((complianceState, resourceLocation))/groupby((complianceState), aggregate($count as locations))",
			[]Record{{"complianceState": "NonCompliant", "locations": 2}, {"complianceState": "Compliant", "locations": 1}}},
	} {
		t.Run(tc.apply, func(t *testing.T) {
			g := NewWithT(t)
			ts, err := ParseApply(tc.apply, schema)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Apply(records(), ts)).To(Equal(tc.want))
		})
	}
	ts, _ := ParseApply("aggregate($count as n)", schema)
	NewWithT(t).Expect(Apply(nil, ts)).To(Equal([]Record{{"n": 0}}))
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct{ apply, want string }{
		{"filter(isCompliant eq true)", "is not groupby((properties)[, aggregate($count as name)]) or aggregate($count as name)"},
		{"aggregate(count with sum as total)", "is not aggregate($count as name): only counts are aggregated"},
		{"groupby(resourceId)", "groupby's first argument 'resourceId' is not a parenthesized list of properties"},
		{"groupby((nope))", "$apply: unknown property 'nope'"},
		{"groupby((resourceId), aggregate($count as n), aggregate($count as m))", "at most one aggregate, not 3 arguments"},
	} {
		_, err := ParseApply(tc.apply, schema)
		NewWithT(t).Expect(err).To(MatchError(ContainSubstring(tc.want)), tc.apply)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"isCompliant eq false", "(a eq 'x' or not b) and contains(c, 'd')", "timestamp ge 2026-11-26T13:00:00Z", "'it''s'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s, schema)
		if err != nil {
			return
		}
		for _, r := range records() {
			flt.Match(r)
		}
	})
}
