package sio

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Types for the binaryEncoder tests.

type binPlain struct {
	A int
	B string `json:"b"`
}

type binTagged struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
	Skip []byte `json:"-"`
	//lint:ignore SA5008 encoding/json names this field "-"; the encoder must too.
	Dash       int    `json:"-,"`
	Opt        []byte `json:"opt,omitempty"`
	OptStr     string `json:"optStr,omitempty"`
	unexported []byte
	Untagged   []byte
}

type binEmbedded struct {
	Inner []byte
	X     int `json:"x"`
}

type binOuter struct {
	binEmbedded
	Y []byte `json:"y"`
}

type BinExportedEmbedded struct {
	E []byte
}

type binOuterTaggedEmbed struct {
	BinExportedEmbedded `json:"emb"`
	Z                   int
}

type binDeep struct {
	Level1 struct {
		Level2 []struct {
			Blob []byte `json:"blob"`
		} `json:"l2"`
	} `json:"l1"`
}

type binBlob []byte

// binHex encodes itself as a hex string: its bytes are not attachments.
type binHex []byte

func (h binHex) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

// binText encodes itself as text: its bytes are not attachments.
type binText struct{ B []byte }

func (t binText) MarshalText() ([]byte, error) { return []byte("text:" + string(t.B)), nil }

type binWithMarshalers struct {
	H binHex  `json:"h"`
	T binText `json:"t"`
	B []byte  `json:"b"`
}

// binPtrMarshaler implements json.Marshaler on its pointer only.
type binPtrMarshaler struct{ B []byte }

func (p *binPtrMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

type binHasPtrMarshaler struct {
	P binPtrMarshaler
	Q []byte
}

type binShadowInner struct {
	Name string
	A    int
}

type binShadow struct {
	binShadowInner
	Name string
	B    []byte
}

type binEmbedPtr struct {
	*binShadowInner
	B []byte
}

type binOmitEmpty struct {
	B []byte          `json:",omitempty"`
	S struct{ X int } `json:",omitempty"`
	C []byte
}

type binWithTime struct {
	T time.Time `json:"t"`
	B []byte    `json:"b"`
}

type binWithRaw struct {
	R json.RawMessage `json:"r"`
	B []byte          `json:"b"`
}

type binNode struct {
	Next *binNode
	B    []byte
}

// encodeBinary runs a binaryEncoder on v.
func encodeBinary(v any) (string, [][]byte, error) {
	var e binaryEncoder
	out, err := e.append(nil, v)
	return string(out), e.attachments, err
}

var placeholderRE = regexp.MustCompile(`\{"_placeholder":true,"num":(\d+)\}`)

// placeholdersToBase64 replaces every placeholder in text with the base64
// string of its attachment: what encoding/json writes for a []byte.
func placeholdersToBase64(text string, attachments [][]byte) string {
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		n, _ := strconv.Atoi(placeholderRE.FindStringSubmatch(m)[1])
		if n >= len(attachments) {
			return m
		}
		return `"` + base64.StdEncoding.EncodeToString(attachments[n]) + `"`
	})
}

// checkPlaceholderOrder checks that the placeholders in text number the
// attachments 0, 1, 2, ... in the order they appear.
func checkPlaceholderOrder(t *testing.T, in any, text string, attachments [][]byte) {
	t.Helper()
	ms := placeholderRE.FindAllStringSubmatch(text, -1)
	if len(ms) != len(attachments) {
		t.Fatalf("encoding %#v: %d placeholders in %s but %d attachments", in, len(ms), text, len(attachments))
	}
	for i, m := range ms {
		if m[1] != strconv.Itoa(i) {
			t.Fatalf("encoding %#v: placeholder %d in %s has num %s; want %d (numbering must follow text order)", in, i, text, m[1], i)
		}
	}
}

func bytesList(bs ...[]byte) [][]byte { return bs }

