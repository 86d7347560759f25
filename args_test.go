package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
)

func TestParseArgs(t *testing.T) {
	a0, a1 := []byte{0xa0}, []byte{0xa1, 0xa1}
	tests := []struct {
		name string
		data string
		atts [][]byte
		want []any // Values()
	}{
		{name: "scalars", data: `["a",1,-2.5e3,true,false,null]`,
			want: []any{"a", json.Number("1"), json.Number("-2.5e3"), true, false, nil}},
		{name: "empty", data: `[]`, want: []any{}},
		{name: "nested", data: `[{"b":[true,{"c":null}]},[1,[2]]]`,
			want: []any{map[string]any{"b": []any{true, map[string]any{"c": nil}}}, []any{json.Number("1"), []any{json.Number("2")}}}},
		{name: "whitespace", data: " [ \"a\" ,\n 1 ] ", want: []any{"a", json.Number("1")}},
		{name: "big numbers keep their text", data: `[12345678901234567890,1.0,1e400]`,
			want: []any{json.Number("12345678901234567890"), json.Number("1.0"), json.Number("1e400")}},
		{name: "placeholder without attachments stays a map", data: `[{"_placeholder":true,"num":0}]`,
			want: []any{map[string]any{"_placeholder": true, "num": json.Number("0")}}},
		{name: "attachment", data: `["x",{"_placeholder":true,"num":0}]`, atts: bytesList(a0),
			want: []any{"x", a0}},
		{name: "two attachments nested", data: `[{"a":{"_placeholder":true,"num":1}},[{"_placeholder":true,"num":0}]]`, atts: bytesList(a0, a1),
			want: []any{map[string]any{"a": a1}, []any{a0}}},
		{name: "empty attachment", data: `[{"_placeholder":true,"num":0}]`, atts: bytesList([]byte{}),
			want: []any{[]byte{}}},
		{name: "attachments without placeholders", data: `[1]`, atts: bytesList(a0),
			want: []any{json.Number("1")}},
		{name: "empty attachment list", data: `["x"]`, atts: [][]byte{},
			want: []any{"x"}},
		{name: "unicode", data: `["h\u00e9llo","✓"]`, want: []any{"héllo", "✓"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseArgs([]byte(tt.data), tt.atts)
			if err != nil {
				t.Fatalf("parseArgs(%s, %v) error: %v", tt.data, tt.atts, err)
			}
			if a.Len() != len(tt.want) {
				t.Fatalf("parseArgs(%s, %v).Len() = %d; want %d", tt.data, tt.atts, a.Len(), len(tt.want))
			}
			got, err := a.Values()
			if err != nil {
				t.Fatalf("parseArgs(%s, %v).Values() error: %v", tt.data, tt.atts, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseArgs(%s, %v).Values() = %#v; want %#v", tt.data, tt.atts, got, tt.want)
			}
			for i := range a.Len() {
				raw, err := a.Raw(i)
				if err != nil || !json.Valid(raw) {
					t.Fatalf("parseArgs(%s, %v).Raw(%d) = %s, %v; want valid JSON", tt.data, tt.atts, i, raw, err)
				}
			}
		})
	}
}

func TestParseArgsRejects(t *testing.T) {
	one := bytesList([]byte{1})
	tests := []struct {
		name string
		data string
		atts [][]byte
	}{
		{name: "object", data: `{}`},
		{name: "object with attachments", data: `{"_placeholder":true,"num":0}`, atts: one},
		{name: "string", data: `"x"`},
		{name: "string with attachments", data: `"x"`, atts: one},
		{name: "null with attachments", data: `null`, atts: one},
		{name: "empty", data: ``},
		{name: "empty with attachments", data: ``, atts: one},
		{name: "truncated", data: `["x",`},
		{name: "truncated with attachments", data: `["x",`, atts: one},
		{name: "trailing data", data: `["x"] 1`},
		{name: "placeholder past the end", data: `[{"_placeholder":true,"num":1}]`, atts: one},
		{name: "placeholder with no attachments", data: `[{"_placeholder":true,"num":0}]`, atts: [][]byte{}},
		{name: "negative placeholder", data: `[{"_placeholder":true,"num":-1}]`, atts: one},
		{name: "string placeholder number", data: `[{"_placeholder":true,"num":"0"}]`, atts: one},
		{name: "fractional placeholder number", data: `[{"_placeholder":true,"num":0.5}]`, atts: one},
		{name: "huge placeholder number", data: `[{"_placeholder":true,"num":1e40}]`, atts: one},
		{name: "nested illegal placeholder", data: `["x",{"a":[{"_placeholder":true,"num":9}]}]`, atts: one},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseArgs([]byte(tt.data), tt.atts)
			if err == nil {
				v, _ := a.Values()
				t.Fatalf("parseArgs(%q, %d attachments) = %#v; want an error", tt.data, len(tt.atts), v)
			}
			if !errors.Is(err, errBadSIOPacket) {
				t.Fatalf("parseArgs(%q) error %v does not wrap errBadSIOPacket", tt.data, err)
			}
		})
	}
}

