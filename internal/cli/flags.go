package cli

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/internal/validation"
)

// seconds parses a duration flag: a Go duration (1m30s, 10m, 1h) or a
// number of seconds.
func seconds(flag, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, usagef("--%s %q is not a duration: use a Go duration such as 30s, 10m or 1h30m", flag, v)
		}
		if d%time.Second != 0 {
			return 0, usagef("--%s %s: use whole seconds", flag, v)
		}
		n = int64(d / time.Second)
	}
	if n < validation.MinSeconds || n > validation.MaxSeconds {
		return 0, usagef("--%s %s is out of range: use 1s to %ds", flag, v, validation.MaxSeconds)
	}
	return n, nil
}

// isoDuration writes seconds as an ISO 8601 duration (PT1H2M3S).
func isoDuration(s int64) string {
	out := "PT"
	if h := s / 3600; h > 0 {
		out += fmt.Sprintf("%dH", h)
	}
	if m := s % 3600 / 60; m > 0 {
		out += fmt.Sprintf("%dM", m)
	}
	if sec := s % 60; sec > 0 || out == "PT" {
		out += fmt.Sprintf("%dS", sec)
	}
	return out
}

// splitList reads a,b or ["a","b"] or [a, b].
func splitList(v string) []string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") {
		var l []string
		if json.Unmarshal([]byte(v), &l) == nil {
			return l
		}
		v = strings.Trim(v, "[]")
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.Trim(strings.TrimSpace(s), `"'`); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readFile reads a flag's file; the error names the flag, never the content.
func readFile(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usagef("--%s: cannot read %s: %v", flag, path, err)
	}
	return b, nil
}

// fileOrValue returns the base64 of a file flag's content, or the value of
// its base64 twin, refusing both at once.
func fileOrValue(valueFlag, value, fileFlag, file string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", usagef("give --%s or --%s, not both", valueFlag, fileFlag)
	case file != "":
		b, err := readFile(fileFlag, file)
		if err != nil {
			return "", err
		}
		return b64(b), nil
	default:
		return value, nil
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