func TestBinaryEncoder(t *testing.T) {
	const (
		ph0 = `{"_placeholder":true,"num":0}`
		ph1 = `{"_placeholder":true,"num":1}`
		ph2 = `{"_placeholder":true,"num":2}`
	)
	blob := []byte{1, 2, 3}
	tests := []struct {
		name      string
		in        any
		want      string
		wantAtts  [][]byte
		sameAsStd bool // after placeholders → base64, equals encoding/json's output
	}{
		{name: "top-level bytes", in: []byte{1, 2}, want: ph0, wantAtts: bytesList([]byte{1, 2}), sameAsStd: true},
		{name: "top-level empty bytes", in: []byte{}, want: ph0, wantAtts: bytesList([]byte{}), sameAsStd: true},
		{name: "top-level nil bytes", in: []byte(nil), want: `null`, sameAsStd: true},
		{name: "nil", in: nil, want: `null`, sameAsStd: true},
		{name: "string", in: "x", want: `"x"`, sameAsStd: true},
		{name: "int", in: 42, want: `42`, sameAsStd: true},
		{name: "json.Number", in: json.Number("1.50"), want: `1.50`, sameAsStd: true},
		{name: "raw message passthrough", in: json.RawMessage(`{"a":[1,2]}`), want: `{"a":[1,2]}`, sameAsStd: true},
		{name: "nil raw message is null", in: json.RawMessage(nil), want: `null`, sameAsStd: true},
		{name: "named byte slice", in: binBlob{7}, want: ph0, wantAtts: bytesList([]byte{7}), sameAsStd: true},
		{name: "byte array is numbers", in: [4]byte{1, 2, 3, 4}, want: `[1,2,3,4]`, sameAsStd: true},
		{name: "pointer to bytes", in: &blob, want: ph0, wantAtts: bytesList(blob), sameAsStd: true},
		{name: "nil pointer to bytes", in: (*[]byte)(nil), want: `null`, sameAsStd: true},

		{name: "slice of any", in: []any{[]byte{1}, "a", []byte{2}, nil, 3},
			want: `[` + ph0 + `,"a",` + ph1 + `,null,3]`, wantAtts: bytesList([]byte{1}, []byte{2}), sameAsStd: true},
		{name: "nil slice of any", in: []any(nil), want: `null`, sameAsStd: true},
		{name: "empty slice of any", in: []any{}, want: `[]`, sameAsStd: true},
		{name: "nil slice of bytes", in: [][]byte(nil), want: `null`, sameAsStd: true},
		{name: "slice of bytes", in: [][]byte{{1}, nil, {}}, want: `[` + ph0 + `,null,` + ph1 + `]`,
			wantAtts: bytesList([]byte{1}, []byte{}), sameAsStd: true},
		{name: "array of bytes", in: [2][]byte{{1}, {2}}, want: `[` + ph0 + `,` + ph1 + `]`,
			wantAtts: bytesList([]byte{1}, []byte{2}), sameAsStd: true},
		{name: "deeply nested slices", in: []any{[]any{[]any{[]byte{9}}}}, want: `[[[` + ph0 + `]]]`,
			wantAtts: bytesList([]byte{9}), sameAsStd: true},

		{name: "map keys sorted", in: map[string]any{"z": []byte{1}, "a": []byte{2}, "m": 1},
			want: `{"a":` + ph0 + `,"m":1,"z":` + ph1 + `}`, wantAtts: bytesList([]byte{2}, []byte{1}), sameAsStd: true},
		{name: "map of bytes", in: map[string][]byte{"b": {2}, "a": {1}, "c": nil},
			want: `{"a":` + ph0 + `,"b":` + ph1 + `,"c":null}`, wantAtts: bytesList([]byte{1}, []byte{2}), sameAsStd: true},
		{name: "nil map", in: map[string]any(nil), want: `null`, sameAsStd: true},
		{name: "empty map", in: map[string]any{}, want: `{}`, sameAsStd: true},
		{name: "named string keys", in: map[binKey][]byte{"b": {2}, "a": {1}},
			want: `{"a":` + ph0 + `,"b":` + ph1 + `}`, wantAtts: bytesList([]byte{1}, []byte{2}), sameAsStd: true},
		{name: "map pointer values", in: map[string]*[]byte{"n": nil, "p": &blob},
			want: `{"n":null,"p":` + ph0 + `}`, wantAtts: bytesList(blob), sameAsStd: true},

		{name: "struct tags", in: binTagged{Name: "n", Data: []byte{1}, Skip: []byte{2}, Dash: 5, unexported: []byte{3}, Untagged: []byte{4}},
			want: `{"name":"n","data":` + ph0 + `,"-":5,"Untagged":` + ph1 + `}`, wantAtts: bytesList([]byte{1}, []byte{4}), sameAsStd: true},
		{name: "struct omitempty set", in: binTagged{Opt: []byte{8}, OptStr: "s"},
			want: `{"name":"","data":null,"-":0,"opt":` + ph0 + `,"optStr":"s","Untagged":null}`, wantAtts: bytesList([]byte{8}), sameAsStd: true},
		{name: "pointer to struct", in: &binTagged{Data: []byte{1}},
			want: `{"name":"","data":` + ph0 + `,"-":0,"Untagged":null}`, wantAtts: bytesList([]byte{1}), sameAsStd: true},
		{name: "nil pointer to struct", in: (*binTagged)(nil), want: `null`, sameAsStd: true},
		{name: "struct in slice of any", in: []any{binTagged{Data: []byte{1}}, &binTagged{Data: []byte{2}}},
			want:     `[{"name":"","data":` + ph0 + `,"-":0,"Untagged":null},{"name":"","data":` + ph1 + `,"-":0,"Untagged":null}]`,
			wantAtts: bytesList([]byte{1}, []byte{2}), sameAsStd: true},
		{name: "embedded struct promoted", in: binOuter{binEmbedded{Inner: []byte{1}, X: 2}, []byte{3}},
			want: `{"Inner":` + ph0 + `,"x":2,"y":` + ph1 + `}`, wantAtts: bytesList([]byte{1}, []byte{3}), sameAsStd: true},
		{name: "tagged embedded struct is a field", in: binOuterTaggedEmbed{BinExportedEmbedded{E: []byte{1}}, 2},
			want: `{"emb":{"E":` + ph0 + `},"Z":2}`, wantAtts: bytesList([]byte{1}), sameAsStd: true},
		{name: "deep struct", in: func() binDeep {
			var d binDeep
			d.Level1.Level2 = []struct {
				Blob []byte `json:"blob"`
			}{{Blob: []byte{1}}, {}, {Blob: []byte{2}}}
			return d
		}(),
			want: `{"l1":{"l2":[{"blob":` + ph0 + `},{"blob":null},{"blob":` + ph1 + `}]}}`, wantAtts: bytesList([]byte{1}, []byte{2}), sameAsStd: true},
		{name: "plain struct next to bytes", in: []any{binPlain{1, "<x>"}, []byte{1}},
			want: `[{"A":1,"b":"<x>"},` + ph0 + `]`, wantAtts: bytesList([]byte{1})},
		{name: "time next to bytes", in: binWithTime{T: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), B: []byte{1}},
			want: `{"t":"2024-01-02T03:04:05Z","b":` + ph0 + `}`, wantAtts: bytesList([]byte{1}), sameAsStd: true},
		{name: "raw message next to bytes", in: binWithRaw{R: json.RawMessage(`{"k":1}`), B: []byte{1}},
			want: `{"r":{"k":1},"b":` + ph0 + `}`, wantAtts: bytesList([]byte{1}), sameAsStd: true},

		{name: "json.Marshaler bytes are not attachments", in: binHex{0xab, 0xcd}, want: `"abcd"`, sameAsStd: true},
		{name: "TextMarshaler bytes are not attachments", in: binText{B: []byte("hi")}, want: `"text:hi"`, sameAsStd: true},
		{name: "marshalers next to bytes", in: binWithMarshalers{H: binHex{1}, T: binText{B: []byte("x")}, B: []byte{2}},
			want: `{"h":"01","t":"text:x","b":` + ph0 + `}`, wantAtts: bytesList([]byte{2}), sameAsStd: true},
		{name: "marshalers in a map", in: map[string]any{"h": binHex{1}, "b": []byte{2}, "t": binText{B: []byte("y")}},
			want: `{"b":` + ph0 + `,"h":"01","t":"text:y"}`, wantAtts: bytesList([]byte{2}), sameAsStd: true},

		{name: "mixed numbering order", in: []any{map[string]any{"b": []byte{2}, "a": []any{[]byte{1}, []byte{3}}}, []byte{4}},
			want:     `[{"a":[` + ph0 + `,` + ph1 + `],"b":` + ph2 + `},{"_placeholder":true,"num":3}]`,
			wantAtts: bytesList([]byte{1}, []byte{3}, []byte{2}, []byte{4}), sameAsStd: true},
		{name: "same slice twice is two attachments", in: []any{blob, blob},
			want: `[` + ph0 + `,` + ph1 + `]`, wantAtts: bytesList(blob, blob), sameAsStd: true},
		{name: "no HTML escaping in nested strings", in: []any{"<&>", map[string]any{"k": []byte{1}, "v": "<"}},
			want: `["<&>",{"k":` + ph0 + `,"v":"<"}]`, wantAtts: bytesList([]byte{1})},
		{name: "no HTML escaping in top-level string", in: "<&>", want: `"<&>"`},
		{name: "no HTML escaping in map keys", in: map[string]any{"<k>": []byte{1}},
			want: `{"<k>":` + ph0 + `}`, wantAtts: bytesList([]byte{1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, atts, err := encodeBinary(tt.in)
			if err != nil {
				t.Fatalf("encoding %#v: error %v; want %s", tt.in, err, tt.want)
			}
			if got != tt.want {
				t.Fatalf("encoding %#v = %s; want %s", tt.in, got, tt.want)
			}
			if !reflect.DeepEqual(atts, tt.wantAtts) {
				t.Fatalf("encoding %#v: attachments %v; want %v", tt.in, atts, tt.wantAtts)
			}
			checkPlaceholderOrder(t, tt.in, got, atts)
			if !json.Valid([]byte(got)) {
				t.Fatalf("encoding %#v = %s, which is not valid JSON", tt.in, got)
			}
			if tt.sameAsStd {
				std, err := marshalJSON(tt.in)
				if err != nil {
					t.Fatalf("encoding/json fails on %#v: %v", tt.in, err)
				}
				if b64 := placeholdersToBase64(got, atts); b64 != string(std) {
					t.Fatalf("encoding %#v = %s; with attachments as base64 that is %s, but encoding/json writes %s", tt.in, got, b64, std)
				}
			}
		})
	}
}

