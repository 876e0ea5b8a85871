package agent

import (
	"errors"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/arcgitops/arcgitops/internal/agentapi"
)

// The agent's health, as Prometheus metrics on the manager's endpoint:
// alert on time() - fluxconfig_agent_last_sync_timestamp_seconds.
var (
	lastSync = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fluxconfig_agent_last_sync_timestamp_seconds",
		Help: "When the agent last read the desired state from the data plane and applied it (Unix seconds).",
	})
	syncFailures = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fluxconfig_agent_consecutive_sync_failures",
		Help: "Failed syncs with the data plane since the last successful one.",
	})
	registerMetrics sync.Once
)

func register() {
	registerMetrics.Do(func() { metrics.Registry.MustRegister(lastSync, syncFailures) })
}

// syncHint says what a failed sync most likely means for the operator, or
// "" when the error says it itself.
func syncHint(err error) string {
	var se *agentapi.StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized {
		return "the data plane does not accept this cluster's agent token: it was regenerated (write the new one to --agent-token-file; it is read again when it changes) " +
			"or the cluster was deleted from the data plane (its configurations keep running here until the FluxConfigs are deleted)"
	}
	return ""
}
