package sio

import (
	"encoding/json"
	"fmt"
	"slices"
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
	if attachments == nil {
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
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

// shift removes and returns the first argument as an event name.
func (a Args) shiftEvent() (string, Args, error) {
	var name string
	switch {
	case len(a.raw) > 0:
		if len(a.raw[0]) == 0 || a.raw[0][0] != '"' || json.Unmarshal(a.raw[0], &name) != nil {
			return "", a, fmt.Errorf("%w: event name must be a string", errBadSIOPacket)
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
