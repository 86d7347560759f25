package sio

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Args holds the arguments of an incoming event or acknowledgement, as the
// client sent them. Binary attachments are back in place: Decode gives them
// to []byte fields, Values gives them as []byte.
type Args struct {
	raw  []json.RawMessage // a packet without attachments
	tree []any             // a packet with attachments, decoded
}

// parseArgs splits the JSON array data into arguments, putting attachments
// back in place of their placeholders.
func parseArgs(data []byte, attachments [][]byte) (Args, error) {
	if attachments == nil && !json.Valid(data) {
		var v []json.RawMessage
		err := json.Unmarshal(data, &v) // for its error message
		return Args{}, fmt.Errorf("%w: %v", errBadSIOPacket, err)
	}
	return parseValidArgs(data, attachments)
}

// parseValidArgs is parseArgs for data known to be valid JSON, as the
// payload of a decoded packet is (sioPacket.check): one pass over it less
// per event.
func parseValidArgs(data []byte, attachments [][]byte) (Args, error) {
	if attachments == nil {
		raw, err := splitValidArray(data)
		if err != nil {
			return Args{}, fmt.Errorf("%w: %v", errBadSIOPacket, err)
		}
		return Args{raw: raw}, nil
	}
	v, err := decodeGeneric(data)
	if err != nil {
		return Args{}, fmt.Errorf("%w: %v", errBadSIOPacket, err)
	}
	tree, ok := v.([]any)
	if !ok {
		return Args{}, fmt.Errorf("%w: payload must be an array", errBadSIOPacket)
	}
	if _, err := fillPlaceholders(tree, attachments); err != nil {
		return Args{}, err
	}
	return Args{tree: tree}, nil
}

// splitArray splits a JSON array into its elements, as
// json.Unmarshal into a []json.RawMessage does (null gives none), but
// without copying: the elements are slices of data.
func splitArray(data []byte) ([]json.RawMessage, error) {
	if !json.Valid(data) {
		var v []json.RawMessage
		return nil, json.Unmarshal(data, &v) // for its error message
	}
	return splitValidArray(data)
}

// splitValidArray is splitArray for data known to be valid JSON: what
// remains is to find where each element ends, which skipValue does without
// checking what it skips.
func splitValidArray(data []byte) ([]json.RawMessage, error) {
	i := skipSpace(data, 0)
	switch data[i] {
	case 'n':
		return nil, nil
	case '[':
	default:
		return nil, errors.New("the arguments are not a JSON array")
	}
	i = skipSpace(data, i+1)
	if data[i] == ']' {
		return []json.RawMessage{}, nil
	}
	var out []json.RawMessage
	for {
		end := skipValue(data, i)
		out = append(out, json.RawMessage(data[i:end:end]))
		i = skipSpace(data, end)
		if data[i] == ']' {
			return out, nil
		}
		i = skipSpace(data, i+1) // the comma
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns where the valid JSON value starting at i ends.
func skipValue(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 { // the end of the enclosing array: a scalar ended
				return i
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// shift removes and returns the first argument as an event name.
func (a Args) shiftEvent() (string, Args, error) {
	var name string
	switch {
	case len(a.raw) > 0:
		r := a.raw[0]
		if len(r) < 2 || r[0] != '"' {
			return "", a, fmt.Errorf("%w: event name must be a string", errBadSIOPacket)
		}
		if s := r[1 : len(r)-1]; !slices.Contains(s, '\\') && utf8.Valid(s) {
			name = string(s) // nothing to unescape
		} else {
			var unescaped string // on the heap, unlike name: only this path pays
			if json.Unmarshal(r, &unescaped) != nil {
				return "", a, fmt.Errorf("%w: event name must be a string", errBadSIOPacket)
			}
			name = unescaped
		}
		a.raw = a.raw[1:]
	case len(a.tree) > 0:
		s, ok := a.tree[0].(string)
		if !ok {
			return "", a, fmt.Errorf("%w: event name must be a string", errBadSIOPacket)
		}
		name = s
		a.tree = a.tree[1:]
	default:
		return "", a, fmt.Errorf("%w: event without a name", errBadSIOPacket)
	}
	if reservedEvents[name] {
		return "", a, fmt.Errorf("%w: %q is a reserved event name", errBadSIOPacket, name)
	}
	return name, a, nil
}

// Len returns the number of arguments.
func (a Args) Len() int {
	if a.tree != nil {
		return len(a.tree)
	}
	return len(a.raw)
}

// Decode decodes argument i into v with encoding/json. A binary attachment
// decodes into a []byte. Decoding an argument that is not there leaves v
// unchanged and returns nil, as decoding JSON null does.
func (a Args) Decode(i int, v any) error {
	if i < 0 || i >= a.Len() {
		return nil
	}
	raw, err := a.Raw(i)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// Raw returns the JSON of argument i. A binary attachment in it appears as
// a base64 string.
func (a Args) Raw(i int) (json.RawMessage, error) {
	if i < 0 || i >= a.Len() {
		return nil, fmt.Errorf("sio: no argument %d of %d", i, a.Len())
	}
	if a.tree != nil {
		return json.Marshal(a.tree[i])
	}
	return a.raw[i], nil
}

// Values decodes every argument into plain Go values: nil, bool,
// json.Number, string, []byte (for binary), []any and map[string]any.
// Emitting them again reproduces what the client sent, binary included,
// with the keys of each object in sorted order.
func (a Args) Values() ([]any, error) {
	if a.tree != nil {
		return slices.Clone(a.tree), nil
	}
	out := make([]any, len(a.raw))
	for i, r := range a.raw {
		v, err := decodeGeneric(r)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
