package store

import (
	"encoding/json"
	"strings"
)

var bucketExtensions = []byte("extensions")

func init() { typeBuckets = append(typeBuckets, bucketExtensions) }

// Extension is a cluster extension (Microsoft.KubernetesConfiguration/
// extensions). Only the Flux extension is served: the agent is it.
type Extension struct {
	// ID is the cluster's ID + /providers/Microsoft.KubernetesConfiguration/extensions/{name}.
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Identity   *Identity       `json:"identity,omitempty"`
	Properties json.RawMessage `json:"properties"`
	SystemData SystemData      `json:"systemData"`
}

const extensionsSegment = "/providers/microsoft.kubernetesconfiguration/extensions/"

func (t txn) Extension(id string) (*Extension, error) {
	return get[Extension](t.b(bucketExtensions), Key(id))
}

// Extensions are the extensions of a cluster.
func (t txn) Extensions(clusterID string) ([]Extension, error) {
	return all[Extension](t.b(bucketExtensions), []byte(Key(clusterID)+extensionsSegment))
}

func (t txn) PutExtension(e *Extension) error {
	if !strings.Contains(Key(e.ID), extensionsSegment) {
		return ErrNotFound
	}
	return put(t.b(bucketExtensions), Key(e.ID), e)
}

func (t txn) DeleteExtension(id string) error {
	return deleteExisting(t.b(bucketExtensions), Key(id))
}