type binKey string

// TestBinaryEncoderFollowsEncodingJSON checks struct-field rules against
// encoding/json for values that hold bytes: once the placeholders are
// replaced by base64 strings, the text must be exactly encoding/json's.
func TestBinaryEncoderFollowsEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		in   any
	}{
		{name: "outer field shadows embedded field", in: binShadow{binShadowInner{"inner", 1}, "outer", []byte{1}}},
		{name: "embedded pointer to struct", in: binEmbedPtr{&binShadowInner{"in", 1}, []byte{1}}},
		{name: "embedded nil pointer to struct", in: binEmbedPtr{nil, []byte{1}}},
		{name: "omitempty on an empty non-nil slice", in: binOmitEmpty{B: []byte{}, C: []byte{1}}},
		{name: "omitempty on a zero struct", in: binOmitEmpty{C: []byte{1}}},
		{name: "pointer-receiver MarshalJSON on an addressable field", in: &binHasPtrMarshaler{P: binPtrMarshaler{B: []byte{1}}, Q: []byte{2}}},
		{name: "pointer-receiver MarshalJSON on a value", in: binHasPtrMarshaler{P: binPtrMarshaler{B: []byte{1}}, Q: []byte{2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, atts, err := encodeBinary(tt.in)
			std, stdErr := marshalJSON(tt.in)
			if err != nil || stdErr != nil {
				t.Fatalf("encoding %#v: error %v; encoding/json: %s, error %v", tt.in, err, std, stdErr)
			}
			checkPlaceholderOrder(t, tt.in, got, atts)
			if b64 := placeholdersToBase64(got, atts); b64 != string(std) {
				t.Fatalf("encoding %#v = %s (with base64 for attachments: %s); encoding/json writes %s", tt.in, got, b64, std)
			}
		})
	}
}

