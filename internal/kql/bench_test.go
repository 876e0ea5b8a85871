package kql

import (
	"fmt"
	"testing"
)

// BenchmarkBriefQuery runs the brief's first query over 20,000 rows in memory
// (go test -bench BriefQuery ./internal/kql): the engine alone, without the
// data plane (make bench measures that, measure 10).
func BenchmarkBriefQuery(b *testing.B) {
	rows := make([]Row, 0, 20000)
	for i := range 20000 {
		rows = append(rows, Row{"id": fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c%d/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/x", i),
			"name": "x", "type": "microsoft.kubernetesconfiguration/fluxconfigurations", "tenantId": "t", "kind": "", "location": "", "resourceGroup": "rg", "subscriptionId": "s",
			"managedBy": "", "sku": nil, "plan": nil, "tags": map[string]any{}, "identity": nil, "zones": nil, "extendedLocation": nil,
			"properties": map[string]any{"complianceState": []string{"Compliant", "Non-Compliant"}[i%2], "scope": "cluster", "namespace": "flux-system",
				"gitRepository": map[string]any{"url": "https://github.com/org/fleet", "repositoryRef": map[string]any{"branch": "main"}}}})
	}
	q, err := Parse(`KubernetesConfigurationResources
| where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
| extend complianceState = properties.complianceState
| summarize count() by complianceState, tostring(properties.scope)
| order by count_ desc`, []string{"KubernetesConfigurationResources"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		_, err := q.Run(Env{Tables: func(string) (*Table, error) { return &Table{Columns: []string{"id"}, Rows: rows}, nil }})
		if err != nil {
			b.Fatal(err)
		}
	}
}