type argsFile struct {
	Name   string            `json:"name"`
	Data   []byte            `json:"data"`
	Parts  [][]byte          `json:"parts"`
	Meta   argsMeta          `json:"meta"`
	ByName map[string][]byte `json:"byName"`
	Size   int               `json:"size"`
}

type argsMeta struct {
	Thumb []byte  `json:"thumb"`
	Ratio float64 `json:"ratio"`
}

func TestArgsDecode(t *testing.T) {
	a0, a1 := []byte{0, 1, 2}, []byte("hello")
	data := `["upload",{"name":"f.bin","data":{"_placeholder":true,"num":0},"parts":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}],` +
		`"meta":{"thumb":{"_placeholder":true,"num":1},"ratio":1.5},"byName":{"x":{"_placeholder":true,"num":0}},"size":3},{"_placeholder":true,"num":1},7,"s"]`
	a, err := parseArgs([]byte(data), bytesList(a0, a1))
	if err != nil {
		t.Fatalf("parseArgs(%s) error: %v", data, err)
	}
	name, a, err := a.shiftEvent()
	if err != nil || name != "upload" {
		t.Fatalf("shiftEvent on %s = %q, %v; want \"upload\"", data, name, err)
	}
	if a.Len() != 4 {
		t.Fatalf("Len() after shiftEvent on %s = %d; want 4", data, a.Len())
	}

	t.Run("struct with byte fields", func(t *testing.T) {
		var f argsFile
		if err := a.Decode(0, &f); err != nil {
			t.Fatalf("Decode(0) error: %v", err)
		}
		want := argsFile{Name: "f.bin", Data: a0, Parts: [][]byte{a1, a0}, Meta: argsMeta{Thumb: a1, Ratio: 1.5},
			ByName: map[string][]byte{"x": a0}, Size: 3}
		if !reflect.DeepEqual(f, want) {
			t.Fatalf("Decode(0) = %+v; want %+v", f, want)
		}
	})
	t.Run("top-level bytes", func(t *testing.T) {
		var b []byte
		if err := a.Decode(1, &b); err != nil || !bytes.Equal(b, a1) {
			t.Fatalf("Decode(1) = %v, %v; want %v", b, err, a1)
		}
	})
	t.Run("int", func(t *testing.T) {
		var n int
		if err := a.Decode(2, &n); err != nil || n != 7 {
			t.Fatalf("Decode(2) = %d, %v; want 7", n, err)
		}
	})
	t.Run("string", func(t *testing.T) {
		var s string
		if err := a.Decode(3, &s); err != nil || s != "s" {
			t.Fatalf("Decode(3) = %q, %v; want \"s\"", s, err)
		}
	})
	t.Run("type mismatch", func(t *testing.T) {
		var n int
		if err := a.Decode(3, &n); err == nil {
			t.Fatalf("Decode(3) of a string into an int = %d; want an error", n)
		}
	})
	for _, i := range []int{-1, 4, 100} {
		t.Run("out of range "+strconv.Itoa(i), func(t *testing.T) {
			s := "unchanged"
			if err := a.Decode(i, &s); err != nil || s != "unchanged" {
				t.Fatalf("Decode(%d) on %d args = %q, %v; want v unchanged and nil", i, a.Len(), s, err)
			}
		})
	}
}

