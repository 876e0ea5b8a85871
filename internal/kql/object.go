package kql

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Object is a property bag as Compact keeps it for an index: its entries
// sorted by key, in one block of memory. Reading a key of a large map
// follows four pointers (the map, its directory, its table, a group), each
// a cache miss when a query scans many rows; an Object is read from one
// block, a few neighbouring cache lines. Queries read it as they read a
// map (x.key, x['key'], bag_keys, mv-expand), and it is written as the
// same JSON.
type Object struct {
	entries []entry
	// lens are the keys' lengths (up to 255; for the first linearMax keys),
	// in the object's own cache line: a lookup reads only the entries
	// whose key is as long as the one it looks for.
	lens [linearMax]uint8
}

type entry struct {
	key string
	val any
}

// objectOf is m as an Object, its values made by value.
func objectOf(m map[string]any, value func(any) any) *Object {
	o := &Object{entries: make([]entry, 0, len(m))}
	for k, v := range m {
		o.entries = append(o.entries, entry{intern(k), value(v)})
	}
	slices.SortFunc(o.entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for i := range min(len(o.entries), linearMax) {
		o.lens[i] = keyLen(o.entries[i].key)
	}
	return o
}

func keyLen(k string) uint8 { return uint8(min(len(k), 255)) }

// linearMax is the size up to which a key is looked for entry by entry,
// beyond it by halves.
const linearMax = 24

// Get is the value of key, and whether the object has it.
func (o *Object) Get(key string) (any, bool) {
	if len(o.entries) <= linearMax {
		n := keyLen(key)
		for i := range o.entries {
			if o.lens[i] == n && o.entries[i].key == key {
				return o.entries[i].val, true
			}
		}
		return nil, false
	}
	i, found := slices.BinarySearchFunc(o.entries, key, func(e entry, k string) int { return strings.Compare(e.key, k) })
	if !found {
		return nil, false
	}
	return o.entries[i].val, true
}

// Len is the number of keys.
func (o *Object) Len() int { return len(o.entries) }

// Keys are the keys, in order.
func (o *Object) Keys() []string {
	out := make([]string, len(o.entries))
	for i, e := range o.entries {
		out[i] = e.key
	}
	return out
}

// Map is the object as a map (its values as they are).
func (o *Object) Map() map[string]any {
	m := make(map[string]any, len(o.entries))
	for _, e := range o.entries {
		m[e.key] = e.val
	}
	return m
}

// MarshalJSON writes the object as encoding/json writes a map: keys in
// order.
func (o *Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o.entries {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(e.key)
		if err != nil {
			return nil, err
		}
		v, err := marshal(e.val)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is v as JSON the way KQL writes dynamic values: <, > and & as
// they are (encoding/json's Marshal writes them as \u003c and so on, for
// HTML, which is not where these go; pages escape what they show).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
