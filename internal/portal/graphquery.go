package portal

import (
	"strconv"
	"strings"
)

// Result is a Resource Graph query's result as the explorer shows it:
// every value as text (dynamic values as JSON).
type Result struct {
	Columns []string
	Rows    [][]string
	// Total counts the rows of the whole result; Rows holds the first
	// ShownRows of them.
	Total int
}

// ShownRows is how many rows of a result the explorer shows.
const ShownRows = 200

// QueryError is a query the engine refused: its message says where and
// why, and the explorer shows it next to the query.
type QueryError struct{ Message string }

func (e *QueryError) Error() string { return e.Message }

// StockQuery is a query the explorer offers one click away.
type StockQuery struct{ Title, Query string }

// StockQueries are the brief's three questions, as docs/resource-graph.md
// corrects them (a test keeps the two alike).
var StockQueries = []StockQuery{
	{"Compliance of fluxConfigurations", `KubernetesConfigurationResources
| where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
| extend complianceState = properties.complianceState
| summarize count() by complianceState, tostring(properties.scope)
| order by count_ desc
`},
	{"Clusters without GitOps", `Resources
| where type == "microsoft.kubernetes/connectedclusters"
| extend clusterId = tolower(id)
| join kind=leftanti (
    KubernetesConfigurationResources
    | where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
    | extend clusterId = tostring(split(tolower(id), "/providers/microsoft.kubernetesconfiguration/")[0])
    | distinct clusterId
) on clusterId
| project name, resourceGroup, location
`},
	{"Non-Compliant in the last 24 h", `KubernetesConfigurationResources
| where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
| where properties.complianceState == "Non-Compliant"
| where todatetime(properties.statusUpdatedAt) >= ago(24h)
| project clusterName = tostring(split(id, '/')[8]), configName = name, errorMessage = tostring(properties.errorMessage)
`},
}

// Bar is one bar of a result's chart.
type Bar struct {
	Label string
	Value int64
	Width int // of 240
}

// Chart draws a result as bars when it is a count by something: at most
// 20 rows whose last column is a whole number (as summarize count()
// makes); nil otherwise.
func Chart(r Result) []Bar {
	if len(r.Columns) < 2 || len(r.Rows) == 0 || len(r.Rows) > 20 || r.Total > len(r.Rows) {
		return nil
	}
	var bars []Bar
	var most int64
	for _, row := range r.Rows {
		n, err := strconv.ParseInt(row[len(row)-1], 10, 64)
		if err != nil || n < 0 {
			return nil
		}
		label := strings.Join(row[:len(row)-1], " · ")
		if strings.TrimSpace(strings.ReplaceAll(label, "·", "")) == "" {
			label = "(empty)"
		}
		bars = append(bars, Bar{Label: label, Value: n})
		most = max(most, n)
	}
	for i := range bars {
		if most > 0 {
			bars[i].Width = max(1, int(bars[i].Value*240/most))
		}
	}
	return bars
}
