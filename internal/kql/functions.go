package kql

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type function struct {
	min, max int // max -1: any number
	fn       func(ev *evaluator, args []any) (any, error)
}

var functions map[string]function

func init() {
	functions = map[string]function{}
	for _, group := range []map[string]function{conversionFunctions(), stringFunctions(), logicFunctions(), dynamicFunctions(), timeFunctions()} {
		maps.Copy(functions, group)
	}
}

func conversionFunctions() map[string]function {
	return map[string]function{
		"tostring": {1, 1, func(_ *evaluator, a []any) (any, error) {
			if _, ok := a[0].(string); ok {
				return a[0], nil // as it is: no new string to box
			}
			return str(a[0]), nil
		}},
		"toint":    {1, 1, func(_ *evaluator, a []any) (any, error) { return toLong(a[0]), nil }},
		"tolong":   {1, 1, func(_ *evaluator, a []any) (any, error) { return toLong(a[0]), nil }},
		"todouble": {1, 1, func(_ *evaluator, a []any) (any, error) { return toDouble(a[0]), nil }},
		"toreal":   {1, 1, func(_ *evaluator, a []any) (any, error) { return toDouble(a[0]), nil }},
		"tobool": {1, 1, func(_ *evaluator, a []any) (any, error) {
			switch x := a[0].(type) {
			case bool:
				return x, nil
			case string:
				b, err := strconv.ParseBool(strings.ToLower(x))
				if err != nil {
					return nil, nil
				}
				return b, nil
			case int64:
				return x != 0, nil
			}
			return nil, nil
		}},
		"todatetime": {1, 1, func(_ *evaluator, a []any) (any, error) {
			switch x := a[0].(type) {
			case time.Time:
				return x, nil
			case string:
				if t, err := parseDatetime(x); err == nil {
					return t, nil
				}
			}
			return nil, nil
		}},
		"totimespan": {1, 1, func(_ *evaluator, a []any) (any, error) {
			if d, ok := a[0].(time.Duration); ok {
				return d, nil
			}
			if d, err := parseTimespan(str(a[0])); err == nil {
				return d, nil
			}
			return nil, nil
		}},
	}
}

func stringFunctions() map[string]function {
	return map[string]function{
		"tolower": {1, 1, func(_ *evaluator, a []any) (any, error) { return strings.ToLower(str(a[0])), nil }},
		"toupper": {1, 1, func(_ *evaluator, a []any) (any, error) { return strings.ToUpper(str(a[0])), nil }},
		"strlen":  {1, 1, func(_ *evaluator, a []any) (any, error) { return int64(utf8.RuneCountInString(str(a[0]))), nil }},
		"substring": {2, 3, func(_ *evaluator, a []any) (any, error) {
			s := []rune(str(a[0]))
			start, ok := a[1].(int64)
			if !ok {
				return nil, errors.New("the start must be a whole number")
			}
			start = max(0, min(start, int64(len(s))))
			end := int64(len(s))
			if len(a) == 3 {
				n, ok := a[2].(int64)
				if !ok || n < 0 {
					return nil, errors.New("the length must be a whole number, 0 or more")
				}
				end = min(end, start+n)
			}
			return string(s[start:end]), nil
		}},
		"split": {2, 3, func(_ *evaluator, a []any) (any, error) {
			parts := strings.Split(str(a[0]), str(a[1]))
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			if len(a) == 3 {
				i, ok := a[2].(int64)
				if !ok || i < 0 || i >= int64(len(out)) {
					return []any{}, nil
				}
				return []any{out[i]}, nil
			}
			return out, nil
		}},
		"strcat": {1, 64, func(_ *evaluator, a []any) (any, error) {
			var b strings.Builder
			for _, v := range a {
				b.WriteString(str(v))
			}
			return b.String(), nil
		}},
	}
}

func logicFunctions() map[string]function {
	return map[string]function{
		"iff": {3, 3, iff},
		"iif": {3, 3, iff},
		"case": {3, -1, func(_ *evaluator, a []any) (any, error) {
			if len(a)%2 == 0 {
				return nil, errors.New("give predicate, value pairs and an else value")
			}
			for i := 0; i+1 < len(a); i += 2 {
				if b, _ := a[i].(bool); b {
					return a[i+1], nil
				}
			}
			return a[len(a)-1], nil
		}},
		"coalesce": {1, 64, func(_ *evaluator, a []any) (any, error) {
			for _, v := range a {
				if v != nil && v != "" {
					return v, nil
				}
			}
			return nil, nil
		}},
		"isempty":    {1, 1, func(_ *evaluator, a []any) (any, error) { return a[0] == nil || a[0] == "", nil }},
		"isnotempty": {1, 1, func(_ *evaluator, a []any) (any, error) { return a[0] != nil && a[0] != "", nil }},
		"isnull":     {1, 1, func(_ *evaluator, a []any) (any, error) { return a[0] == nil, nil }},
		"isnotnull":  {1, 1, func(_ *evaluator, a []any) (any, error) { return a[0] != nil, nil }},
		"not": {1, 1, func(_ *evaluator, a []any) (any, error) {
			b, ok := a[0].(bool)
			if !ok {
				return nil, nil
			}
			return !b, nil
		}},
	}
}

