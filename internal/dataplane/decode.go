package dataplane

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// readBody reads at most limit bytes of a JSON body, checking its content
// type. PATCH also accepts application/merge-patch+json.
func readBody(r *http.Request, limit int64) ([]byte, *apiError) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	mergePatch := r.Method == http.MethodPatch && mt == "application/merge-patch+json"
	if ct == "" || err != nil || (mt != "application/json" && !mergePatch) {
		return nil, &apiError{http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			fmt.Sprintf("The content type %q is not supported: send the body as application/json.", ct)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, "InvalidRequestContent", "The request body could not be read."}
	}
	if int64(len(body)) > limit {
		return nil, &apiError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("The request body is larger than %d bytes.", limit)}
	}
	return body, nil
}

// decodeStrict decodes a JSON object into v, refusing syntax errors,
// duplicate keys, unknown fields and trailing data, with messages that name
// what is wrong.
func decodeStrict(data []byte, v any) *apiError {
	if err := checkDuplicateKeys(data); err != nil {
		return invalidContent(err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidContent(describeJSONError(err))
	}
	if dec.More() {
		return invalidContent("The request body holds more than one JSON value.")
	}
	return nil
}

func invalidContent(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidRequestContent", msg}
}

func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("The request body is not valid JSON: %s at byte %d.", syntax.Error(), syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("The field %q must be a %s, not a JSON %s.", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "The request body is not valid JSON: it ends too early."
	case errors.Is(err, io.EOF):
		return "The request body is empty: send a JSON object."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("The request body has an unknown field %s: remove it or check its spelling.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return "The request body could not be decoded: " + err.Error()
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int32", "int64", "uint", "uint64", "float64":
		return "number"
	case "map", "struct", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return goKind
	}
}

// MaxJSONDepth is how deeply objects and arrays may nest in a request body.
// ARM bodies of fluxConfigurations need about 7 levels
// (properties.kustomizations.k.postBuild.substituteFrom[0]); the cap keeps a
// body of a million brackets from costing more than its size.
const MaxJSONDepth = 32

// checkDuplicateKeys refuses an object that has the same key twice, which
// encoding/json would silently resolve as last-wins, and nesting deeper
// than MaxJSONDepth. Its memory is bounded by the depth: only the keys of
// the objects being read are kept, and a path is built only to report an
// error.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var st keyStack
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(st) > 0 {
				return errors.New("The request body is not valid JSON: it ends before its last object or array is closed.")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("The request body is not valid JSON: %s.", err.Error())
		}
		if err := st.next(tok); err != nil {
			return err
		}
	}
}

// keyStack is the objects and arrays being read, innermost last.
type keyStack []keyFrame

type keyFrame struct {
	object bool
	keys   map[string]bool // objects only
	key    string          // the key whose value comes next (objects)
	inKey  bool            // the next string token is a key
}

// next takes one token.
func (st *keyStack) next(tok json.Token) error {
	s := *st
	var top *keyFrame
	if len(s) > 0 {
		top = &s[len(s)-1]
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '}' || t == ']' {
			s = s[:len(s)-1]
			if len(s) > 0 && s[len(s)-1].object {
				s[len(s)-1].inKey = true
			}
			*st = s
			return nil
		}
		if len(s) == MaxJSONDepth {
			return fmt.Errorf("The request body nests objects and arrays deeper than %d levels.", MaxJSONDepth)
		}
		f := keyFrame{object: t == '{', inKey: t == '{'}
		if f.object {
			f.keys = map[string]bool{}
		}
		*st = append(s, f)
		return nil
	case string:
		if top != nil && top.object && top.inKey {
			if top.keys[t] {
				return fmt.Errorf("The request body has the key %q twice in %s: keep one.", t, orRoot(st.path()))
			}
			top.keys[t] = true
			top.key = t
			top.inKey = false
			return nil
		}
	}
	// A scalar value.
	if top != nil && top.object {
		top.inKey = true
	}
	return nil
}

// path is where the innermost object or array is, as dotted keys (array
// positions are left out).
func (st keyStack) path() string {
	var parts []string
	for _, f := range st[:len(st)-1] {
		if f.object {
			parts = append(parts, f.key)
		}
	}
	return strings.Join(parts, ".")
}

func orRoot(p string) string {
	if p == "" {
		return "the top-level object"
	}
	return p
}