func TestArgsDecodeWithoutAttachments(t *testing.T) {
	data := `["ev",{"name":"n","size":2,"meta":{"ratio":0.5}},"AQID",[1,2],null]`
	a, err := parseArgs([]byte(data), nil)
	if err != nil {
		t.Fatalf("parseArgs(%s) error: %v", data, err)
	}
	_, a, err = a.shiftEvent()
	if err != nil {
		t.Fatalf("shiftEvent on %s: %v", data, err)
	}
	var f argsFile
	if err := a.Decode(0, &f); err != nil {
		t.Fatalf("Decode(0) error: %v", err)
	}
	if want := (argsFile{Name: "n", Size: 2, Meta: argsMeta{Ratio: 0.5}}); !reflect.DeepEqual(f, want) {
		t.Fatalf("Decode(0) = %+v; want %+v", f, want)
	}
	// A base64 string decodes into []byte, as encoding/json does.
	var b []byte
	if err := a.Decode(1, &b); err != nil || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("Decode(1) = %v, %v; want [1 2 3]", b, err)
	}
	var ns []int
	if err := a.Decode(2, &ns); err != nil || !reflect.DeepEqual(ns, []int{1, 2}) {
		t.Fatalf("Decode(2) = %v, %v; want [1 2]", ns, err)
	}
	p := &argsFile{Name: "kept"}
	if err := a.Decode(3, &p); err != nil || p != nil {
		t.Fatalf("Decode(3) of null into a pointer = %v, %v; want nil", p, err)
	}
	raw, err := a.Raw(0)
	if err != nil || string(raw) != `{"name":"n","size":2,"meta":{"ratio":0.5}}` {
		t.Fatalf("Raw(0) = %s, %v; want the argument's text", raw, err)
	}
}

func TestArgsShiftEvent(t *testing.T) {
	one := bytesList([]byte{1})
	type shiftCase struct {
		name     string
		data     string
		atts     [][]byte
		wantName string
		wantLen  int
		wantErr  bool
	}
	tests := []shiftCase{
		{name: "name only", data: `["msg"]`, wantName: "msg", wantLen: 0},
		{name: "name and args", data: `["msg",1,"2"]`, wantName: "msg", wantLen: 2},
		{name: "name with attachments", data: `["msg",{"_placeholder":true,"num":0}]`, atts: one, wantName: "msg", wantLen: 1},
		{name: "escaped name", data: `["h\u00e9"]`, wantName: "hé"},
		{name: "empty name", data: `[""]`, wantName: ""},
		{name: "reserved names are case sensitive", data: `["Connect"]`, wantName: "Connect"},
		{name: "message is not reserved", data: `["message"]`, wantName: "message"},

		{name: "no name", data: `[]`, wantErr: true},
		{name: "no name with attachments", data: `[]`, atts: one, wantErr: true},
		{name: "number name", data: `[1,"x"]`, wantErr: true},
		{name: "number name with attachments", data: `[1,{"_placeholder":true,"num":0}]`, atts: one, wantErr: true},
		{name: "null name", data: `[null]`, wantErr: true},
		{name: "null name with attachments", data: `[null]`, atts: one, wantErr: true},
		{name: "bool name", data: `[true]`, wantErr: true},
		{name: "object name", data: `[{}]`, wantErr: true},
		{name: "array name", data: `[["x"]]`, wantErr: true},
		{name: "binary name", data: `[{"_placeholder":true,"num":0}]`, atts: one, wantErr: true},
		{name: "escaped reserved name", data: `["\u0063onnect"]`, wantErr: true},
	}
	for _, reserved := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		tests = append(tests,
			shiftCase{name: "reserved " + reserved, data: `["` + reserved + `",1]`, wantErr: true},
			shiftCase{name: "reserved " + reserved + " with attachments", data: `["` + reserved + `",{"_placeholder":true,"num":0}]`, atts: one, wantErr: true})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseArgs([]byte(tt.data), tt.atts)
			if err != nil {
				t.Fatalf("parseArgs(%s) error: %v", tt.data, err)
			}
			n := a.Len()
			name, rest, err := a.shiftEvent()
			if a.Len() != n {
				t.Fatalf("shiftEvent on %s changed the original Args' Len from %d to %d", tt.data, n, a.Len())
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("shiftEvent on %s (%d attachments) = %q, %d args; want an error", tt.data, len(tt.atts), name, rest.Len())
				}
				if !errors.Is(err, errBadSIOPacket) {
					t.Fatalf("shiftEvent on %s error %v does not wrap errBadSIOPacket", tt.data, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("shiftEvent on %s error: %v; want %q", tt.data, err, tt.wantName)
			}
			if name != tt.wantName || rest.Len() != tt.wantLen {
				t.Fatalf("shiftEvent on %s = %q, %d args; want %q, %d args", tt.data, name, rest.Len(), tt.wantName, tt.wantLen)
			}
		})
	}
	t.Run("zero Args", func(t *testing.T) {
		if name, _, err := (Args{}).shiftEvent(); err == nil {
			t.Fatalf("shiftEvent on Args{} = %q; want an error", name)
		}
	})
}