func dynamicFunctions() map[string]function {
	return map[string]function{
		"array_length": {1, 1, func(_ *evaluator, a []any) (any, error) {
			if arr, ok := a[0].([]any); ok {
				return int64(len(arr)), nil
			}
			return nil, nil
		}},
		"bag_keys": {1, 1, func(_ *evaluator, a []any) (any, error) {
			if o, ok := a[0].(*Object); ok {
				a[0] = o.Map()
			}
			m, ok := a[0].(map[string]any)
			if !ok {
				return nil, nil
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = k
			}
			return out, nil
		}},
		"parse_json": {1, 1, parseJSON},
		"todynamic":  {1, 1, parseJSON},
	}
}

func timeFunctions() map[string]function {
	return map[string]function{
		"now": {0, 1, func(ev *evaluator, a []any) (any, error) {
			t := ev.env.Now.UTC()
			if len(a) == 1 {
				d, ok := a[0].(time.Duration)
				if !ok {
					return nil, errors.New("the offset must be a timespan")
				}
				t = t.Add(d)
			}
			return t, nil
		}},
		"ago": {1, 1, func(ev *evaluator, a []any) (any, error) {
			d, ok := a[0].(time.Duration)
			if !ok {
				return nil, errors.New("give a timespan such as 24h")
			}
			return ev.env.Now.UTC().Add(-d), nil
		}},
		"bin": {2, 2, func(_ *evaluator, a []any) (any, error) {
			switch x := a[0].(type) {
			case time.Time:
				d, ok := a[1].(time.Duration)
				if !ok || d <= 0 {
					return nil, errors.New("bin of a datetime takes a positive timespan")
				}
				return x.UTC().Truncate(d), nil
			case int64, float64:
				size := toFloat(a[1])
				if math.IsNaN(size) || size <= 0 {
					return nil, errors.New("bin takes a positive size")
				}
				v := math.Floor(toFloat(x)/size) * size
				if _, isInt := x.(int64); isInt {
					if _, sizeInt := a[1].(int64); sizeInt {
						return int64(v), nil
					}
				}
				return v, nil
			}
			return nil, nil
		}},
	}
}

func iff(_ *evaluator, a []any) (any, error) {
	if b, _ := a[0].(bool); b {
		return a[1], nil
	}
	return a[2], nil
}

func parseJSON(_ *evaluator, a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return a[0], nil // already dynamic
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s, nil
	}
	return normalize(v), nil
}

func toLong(v any) any {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return int64(f)
		}
	}
	return nil
}

func toDouble(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f
		}
	}
	return nil
}

func functionNames() []string {
	out := make([]string, 0, len(functions)+len(aggregates))
	for k := range functions {
		out = append(out, k)
	}
	for k := range aggregates {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ---- literals ----

func literalOf(fn, text string) (any, error) {
	if fn == "datetime" {
		return parseDatetime(text)
	}
	return parseTimespan(text)
}

func parseDatetime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("'%s' is not a datetime such as 2026-11-26 or 2026-11-26T08:00:00Z", s)
}

var timespanScale = map[string]time.Duration{
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"m": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"s": time.Second, "second": time.Second, "seconds": time.Second,
	"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"microsecond": time.Microsecond, "microseconds": time.Microsecond, "microsec": time.Microsecond,
	"tick": 100 * time.Nanosecond, "ticks": 100 * time.Nanosecond,
}

// parseTimespan reads 24h, 1.5d, 100ms, or hh:mm:ss.
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i > 0 {
		n, err := strconv.ParseFloat(s[:i], 64)
		if unit, ok := timespanScale[strings.ToLower(s[i:])]; ok && err == nil {
			return time.Duration(n * float64(unit)), nil
		}
	}
	if parts := strings.Split(s, ":"); len(parts) == 3 {
		h, e1 := strconv.Atoi(parts[0])
		m, e2 := strconv.Atoi(parts[1])
		sec, e3 := strconv.ParseFloat(parts[2], 64)
		if e1 == nil && e2 == nil && e3 == nil {
			return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second)), nil
		}
	}
	return 0, fmt.Errorf("'%s' is not a timespan such as 24h, 7d, 30m, 10s or 01:30:00", s)
}

func formatTimespan(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	out := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, s)
	if days > 0 {
		out = fmt.Sprintf("%s%d.%02d:%02d:%02d", sign, days, h, m, s)
	}
	return out
}

// ---- aggregates ----

type aggregate struct {
	min, max int
	// column is the default name of its result column (count_, sum_x, ...).
	column string
}

var aggregates = map[string]aggregate{
	"count": {0, 0, "count_"}, "countif": {1, 1, "countif_"}, "dcount": {1, 2, "dcount_"},
	"sum": {1, 1, "sum_"}, "avg": {1, 1, "avg_"}, "min": {1, 1, "min_"}, "max": {1, 1, "max_"},
	"make_list": {1, 2, "list_"}, "make_set": {1, 2, "set_"},
	"arg_max": {1, 64, "max_"}, "arg_min": {1, 64, "min_"},
}

func isAggregate(fn string) bool { _, ok := aggregates[fn]; return ok }

// aggregateColumn names an unnamed aggregate as KQL does: count_, sum_x.
func aggregateColumn(c *call) string {
	name := aggregates[c.fn].column
	if len(c.args) > 0 {
		if col, ok := c.args[0].(*column); ok && c.fn != "countif" {
			return name + col.name
		}
	}
	return name
}
