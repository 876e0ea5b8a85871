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

func (t boltTx) Extension(id string) (*Extension, error) {
	return get[Extension](t.tx.Bucket(bucketExtensions), Key(id))
}

// Extensions are the extensions of a cluster.
func (t boltTx) Extensions(clusterID string) ([]Extension, error) {
	return all[Extension](t.tx.Bucket(bucketExtensions), []byte(Key(clusterID)+extensionsSegment))
}

func (t boltTx) PutExtension(e *Extension) error {
	if !strings.Contains(Key(e.ID), extensionsSegment) {
		return ErrNotFound
	}
	return put(t.tx.Bucket(bucketExtensions), Key(e.ID), e)
}

func (t boltTx) DeleteExtension(id string) error {
	return deleteExisting(t.tx.Bucket(bucketExtensions), Key(id))
}