// TestBinaryEncoderWithoutBytesIsEncodingJSON checks that values that hold
// no []byte come out exactly as encoding/json (without HTML escaping)
// writes them.
func TestBinaryEncoderWithoutBytesIsEncodingJSON(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 123, time.FixedZone("X", 3600))
	tests := []struct {
		name string
		in   any
	}{
		{"bool", true},
		{"int", -7},
		{"uint64", uint64(1 << 63)},
		{"float", 1.5},
		{"float exponent", 1e21},
		{"float small", 1e-7},
		{"string escapes", "a\"b\\c\n\t\u0001"},
		{"string html", "<script>&</script>"},
		{"string unicode", "héllo ✓ 🎉"},
		{"string invalid utf8", "a\xffb"},
		{"slice of ints", []int{1, 2, 3}},
		{"nil slice of ints", []int(nil)},
		{"byte array", [3]byte{1, 2, 3}},
		{"map sorted", map[string]int{"b": 2, "a": 1, "c": 3}},
		{"map int keys", map[int]string{2: "b", 10: "a"}},
		{"struct", binPlain{1, "x"}},
		{"pointer to struct", &binPlain{2, "y"}},
		{"time", now},
		{"json.Number", json.Number("12345678901234567890")},
		{"raw message in map", map[string]json.RawMessage{"r": json.RawMessage(`[1, 2]`)}},
		{"nested any", []any{1, "2", map[string]any{"3": []any{true, nil, 4.5}}}},
		{"map of any without bytes", map[string]any{"b": []any{"<"}, "a": map[string]any{"x": 1}}},
		{"map int keys of any", map[int]any{2: "b", 10: "a"}},
		{"struct of any", struct {
			A any `json:"a"`
			B any `json:"b,omitempty"`
		}{A: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, atts, err := encodeBinary(tt.in)
			std, stdErr := marshalJSON(tt.in)
			if (err != nil) != (stdErr != nil) {
				t.Fatalf("encoding %#v: error %v; encoding/json error %v", tt.in, err, stdErr)
			}
			if got != string(std) {
				t.Fatalf("encoding %#v = %s; encoding/json writes %s", tt.in, got, std)
			}
			if len(atts) != 0 {
				t.Fatalf("encoding %#v gave attachments %v; want none", tt.in, atts)
			}
		})
	}
}

func TestBinaryEncoderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   any
	}{
		{"channel", make(chan int)},
		{"channel in a slice", []any{make(chan int)}},
		{"func in a struct with bytes", struct {
			F func()
			B []byte
		}{func() {}, nil}},
		{"failing marshaler", binFailing{}},
		{"failing marshaler in a map", map[string]any{"f": binFailing{}, "b": []byte{1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := encodeBinary(tt.in)
			if err == nil {
				t.Fatalf("encoding %#v = %s; want an error", tt.in, got)
			}
		})
	}
}

type binFailing struct{}

func (binFailing) MarshalJSON() ([]byte, error) { return nil, errors.New("no") }

// TestBinaryEncoderCycle checks that a cyclic value gives an error, as with
// encoding/json, rather than overflowing the stack (which kills the
// process). Each case runs in a child process.
func TestBinaryEncoderCycle(t *testing.T) {
	const env = "SIO_TEST_BINARY_CYCLE"
	cases := map[string]func() any{
		"map": func() any {
			m := map[string]any{"b": []byte{1}}
			m["self"] = m
			return m
		},
		"slice": func() any {
			s := []any{[]byte{1}, nil}
			s[1] = s
			return s
		},
		"pointer": func() any {
			n := &binNode{B: []byte{1}}
			n.Next = n
			return n
		},
	}
	if name := os.Getenv(env); name != "" {
		debug.SetMaxStack(64 << 20)
		v := cases[name]()
		if _, err := json.Marshal(v); err == nil {
			t.Fatalf("encoding/json accepts the %s cycle", name)
		}
		got, _, err := encodeBinary(v)
		if err == nil {
			t.Fatalf("encoding a %s cycle = %.100s...; want an error", name, got)
		}
		return
	}
	for _, name := range []string{"map", "slice", "pointer"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBinaryEncoderCycle$", "-test.count=1")
			cmd.Env = append(os.Environ(), env+"="+name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				lines := strings.SplitN(string(out), "\n", 6)
				if len(lines) > 5 {
					lines = lines[:5]
				}
				t.Fatalf("encoding a cyclic %s: the child process failed (%v); want an error returned. Output starts:\n%s", name, err, strings.Join(lines, "\n"))
			}
		})
	}
}