// argsFromEncoded decodes an encoded packet as the server would receive it.
func argsFromEncoded(t *testing.T, e encoded) (sioPacket, Args) {
	t.Helper()
	p, err := decodeSIOPacket(e[0].Data, 64)
	if err != nil {
		t.Fatalf("decodeSIOPacket(%q) error: %v", e[0].Data, err)
	}
	var atts [][]byte
	if p.attachments > 0 {
		for _, m := range e[1:] {
			if !m.Binary {
				t.Fatalf("encoded %s: attachment is not binary", encodedString(e))
			}
			atts = append(atts, m.Data)
		}
	}
	if len(atts) != p.attachments {
		t.Fatalf("encoded %s: header announces %d attachments, got %d", encodedString(e), p.attachments, len(atts))
	}
	a, err := parseArgs(p.data, atts)
	if err != nil {
		t.Fatalf("parseArgs(%q, %d attachments) error: %v", p.data, len(atts), err)
	}
	return p, a
}

// TestArgsRoundTrip encodes values with the binary encoder, parses them back
// and checks that Values gives the same values, and that emitting those
// again gives the same packet.
func TestArgsRoundTrip(t *testing.T) {
	type item struct {
		ID   int    `json:"id"`
		Blob []byte `json:"blob"`
	}
	tests := []struct {
		name string
		in   []any
		want []any // what Values gives: json.Number, maps, []any, []byte
		// keysMove: the input has struct fields, which come back as maps
		// whose keys are written sorted.
		keysMove bool
	}{
		{name: "scalars", in: []any{1, "2", true, nil, 2.5},
			want: []any{json.Number("1"), "2", true, nil, json.Number("2.5")}},
		{name: "conformance echo", in: []any{1, "2", map[string]any{"3": []any{true}}},
			want: []any{json.Number("1"), "2", map[string]any{"3": []any{true}}}},
		{name: "bytes", in: []any{[]byte{1, 2, 3}},
			want: []any{[]byte{1, 2, 3}}},
		{name: "empty bytes", in: []any{[]byte{}},
			want: []any{[]byte{}}},
		{name: "nil bytes", in: []any{[]byte(nil)},
			want: []any{nil}},
		{name: "mixed", in: []any{"a", []byte{1}, map[string]any{"b": []byte{2}, "n": nil, "l": []any{[]byte{3}, 4}}},
			want: []any{"a", []byte{1}, map[string]any{"b": []byte{2}, "n": nil, "l": []any{[]byte{3}, json.Number("4")}}}},
		{name: "struct", in: []any{item{ID: 1, Blob: []byte{9}}, &item{ID: 2}},
			want: []any{map[string]any{"id": json.Number("1"), "blob": []byte{9}}, map[string]any{"id": json.Number("2"), "blob": nil}}, keysMove: true},
		{name: "placeholder-like map without bytes", in: []any{map[string]any{"_placeholder": true, "num": 0}},
			want: []any{map[string]any{"_placeholder": true, "num": json.Number("0")}}},
		{name: "unicode", in: []any{"héllo ✓ 🎉", map[string]any{"ключ": "значение"}},
			want: []any{"héllo ✓ 🎉", map[string]any{"ключ": "значение"}}},
		{name: "html characters", in: []any{"<&>", map[string]any{"<": []byte{1}}},
			want: []any{"<&>", map[string]any{"<": []byte{1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" event", func(t *testing.T) {
			e, err := encodeEvent("/admin", 5, true, "ev", tt.in)
			if err != nil {
				t.Fatalf("encodeEvent(%#v) error: %v", tt.in, err)
			}
			p, a := argsFromEncoded(t, e)
			if p.nsp != "/admin" || p.id != 5 || !p.hasID {
				t.Fatalf("encoded %s decodes to %s; want nsp /admin, id 5", encodedString(e), sioPacketString(p))
			}
			name, a, err := a.shiftEvent()
			if err != nil || name != "ev" {
				t.Fatalf("shiftEvent on %s = %q, %v; want \"ev\"", encodedString(e), name, err)
			}
			got, err := a.Values()
			if err != nil {
				t.Fatalf("Values() on %s error: %v", encodedString(e), err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("encoded %#v as %s; Values() = %#v; want %#v", tt.in, encodedString(e), got, tt.want)
			}
			if tt.keysMove {
				return
			}
			again, err := encodeEvent("/admin", 5, true, "ev", got)
			if err != nil {
				t.Fatalf("encodeEvent(Values()) error: %v", err)
			}
			if !encodedEqual(again, e) {
				t.Fatalf("re-encoding Values() of %s gives %s; want the same packet", encodedString(e), encodedString(again))
			}
		})
		t.Run(tt.name+" ack", func(t *testing.T) {
			e, err := encodeAck("/", 9, tt.in)
			if err != nil {
				t.Fatalf("encodeAck(%#v) error: %v", tt.in, err)
			}
			_, a := argsFromEncoded(t, e)
			got, err := a.Values()
			if err != nil {
				t.Fatalf("Values() on %s error: %v", encodedString(e), err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("encoded %#v as %s; Values() = %#v; want %#v", tt.in, encodedString(e), got, tt.want)
			}
			if a.Len() != len(tt.in) {
				t.Fatalf("Len() = %d; want %d", a.Len(), len(tt.in))
			}
		})
	}
}

// TestArgsEcho checks that arguments received from a client, emitted back
// through Values, come out as the client wrote them (when their JSON is
// compact and object keys are sorted).
func TestArgsEcho(t *testing.T) {
	tests := []struct {
		name string
		in   string // a client's EVENT, without the Engine.IO "4"
		atts [][]byte
		want string // the ACK the server sends with the same arguments, id 1
	}{
		{name: "conformance payload", in: `2["message-with-ack",1,"2",{"3":[true]}]`,
			want: `31[1,"2",{"3":[true]}]`},
		{name: "numbers keep their text", in: `2["m",1.0,1e3,-0,12345678901234567890]`,
			want: `31[1.0,1e3,-0,12345678901234567890]`},
		{name: "spacing is compacted", in: `2[ "m" , [ 1 , 2 ] , { "a" : null } ]`,
			want: `31[[1,2],{"a":null}]`},
		{name: "binary", in: `51-["m",{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":0}}]`, atts: bytesList([]byte{7}),
			want: `62-1[{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1}}]`},
		{name: "html characters", in: `2["m","<&>",{"<":">"}]`,
			want: `31["<&>",{"<":">"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodeSIOPacket([]byte(tt.in), 64)
			if err != nil {
				t.Fatalf("decodeSIOPacket(%q) error: %v", tt.in, err)
			}
			a, err := parseArgs(p.data, tt.atts)
			if err != nil {
				t.Fatalf("parseArgs(%q) error: %v", p.data, err)
			}
			_, a, err = a.shiftEvent()
			if err != nil {
				t.Fatalf("shiftEvent on %q: %v", tt.in, err)
			}
			vals, err := a.Values()
			if err != nil {
				t.Fatalf("Values() on %q: %v", tt.in, err)
			}
			e, err := encodeAck("/", 1, vals)
			if err != nil {
				t.Fatalf("encodeAck(%#v) error: %v", vals, err)
			}
			if string(e[0].Data) != tt.want {
				t.Fatalf("echo of %q = %s; want %q", tt.in, encodedString(e), tt.want)
			}
		})
	}
}

func TestArgsRaw(t *testing.T) {
	t.Run("without attachments", func(t *testing.T) {
		a, err := parseArgs([]byte(`[ {"b":1, "a":2} ,"x"]`), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{`{"b":1, "a":2}`, `"x"`} {
			if got, err := a.Raw(i); err != nil || string(got) != want {
				t.Fatalf("Raw(%d) = %s, %v; want %s", i, got, err, want)
			}
		}
	})
	t.Run("with attachments", func(t *testing.T) {
		a, err := parseArgs([]byte(`[{"b":{"_placeholder":true,"num":0},"a":1.50},"x"]`), bytesList([]byte{1, 2, 3}))
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{`{"a":1.50,"b":"AQID"}`, `"x"`} {
			if got, err := a.Raw(i); err != nil || string(got) != want {
				t.Fatalf("Raw(%d) = %s, %v; want %s", i, got, err, want)
			}
		}
	})
}
