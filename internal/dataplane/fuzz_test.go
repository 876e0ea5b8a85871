package dataplane

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseBody feeds PUT and PATCH bodies, seeded with Azure's examples,
// through the decoders: malformed input must end in an error, never a panic.
func FuzzParseBody(f *testing.F) {
	for _, name := range []string{"create-git.json", "patch.json", "get-response.json"} {
		b, err := os.ReadFile(filepath.Join("../../test/fixtures/azure-examples", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"properties":{"kustomizations":{"a":{"dependsOn":["a"]}}}}`))
	f.Add([]byte(`{"properties":{"scope":"cluster","scope":"namespace"}}`))
	f.Add([]byte(strings.Repeat(`{"a":[`, 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var body armBody
		if e := decodeStrict(data, &body); e != nil {
			return
		}
		d, _, e := parseProperties("fuzz", body.Properties)
		if e == nil {
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("accepted properties do not encode: %v", err)
			}
		}
	})
}
