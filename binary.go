package sio

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Binary data in Socket.IO travels beside the JSON: each []byte in an
// event's arguments is replaced by {"_placeholder":true,"num":N} and sent as
// attachment N. This file finds the []byte values in outgoing arguments and
// puts them back into incoming ones.
//
// Outgoing values are encoded with encoding/json, except where their type
// can hold a []byte: there binaryEncoder walks the value itself, following
// encoding/json's rules for field names, "-", omitempty and embedded
// structs, and hands every part that cannot hold a []byte back to
// encoding/json. A value that implements json.Marshaler or
// encoding.TextMarshaler encodes itself, so its bytes are never attachments.

// marshalJSON is json.Marshal without HTML escaping, so that text comes out
// as Node's JSON.stringify writes it.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

type binaryEncoder struct {
	attachments [][]byte
}

var (
	bytesType         = reflect.TypeFor[[]byte]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// append appends the JSON of v to dst, collecting its []byte values as
// attachments.
func (e *binaryEncoder) append(dst []byte, v any) ([]byte, error) {
	if v == nil {
		return append(dst, "null"...), nil
	}
	switch v := v.(type) {
	case []byte:
		return e.appendBytes(dst, v), nil
	case string:
		return appendJSONString(dst, v), nil
	case json.RawMessage:
		return append(dst, v...), nil
	}
	rv := reflect.ValueOf(v)
	if !mayHoldBytes(rv.Type()) {
		j, err := marshalJSON(v)
		return append(dst, j...), err
	}
	return e.appendValue(dst, rv)
}

func (e *binaryEncoder) appendBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(len(e.attachments)), 10)
	dst = append(dst, '}')
	e.attachments = append(e.attachments, b)
	return dst
}

func (e *binaryEncoder) appendValue(dst []byte, v reflect.Value) ([]byte, error) {
	if !v.IsValid() {
		return append(dst, "null"...), nil
	}
	t := v.Type()
	if !mayHoldBytes(t) {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return append(dst, "null"...), nil
		}
		j, err := marshalJSON(v.Interface())
		return append(dst, j...), err
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		return e.appendValue(dst, v.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return e.appendBytes(dst, v.Bytes()), nil
		}
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		fallthrough
	case reflect.Array:
		dst = append(dst, '[')
		for i := range v.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.appendValue(dst, v.Index(i)); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case reflect.Map:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		if t.Key().Kind() != reflect.String {
			return dst, fmt.Errorf("sio: cannot encode a map keyed by %v with binary values", t.Key())
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k.String())
			dst = append(dst, ':')
			var err error
			if dst, err = e.appendValue(dst, v.MapIndex(k)); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case reflect.Struct:
		dst = append(dst, '{')
		first := true
		for _, f := range structFields(t) {
			fv := v.FieldByIndex(f.index)
			if f.omitEmpty && fv.IsZero() {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, f.name)
			dst = append(dst, ':')
			var err error
			if dst, err = e.appendValue(dst, fv); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	j, err := marshalJSON(v.Interface())
	return append(dst, j...), err
}

// mayHoldBytes reports whether a value of type t can contain a []byte that
// encoding/json would write as base64. Interfaces may hold anything.
func mayHoldBytes(t reflect.Type) bool {
	if v, ok := holdsBytesCache.Load(t); ok {
		return v.(bool)
	}
	r := computeHoldsBytes(t, map[reflect.Type]bool{})
	holdsBytesCache.Store(t, r)
	return r
}

var holdsBytesCache sync.Map // reflect.Type -> bool

func computeHoldsBytes(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a cycle holds bytes only through another path
	}
	seen[t] = true
	if t.Kind() != reflect.Interface && (t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		reflect.PointerTo(t).Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)) {
		return false
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return true
		}
		return computeHoldsBytes(t.Elem(), seen)
	case reflect.Array, reflect.Pointer:
		return computeHoldsBytes(t.Elem(), seen)
	case reflect.Map:
		return computeHoldsBytes(t.Elem(), seen)
	case reflect.Struct:
		for _, f := range structFields(t) {
			if computeHoldsBytes(t.FieldByIndex(f.index).Type, seen) {
				return true
			}
		}
	}
	return false
}

type jsonField struct {
	name      string
	index     []int
	omitEmpty bool
}

var fieldsCache sync.Map // reflect.Type -> []jsonField

// structFields lists the fields encoding/json would write for t, in order.
// It follows the common rules: exported fields, json tag names, "-",
// omitempty, and the fields of untagged embedded structs promoted (a name
// defined at a shallower depth wins).
func structFields(t reflect.Type) []jsonField {
	if v, ok := fieldsCache.Load(t); ok {
		return v.([]jsonField)
	}
	var fields []jsonField
	seen := map[string]int{} // name -> depth
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(slices.Clone(index), i)
			ft := sf.Type
			if sf.Anonymous && name == "" {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					if sf.Type.Kind() == reflect.Pointer {
						continue // promoted through a pointer: left to encoding/json's nil handling; rare
					}
					walk(ft, idx, depth+1)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if d, dup := seen[name]; dup && d <= depth {
				continue
			}
			seen[name] = depth
			fields = append(fields, jsonField{name: name, index: idx, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
		}
	}
	walk(t, nil, 0)
	fieldsCache.Store(t, fields)
	return fields
}

// isPlaceholder reports whether m is {"_placeholder":true,"num":N}, and N.
func isPlaceholder(m map[string]any) (int, bool) {
	if len(m) != 2 || m["_placeholder"] != true {
		return 0, false
	}
	n, ok := m["num"].(json.Number)
	if !ok {
		return -1, true
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > 1<<30 {
		return -1, true
	}
	return int(i), true
}

// fillPlaceholders replaces the placeholders in v, a value decoded with
// UseNumber, by their attachments. It fails on a placeholder whose number
// is not an attachment's.
func fillPlaceholders(v any, attachments [][]byte) (any, error) {
	switch v := v.(type) {
	case []any:
		for i, x := range v {
			y, err := fillPlaceholders(x, attachments)
			if err != nil {
				return nil, err
			}
			v[i] = y
		}
		return v, nil
	case map[string]any:
		if n, ok := isPlaceholder(v); ok {
			if n < 0 || n >= len(attachments) {
				return nil, fmt.Errorf("%w: illegal attachment placeholder", errBadSIOPacket)
			}
			return attachments[n], nil
		}
		for k, x := range v {
			y, err := fillPlaceholders(x, attachments)
			if err != nil {
				return nil, err
			}
			v[k] = y
		}
		return v, nil
	}
	return v, nil
}

// decodeGeneric decodes JSON into maps, slices and json.Number.
func decodeGeneric(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
