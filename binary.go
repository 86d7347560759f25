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
	"unsafe"
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
	depth       int                   // pointers, maps and slices we are in
	seen        map[cycleKey]struct{} // those of them past startDetectingCyclesAfter
}

var (
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
		if v == nil {
			return append(dst, "null"...), nil
		}
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

// startDetectingCyclesAfter is, as in encoding/json, the pointer depth
// after which binaryEncoder tracks the pointers it is inside of, so that a
// cyclic value is an error rather than a fatal stack overflow.
const startDetectingCyclesAfter = 1000

type cycleKey struct {
	ptr unsafe.Pointer
	len int
}

// enter notes that the encoder descends into v, a pointer, map or slice;
// leave undoes it.
func (e *binaryEncoder) enter(v reflect.Value) error {
	e.depth++
	if e.depth <= startDetectingCyclesAfter {
		return nil
	}
	k := cycleKey{ptr: v.UnsafePointer()}
	if v.Kind() == reflect.Slice {
		k.len = v.Len()
	}
	if _, ok := e.seen[k]; ok {
		return fmt.Errorf("sio: encountered a cycle via %v", v.Type())
	}
	if e.seen == nil {
		e.seen = map[cycleKey]struct{}{}
	}
	e.seen[k] = struct{}{}
	return nil
}

func (e *binaryEncoder) leave(v reflect.Value) {
	if e.depth > startDetectingCyclesAfter {
		k := cycleKey{ptr: v.UnsafePointer()}
		if v.Kind() == reflect.Slice {
			k.len = v.Len()
		}
		delete(e.seen, k)
	}
	e.depth--
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
		if v.CanAddr() {
			v = v.Addr() // as encoding/json, for MarshalJSON on the pointer
		}
		j, err := marshalJSON(v.Interface())
		return append(dst, j...), err
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		return e.appendValue(dst, v.Elem())
	case reflect.Pointer:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		if err := e.enter(v); err != nil {
			return dst, err
		}
		defer e.leave(v)
		return e.appendValue(dst, v.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return e.appendBytes(dst, v.Bytes()), nil
		}
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		if err := e.enter(v); err != nil {
			return dst, err
		}
		defer e.leave(v)
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
		if err := e.enter(v); err != nil {
			return dst, err
		}
		defer e.leave(v)
		type kv struct {
			name string
			k    reflect.Value
		}
		keys := make([]kv, 0, v.Len())
		for _, k := range v.MapKeys() {
			name, err := mapKeyName(k)
			if err != nil {
				return dst, err
			}
			keys = append(keys, kv{name, k})
		}
		slices.SortFunc(keys, func(a, b kv) int { return strings.Compare(a.name, b.name) })
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k.name)
			dst = append(dst, ':')
			var err error
			if dst, err = e.appendValue(dst, v.MapIndex(k.k)); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case reflect.Struct:
		dst = append(dst, '{')
		first := true
		for _, f := range structFields(t) {
			fv, err := v.FieldByIndexErr(f.index)
			if err != nil {
				continue // through a nil embedded pointer
			}
			if f.omitEmpty && isEmptyValue(fv) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, f.name)
			dst = append(dst, ':')
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
			if computeHoldsBytes(f.typ, seen) {
				return true
			}
		}
	}
	return false
}

type jsonField struct {
	name      string
	index     []int
	typ       reflect.Type
	omitEmpty bool
	tagged    bool
}

var fieldsCache sync.Map // reflect.Type -> []jsonField

// structFields lists the fields encoding/json would write for t, in order.
// It follows encoding/json's rules: exported fields, json tag names, "-",
// omitempty, and the fields of untagged embedded structs (or pointers to
// structs) promoted, where of several fields with one name the shallowest
// wins, a tagged one breaking a tie, and a tie left unbroken drops them all.
func structFields(t reflect.Type) []jsonField {
	if v, ok := fieldsCache.Load(t); ok {
		return v.([]jsonField)
	}
	var all []jsonField
	depths := map[string]int{}
	var walk func(t reflect.Type, index []int, onPath map[reflect.Type]bool)
	walk = func(t reflect.Type, index []int, onPath map[reflect.Type]bool) {
		if onPath[t] {
			return
		}
		onPath[t] = true
		defer delete(onPath, t)
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(slices.Clone(index), i)
			if sf.Anonymous && name == "" {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, idx, onPath)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if name == "" {
				name = sf.Name
			}
			all = append(all, jsonField{name: name, index: idx, typ: sf.Type, tagged: tagged,
				omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
			if d, ok := depths[name]; !ok || len(idx) < d {
				depths[name] = len(idx)
			}
		}
	}
	walk(t, nil, map[reflect.Type]bool{})
	// Keep, for each name, the one dominant field at the shallowest depth.
	var fields []jsonField
	for _, f := range all {
		d := depths[f.name]
		if len(f.index) != d {
			continue
		}
		var rivals, taggedRivals int
		for _, g := range all {
			if g.name == f.name && len(g.index) == d {
				rivals++
				if g.tagged {
					taggedRivals++
				}
			}
		}
		if rivals == 1 || (f.tagged && taggedRivals == 1) {
			fields = append(fields, f)
		}
	}
	fieldsCache.Store(t, fields)
	return fields
}

// isEmptyValue is encoding/json's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// mapKeyName is the JSON name of map key k, as encoding/json writes it.
func mapKeyName(k reflect.Value) (string, error) {
	if k.Kind() == reflect.String {
		return k.String(), nil
	}
	if tm, ok := k.Interface().(encoding.TextMarshaler); ok {
		if k.Kind() == reflect.Pointer && k.IsNil() {
			return "", nil
		}
		b, err := tm.MarshalText()
		return string(b), err
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), nil
	}
	return "", fmt.Errorf("sio: cannot encode a map keyed by %v", k.Type())
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