func TestBinaryIsPlaceholder(t *testing.T) {
	tests := []struct {
		in     string
		wantN  int
		wantOK bool
	}{
		{`{"_placeholder":true,"num":0}`, 0, true},
		{`{"num":3,"_placeholder":true}`, 3, true},
		{`{"_placeholder":true,"num":-1}`, -1, true},
		{`{"_placeholder":true,"num":"0"}`, -1, true},
		{`{"_placeholder":true,"num":0.5}`, -1, true},
		{`{"_placeholder":true,"num":null}`, -1, true},
		{`{"_placeholder":true,"num":1e40}`, -1, true},
		{`{"_placeholder":true,"num":99999999999999999999}`, -1, true},
		{`{"_placeholder":true,"num":2147483648}`, -1, true},
		{`{"_placeholder":false,"num":0}`, 0, false},
		{`{"_placeholder":"true","num":0}`, 0, false},
		{`{"placeholder":true,"num":0}`, 0, false},
		{`{}`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := decodeGeneric([]byte(tt.in))
			if err != nil {
				t.Fatalf("decodeGeneric(%s): %v", tt.in, err)
			}
			n, ok := isPlaceholder(v.(map[string]any))
			if ok != tt.wantOK || (ok && n != tt.wantN) {
				t.Fatalf("isPlaceholder(%s) = %d, %v; want %d, %v", tt.in, n, ok, tt.wantN, tt.wantOK)
			}
		})
	}
}

