package dataplane

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

func TestWithCompliance(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	earlier := store.ComplianceChange{At: at.Add(-time.Hour), State: "Compliant"}
	status := func(state string) *store.Status {
		return &store.Status{StatusReport: agentapi.StatusReport{ComplianceState: state}}
	}
	long := "a" + strings.Repeat("é", 400) // 801 bytes: byte 512 is inside an é
	full := make([]store.ComplianceChange, historyKept)
	for i := range full {
		full[i] = store.ComplianceChange{At: at.Add(time.Duration(i-historyKept) * time.Minute), State: fmt.Sprint(i)}
	}
	for _, tc := range []struct {
		name    string
		history []store.ComplianceChange
		last    *store.Status
		report  agentapi.StatusReport
		want    []string // states, the oldest first
		message string   // of the last change
	}{
		{"a first report that is Pending changes nothing", nil, nil, agentapi.StatusReport{ComplianceState: "Pending"}, nil, ""},
		{"a first report with no state is Pending", nil, nil, agentapi.StatusReport{}, nil, ""},
		{"a first report that is Compliant", nil, nil, agentapi.StatusReport{ComplianceState: "Compliant"}, []string{"Compliant"}, ""},
		{"the same state again", []store.ComplianceChange{earlier}, status("Compliant"), agentapi.StatusReport{ComplianceState: "Compliant", ErrorMessage: "new"}, []string{"Compliant"}, ""},
		{"a change keeps its message", []store.ComplianceChange{earlier}, status("Compliant"),
			agentapi.StatusReport{ComplianceState: "Non-Compliant", ErrorMessage: "Kustomization apps: build failed"}, []string{"Compliant", "Non-Compliant"}, "Kustomization apps: build failed"},
		{"a long message is cut on a rune", nil, status("Compliant"), agentapi.StatusReport{ComplianceState: "Non-Compliant", ErrorMessage: long},
			[]string{"Non-Compliant"}, "a" + strings.Repeat("é", historyMessageKept/2-1) + "…"},
		{"the oldest goes when full", full, status("Compliant"), agentapi.StatusReport{ComplianceState: "Non-Compliant"},
			append(statesOf(full[1:]), "Non-Compliant"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := withCompliance(tc.history, tc.last, tc.report, at)
			if s := statesOf(got); fmt.Sprint(s) != fmt.Sprint(tc.want) {
				t.Fatalf("states %q, want %q", s, tc.want)
			}
			if len(got) > len(tc.history) {
				last := got[len(got)-1]
				if !last.At.Equal(at) || last.Message != tc.message {
					t.Fatalf("the change: %+v, want message %q at %s", last, tc.message, at)
				}
			}
		})
	}
}

func statesOf(h []store.ComplianceChange) []string {
	var out []string
	for _, c := range h {
		out = append(out, c.State)
	}
	return out
}
