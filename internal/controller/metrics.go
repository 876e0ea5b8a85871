package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// complianceCollector counts FluxConfigs per compliance state at scrape
// time, from the informer cache: no bookkeeping to drift, no API call.
//
// Reconcile durations are controller-runtime's
// controller_runtime_reconcile_time_seconds{controller="fluxconfig"}.
type complianceCollector struct {
	reader client.Reader
	desc   *prometheus.Desc
}

var complianceStates = []v1alpha1.ComplianceStateType{
	v1alpha1.ComplianceCompliant, v1alpha1.ComplianceNonCompliant, v1alpha1.CompliancePending,
	v1alpha1.ComplianceSuspended, v1alpha1.ComplianceUnknown,
}

func (c *complianceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *complianceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list v1alpha1.FluxConfigList
	if err := c.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	counts := map[v1alpha1.ComplianceStateType]int{}
	for i := range list.Items {
		s := list.Items[i].Status.ComplianceState
		if s == "" {
			s = v1alpha1.CompliancePending
		}
		counts[s]++
	}
	for _, s := range complianceStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}

// RegisterMetrics registers the FluxConfig metrics with the manager's registry.
func RegisterMetrics(mgr ctrl.Manager) error {
	c := &complianceCollector{
		reader: mgr.GetCache(),
		desc: prometheus.NewDesc("fluxconfig_compliance_state",
			"The number of FluxConfigs in each compliance state, read from the cache at scrape time.", []string{"state"}, nil),
	}
	if err := metrics.Registry.Register(c); err != nil {
		if _, already := err.(prometheus.AlreadyRegisteredError); already {
			return nil
		}
		return fmt.Errorf("failed to register metrics: %w", err)
	}
	return nil
}
