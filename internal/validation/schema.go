package validation

import (
	"context"
	"fmt"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/config/crd"
)

// crdSchema is the FluxConfig CRD's schema of the served version, compiled
// once: its OpenAPI validator, its structural form (defaults) and its CEL
// rules.
type crdSchema struct {
	openAPI    apiservervalidation.SchemaValidator
	structural *structuralschema.Structural
	cel        *cel.Validator
}

var (
	schemaOnce sync.Once
	schemaVal  *crdSchema
	schemaErr  error
)

func loadSchema() (*crdSchema, error) {
	schemaOnce.Do(func() {
		var c apiextensionsv1.CustomResourceDefinition
		if schemaErr = yaml.Unmarshal(crd.FluxConfig, &c); schemaErr != nil {
			return
		}
		var v1props *apiextensionsv1.JSONSchemaProps
		for _, v := range c.Spec.Versions {
			if v.Name == v1alpha1.GroupVersion.Version && v.Schema != nil {
				v1props = v.Schema.OpenAPIV3Schema
			}
		}
		if v1props == nil {
			schemaErr = fmt.Errorf("the embedded CRD has no %s schema", v1alpha1.GroupVersion.Version)
			return
		}
		var props apiextensionsinternal.JSONSchemaProps
		if schemaErr = apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1props, &props, nil); schemaErr != nil {
			return
		}
		s := &crdSchema{}
		if s.openAPI, _, schemaErr = apiservervalidation.NewSchemaValidator(&props); schemaErr != nil {
			return
		}
		if s.structural, schemaErr = structuralschema.NewStructural(&props); schemaErr != nil {
			return
		}
		s.cel = cel.NewValidator(s.structural, true, celconfig.PerCallLimit)
		schemaVal = s
	})
	return schemaVal, schemaErr
}

// ValidateSchema validates spec as the spec of a FluxConfig named name
// against the CRD's whole schema, as the API server would on create: every
// type, limit, pattern and enum, and every CEL rule, after the CRD's
// defaults. It returns the API server's own messages.
func ValidateSchema(name string, spec *v1alpha1.FluxConfigSpec) error {
	s, err := loadSchema()
	if err != nil {
		return fmt.Errorf("the FluxConfig schema cannot be loaded: %w", err)
	}
	fc := &v1alpha1.FluxConfig{Spec: *spec}
	fc.APIVersion, fc.Kind = v1alpha1.GroupVersion.String(), v1alpha1.Kind
	fc.Name = name
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(fc)
	if err != nil {
		return err
	}
	delete(obj, "status")
	structuraldefaulting.Default(obj, s.structural)
	errs := apiservervalidation.ValidateCustomResource(nil, obj, s.openAPI)
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	errs = append(errs, celErrs...)
	return errs.ToAggregate()
}