func TestBinaryFillPlaceholders(t *testing.T) {
	a0, a1 := []byte{0xa0}, []byte{0xa1, 0xa1}
	tests := []struct {
		name string
		in   string
		atts [][]byte
		want any
	}{
		{name: "top-level", in: `{"_placeholder":true,"num":0}`, atts: bytesList(a0), want: a0},
		{name: "in array", in: `["x",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`, atts: bytesList(a0, a1),
			want: []any{"x", a1, a0}},
		{name: "in map", in: `{"k":{"_placeholder":true,"num":0},"n":1}`, atts: bytesList(a0),
			want: map[string]any{"k": a0, "n": json.Number("1")}},
		{name: "deep", in: `[[{"a":[{"b":{"_placeholder":true,"num":0}}]}]]`, atts: bytesList(a0),
			want: []any{[]any{map[string]any{"a": []any{map[string]any{"b": a0}}}}}},
		{name: "reused number", in: `[{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]`, atts: bytesList(a0),
			want: []any{a0, a0}},
		{name: "unused attachment", in: `["x"]`, atts: bytesList(a0), want: []any{"x"}},
		{name: "false placeholder stays a map", in: `[{"_placeholder":false,"num":0}]`, atts: bytesList(a0),
			want: []any{map[string]any{"_placeholder": false, "num": json.Number("0")}}},
		{name: "scalars", in: `[1,"s",true,null]`, atts: [][]byte{},
			want: []any{json.Number("1"), "s", true, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := decodeGeneric([]byte(tt.in))
			if err != nil {
				t.Fatalf("decodeGeneric(%s): %v", tt.in, err)
			}
			got, err := fillPlaceholders(v, tt.atts)
			if err != nil {
				t.Fatalf("fillPlaceholders(%s, %v) error: %v", tt.in, tt.atts, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("fillPlaceholders(%s, %v) = %#v; want %#v", tt.in, tt.atts, got, tt.want)
			}
		})
	}
}

func TestBinaryFillPlaceholdersRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		atts [][]byte
	}{
		{"number past the end", `[{"_placeholder":true,"num":1}]`, bytesList([]byte{1})},
		{"no attachments", `[{"_placeholder":true,"num":0}]`, [][]byte{}},
		{"negative", `[{"_placeholder":true,"num":-1}]`, bytesList([]byte{1})},
		{"string number", `[{"_placeholder":true,"num":"0"}]`, bytesList([]byte{1})},
		{"fraction", `[{"_placeholder":true,"num":0.5}]`, bytesList([]byte{1})},
		{"huge", `[{"_placeholder":true,"num":18446744073709551616}]`, bytesList([]byte{1})},
		{"missing number", `[{"_placeholder":true,"x":0}]`, bytesList([]byte{1})},
		{"nested bad", `[{"a":[1,{"_placeholder":true,"num":5}]}]`, bytesList([]byte{1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := decodeGeneric([]byte(tt.in))
			if err != nil {
				t.Fatalf("decodeGeneric(%s): %v", tt.in, err)
			}
			got, err := fillPlaceholders(v, tt.atts)
			if err == nil {
				t.Fatalf("fillPlaceholders(%s, %d attachments) = %#v; want an error", tt.in, len(tt.atts), got)
			}
			if !errors.Is(err, errBadSIOPacket) {
				t.Fatalf("fillPlaceholders(%s) error %v does not wrap errBadSIOPacket", tt.in, err)
			}
		})
	}
}

func TestBinaryMarshalJSON(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{map[string]string{"a": "<&>"}, `{"a":"<&>"}`},
		{[]any{1, "x"}, `[1,"x"]`},
		{"\u2028", `"\u2028"`},
		{nil, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := marshalJSON(tt.in)
			if err != nil || string(got) != tt.want {
				t.Fatalf("marshalJSON(%#v) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestBinaryEncoderDeepNesting checks that deep values that are not cyclic
// still encode (encoding/json writes them too), shared parts included.
func TestBinaryEncoderDeepNesting(t *testing.T) {
	const depth = 5000
	shared := []byte{7}
	var v any = []any{shared}
	for range depth {
		v = []any{v, map[string]any{"b": shared}}
	}
	got, atts, err := encodeBinary(v)
	if err != nil {
		t.Fatalf("encoding a %d-deep value: %v", depth, err)
	}
	if len(atts) != depth+1 {
		t.Fatalf("encoding a %d-deep value: %d attachments; want %d", depth, len(atts), depth+1)
	}
	std, err := marshalJSON(v)
	if err != nil {
		t.Fatalf("encoding/json on a %d-deep value: %v", depth, err)
	}
	if b64 := placeholdersToBase64(got, atts); b64 != string(std) {
		t.Fatalf("encoding a %d-deep value differs from encoding/json", depth)
	}
}
