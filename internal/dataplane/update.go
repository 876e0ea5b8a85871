package dataplane

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/validation"
)

// nextConfig decides the record that a PUT or PATCH of desired state d
// writes over old (nil for a new configuration), by the update rules of ARM
// and the CRD: a configuration being deleted cannot change, and scope and
// namespace are immutable. The generation increases; protected settings,
// the reported status and the creation data carry over. A refused update is
// an errAPI; any other error is the data plane's own.
func nextConfig(old *store.Config, clusterID, name string, d *agentapi.Properties, now time.Time) (*store.Config, error) {
	cfg := &store.Config{ClusterID: clusterID, Name: name, SystemData: store.SystemData{
		CreatedAt: now, CreatedByType: "User", LastModifiedAt: now, LastModifiedByType: "User"}}
	if old != nil {
		if old.Deleting {
			return nil, errAPI{&apiError{http.StatusConflict, "Conflict",
				"The configuration is being deleted: wait until it is gone, or delete it with forceDelete=true, then create it again."}}
		}
		var prev agentapi.Properties
		if err := json.Unmarshal(old.Properties, &prev); err != nil {
			return nil, fmt.Errorf("failed to decode the stored properties of %s: %w", name, err)
		}
		if err := validation.ValidateUpdate(&prev.FluxConfigSpec, &d.FluxConfigSpec); err != nil {
			return nil, errAPI{invalidParameter("properties.scope", validation.MsgScopeImmutable)}
		}
		if prev.Namespace != d.Namespace {
			return nil, errAPI{invalidParameter("properties.namespace", "namespace cannot be changed after creation: delete the configuration and create it again")}
		}
		cfg.Generation = old.Generation
		cfg.Protected = old.Protected
		cfg.Status = old.Status
		cfg.SystemData.CreatedAt = old.SystemData.CreatedAt
		cfg.SystemData.CreatedByType = old.SystemData.CreatedByType
	}
	cfg.Generation++
	var err error
	if cfg.Properties, err = json.Marshal(d); err != nil {
		return nil, err
	}
	return cfg, nil
}
