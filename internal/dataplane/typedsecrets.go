package dataplane

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// typedSecret is a property that the REST spec marks x-ms-secret: written
// with the configuration, never returned. The data plane keeps it with the
// protected settings (sealed, delivered once) under key.
type typedSecret struct {
	path []string // under properties
	key  string
	// base64 says the spec's value is already base64, as protected
	// settings are; other values are plain text and are encoded.
	base64 bool
}

// typedSecrets are the x-ms-secret properties of fluxConfigurations
// (2024-11-01 and earlier).
var typedSecrets = []typedSecret{
	{[]string{"azureBlob", "accountKey"}, v1alpha1.ProtectedAccountKey, false},
	{[]string{"azureBlob", "sasToken"}, v1alpha1.ProtectedSASToken, false},
	{[]string{"azureBlob", "servicePrincipal", "clientSecret"}, v1alpha1.ProtectedClientSecret, false},
	{[]string{"azureBlob", "servicePrincipal", "clientCertificate"}, v1alpha1.ProtectedClientCertificate, true},
	{[]string{"azureBlob", "servicePrincipal", "clientCertificatePassword"}, v1alpha1.ProtectedClientCertificatePassword, false},
	{[]string{"ociRepository", "tlsConfig", "clientCertificate"}, v1alpha1.ProtectedTLSClientCertificate, true},
	{[]string{"ociRepository", "tlsConfig", "privateKey"}, v1alpha1.ProtectedTLSPrivateKey, true},
	{[]string{"ociRepository", "tlsConfig", "caCertificate"}, v1alpha1.ProtectedTLSCACertificate, true},
}

// liftTypedSecrets moves the x-ms-secret properties out of raw properties
// into protected settings. It returns raw unchanged when there are none; a
// null value is dropped, as ARM treats it as absent.
func liftTypedSecrets(raw json.RawMessage) (json.RawMessage, map[string]string, *apiError) {
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil {
		return raw, nil, nil // decodeStrict says what is wrong
	}
	found := map[string]string{}
	changed := false
	for _, ts := range typedSecrets {
		v, ok, e := take(props, ts.path)
		if e != nil {
			return nil, nil, e
		}
		if !ok {
			continue
		}
		changed = true
		if v == nil {
			continue
		}
		if ts.base64 {
			if _, err := base64.StdEncoding.DecodeString(*v); err != nil {
				return nil, nil, invalidParameter("properties."+joinPath(ts.path), "must be base64-encoded")
			}
			found[ts.key] = *v
		} else {
			found[ts.key] = base64.StdEncoding.EncodeToString([]byte(*v))
		}
	}
	if !changed {
		return raw, nil, nil
	}
	out, err := json.Marshal(props)
	if err != nil {
		return nil, nil, invalidContent("The properties could not be encoded again: " + err.Error())
	}
	return out, found, nil
}

// take removes the string at path from m (nested objects), reporting
// whether it was there; a JSON null is there with a nil value.
func take(m map[string]json.RawMessage, path []string) (*string, bool, *apiError) {
	raw, ok := m[path[0]]
	if !ok {
		return nil, false, nil
	}
	if len(path) == 1 {
		delete(m, path[0])
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return nil, true, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, invalidContent(fmt.Sprintf("The field %q must be a string.", path[0]))
		}
		return &s, true, nil
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err != nil || inner == nil {
		return nil, false, nil // not an object: decodeStrict says what is wrong
	}
	v, ok, e := take(inner, path[1:])
	if !ok || e != nil {
		return v, ok, e
	}
	b, err := json.Marshal(inner)
	if err != nil {
		return nil, false, invalidContent(err.Error())
	}
	m[path[0]] = b
	return v, true, nil
}

func joinPath(p []string) string {
	s := p[0]
	for _, x := range p[1:] {
		s += "." + x
	}
	return s
}

// mergeProtected adds typed secrets to the protected settings given in
// configurationProtectedSettings; a key given both ways must agree.
func mergeProtected(given, typed map[string]string) (map[string]string, *apiError) {
	if len(typed) == 0 {
		return given, nil
	}
	out := map[string]string{}
	for k, v := range given {
		out[k] = v
	}
	for k, v := range typed {
		if g, ok := given[k]; ok && g != v {
			return nil, invalidParameter("properties.configurationProtectedSettings."+k,
				"is also given as a typed property with another value: give it once")
		}
		out[k] = v
	}
	return out, nil
}
