package sio

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// sioPacketString formats p for failure messages.
func sioPacketString(p sioPacket) string {
	id := "-"
	if p.hasID {
		id = fmt.Sprint(p.id)
	}
	return fmt.Sprintf("{typ:%q attachments:%d nsp:%q id:%s data:%q}", byte(p.typ), p.attachments, p.nsp, id, p.data)
}

func sioPacketsEqual(a, b sioPacket) bool {
	return a.typ == b.typ && a.attachments == b.attachments && a.nsp == b.nsp &&
		a.id == b.id && a.hasID == b.hasID && bytes.Equal(a.data, b.data)
}

// encodedString formats an encoded packet for failure messages.
func encodedString(e encoded) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, m := range e {
		if i > 0 {
			sb.WriteString(", ")
		}
		if m.Binary {
			fmt.Fprintf(&sb, "bin%v", m.Data)
		} else {
			fmt.Fprintf(&sb, "%q", m.Data)
		}
	}
	sb.WriteByte(']')
	return sb.String()
}

// wantEncoded is a text message followed by binary attachments.
func wantEncoded(text string, attachments ...[]byte) encoded {
	out := encoded{{Data: []byte(text)}}
	for _, a := range attachments {
		out = append(out, Message{Data: a, Binary: true})
	}
	return out
}

func encodedEqual(a, b encoded) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
		if a[i].Binary && a[i].Data == nil {
			return false // an attachment is never nil
		}
	}
	return true
}

func TestDecodeSIOPacket(t *testing.T) {
	const ph0 = `{"_placeholder":true,"num":0}`
	const ph1 = `{"_placeholder":true,"num":1}`
	tests := []struct {
		name string
		in   string
		max  int // maxAttachments; 0 means 64
		want sioPacket
	}{
		// CONNECT
		{name: "connect main", in: "0",
			want: sioPacket{typ: sioConnect, nsp: "/"}},
		{name: "connect main with payload", in: `0{"token":"123"}`,
			want: sioPacket{typ: sioConnect, nsp: "/", data: []byte(`{"token":"123"}`)}},
		{name: "connect custom with comma", in: "0/custom,",
			want: sioPacket{typ: sioConnect, nsp: "/custom"}},
		{name: "connect custom without comma", in: "0/custom",
			want: sioPacket{typ: sioConnect, nsp: "/custom"}},
		{name: "connect custom with payload", in: `0/admin,{"token":"123"}`,
			want: sioPacket{typ: sioConnect, nsp: "/admin", data: []byte(`{"token":"123"}`)}},
		{name: "connect custom with empty object", in: `0/admin,{}`,
			want: sioPacket{typ: sioConnect, nsp: "/admin", data: []byte(`{}`)}},
		{name: "connect explicit main namespace", in: "0/,",
			want: sioPacket{typ: sioConnect, nsp: "/"}},
		{name: "connect nested namespace", in: "0/a/b,",
			want: sioPacket{typ: sioConnect, nsp: "/a/b"}},
		{name: "connect multibyte namespace", in: `0/ns✓,{"a":1}`,
			want: sioPacket{typ: sioConnect, nsp: "/ns✓", data: []byte(`{"a":1}`)}},
		{name: "connect payload with whitespace", in: `0/admin, {"a" : 1} `,
			want: sioPacket{typ: sioConnect, nsp: "/admin", data: []byte(` {"a" : 1} `)}},

		// DISCONNECT
		{name: "disconnect main", in: "1",
			want: sioPacket{typ: sioDisconnect, nsp: "/"}},
		{name: "disconnect custom", in: "1/admin,",
			want: sioPacket{typ: sioDisconnect, nsp: "/admin"}},
		{name: "disconnect custom without comma", in: "1/custom",
			want: sioPacket{typ: sioDisconnect, nsp: "/custom"}},

		// EVENT
		{name: "event main", in: `2["foo"]`,
			want: sioPacket{typ: sioEvent, nsp: "/", data: []byte(`["foo"]`)}},
		{name: "event custom", in: `2/admin,["bar"]`,
			want: sioPacket{typ: sioEvent, nsp: "/admin", data: []byte(`["bar"]`)}},
		{name: "event with ack id", in: `212["foo"]`,
			want: sioPacket{typ: sioEvent, nsp: "/", id: 12, hasID: true, data: []byte(`["foo"]`)}},
		{name: "event custom with ack id", in: `2/admin,13["bar",1]`,
			want: sioPacket{typ: sioEvent, nsp: "/admin", id: 13, hasID: true, data: []byte(`["bar",1]`)}},
		{name: "event ack id zero", in: `20["x"]`,
			want: sioPacket{typ: sioEvent, nsp: "/", id: 0, hasID: true, data: []byte(`["x"]`)}},
		{name: "event ack id leading zeros", in: `2007["x"]`,
			want: sioPacket{typ: sioEvent, nsp: "/", id: 7, hasID: true, data: []byte(`["x"]`)}},
		{name: "event ack id 15 digits", in: `2999999999999999["x"]`,
			want: sioPacket{typ: sioEvent, nsp: "/", id: 999999999999999, hasID: true, data: []byte(`["x"]`)}},
		{name: "event compact conformance payload", in: `2["message",1,"2",{"3":[true]}]`,
			want: sioPacket{typ: sioEvent, nsp: "/", data: []byte(`["message",1,"2",{"3":[true]}]`)}},
		{name: "event with whitespace", in: `2 [ "x" , 1 ] `,
			want: sioPacket{typ: sioEvent, nsp: "/", data: []byte(` [ "x" , 1 ] `)}},
		{name: "event empty array", in: `2[]`, // rejected later by shiftEvent
			want: sioPacket{typ: sioEvent, nsp: "/", data: []byte(`[]`)}},
		{name: "event placeholder without attachments", in: `2["x",` + ph0 + `]`,
			want: sioPacket{typ: sioEvent, nsp: "/", data: []byte(`["x",` + ph0 + `]`)}},

		// ACK
		{name: "ack main", in: `312["bar"]`,
			want: sioPacket{typ: sioAck, nsp: "/", id: 12, hasID: true, data: []byte(`["bar"]`)}},
		{name: "ack custom", in: `3/admin,13["bar"]`,
			want: sioPacket{typ: sioAck, nsp: "/admin", id: 13, hasID: true, data: []byte(`["bar"]`)}},
		{name: "ack empty array", in: `312[]`,
			want: sioPacket{typ: sioAck, nsp: "/", id: 12, hasID: true, data: []byte(`[]`)}},

		// BINARY_EVENT
		{name: "binary event", in: `51-["x",` + ph0 + `]`,
			want: sioPacket{typ: sioBinaryEvent, attachments: 1, nsp: "/", data: []byte(`["x",` + ph0 + `]`)}},
		{name: "binary event custom two attachments", in: `52-/admin,["baz",` + ph0 + `,` + ph1 + `]`,
			want: sioPacket{typ: sioBinaryEvent, attachments: 2, nsp: "/admin", data: []byte(`["baz",` + ph0 + `,` + ph1 + `]`)}},
		{name: "binary event custom with ack id", in: `51-/admin,7["x",` + ph0 + `]`,
			want: sioPacket{typ: sioBinaryEvent, attachments: 1, nsp: "/admin", id: 7, hasID: true, data: []byte(`["x",` + ph0 + `]`)}},
		{name: "binary event with ack id", in: `51-42["x",` + ph0 + `]`,
			want: sioPacket{typ: sioBinaryEvent, attachments: 1, nsp: "/", id: 42, hasID: true, data: []byte(`["x",` + ph0 + `]`)}},
		{name: "binary event at the attachment limit", in: `52-["x"]`, max: 2,
			want: sioPacket{typ: sioBinaryEvent, attachments: 2, nsp: "/", data: []byte(`["x"]`)}},
		{name: "binary event two-digit count", in: `512-["x"]`,
			want: sioPacket{typ: sioBinaryEvent, attachments: 12, nsp: "/", data: []byte(`["x"]`)}},

		// BINARY_ACK
		{name: "binary ack", in: `61-15["bar",` + ph0 + `]`,
			want: sioPacket{typ: sioBinaryAck, attachments: 1, nsp: "/", id: 15, hasID: true, data: []byte(`["bar",` + ph0 + `]`)}},
		{name: "binary ack custom", in: `61-/admin,1[` + ph0 + `]`,
			want: sioPacket{typ: sioBinaryAck, attachments: 1, nsp: "/admin", id: 1, hasID: true, data: []byte(`[` + ph0 + `]`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = 64
			}
			in := []byte(tt.in)
			got, err := decodeSIOPacket(in, max)
			if err != nil {
				t.Fatalf("decodeSIOPacket(%q, %d) error: %v; want %s", tt.in, max, err, sioPacketString(tt.want))
			}
			if !sioPacketsEqual(got, tt.want) {
				t.Fatalf("decodeSIOPacket(%q, %d) = %s; want %s", tt.in, max, sioPacketString(got), sioPacketString(tt.want))
			}
			if string(in) != tt.in {
				t.Fatalf("decodeSIOPacket(%q) modified its input to %q", tt.in, in)
			}
		})
	}
}

func TestDecodeSIOPacketRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int // maxAttachments; 0 means 64
	}{
		{name: "empty", in: ""},
		{name: "unknown type 7", in: "7"},
		{name: "unknown type 7 with payload", in: `7["x"]`},
		{name: "unknown type 9", in: `9["x"]`},
		{name: "unknown type letter", in: "abc"},
		{name: "unknown type slash", in: `/admin,["x"]`},
		{name: "unknown type bracket", in: `["x"]`},
		{name: "unknown type NUL", in: "\x00"},

		{name: "event object payload", in: `2{}`},
		{name: "event string payload", in: `2"x"`},
		{name: "event null payload", in: `2null`},
		{name: "event number payload", in: `2/admin,1`},
		{name: "event without payload", in: `2`},
		{name: "event custom without payload", in: `2/admin,`},
		{name: "event custom object payload", in: `2/admin,{}`},
		{name: "event namespace without comma", in: `2/admin["x"]`},
		{name: "event with ack id and object", in: `21{}`},
		{name: "bad ack id abc", in: `2abc["x"]`},
		{name: "bad ack id after namespace", in: `2/admin,abc["x"]`},
		{name: "bad ack id sign", in: `2-1["x"]`},
		{name: "ack id 16 digits", in: `21234567890123456["x"]`},
		{name: "ack id 20 digits overflowing uint64", in: `299999999999999999999["x"]`},
		{name: "ack ack id 16 digits", in: `31234567890123456["x"]`},

		{name: "connect error from client", in: `4{"message":"x"}`},
		{name: "connect error custom from client", in: `4/admin,{"message":"x"}`},
		{name: "connect error bare", in: `4`},
		{name: "4abc", in: `4abc`},

		{name: "connect array payload", in: `0["x"]`},
		{name: "connect custom array payload", in: `0/admin,[]`},
		{name: "connect string payload", in: `0"x"`},
		{name: "connect null payload", in: `0null`},
		{name: "connect number payload after namespace", in: `0/admin,x`},
		{name: "connect truncated object", in: `0{`},
		{name: "connect invalid object", in: `0{"a":}`},
		{name: "connect object with trailing data", in: `0{}{}`},

		{name: "disconnect with object", in: `1{}`},
		{name: "disconnect custom with object", in: `1/admin,{}`},
		{name: "disconnect with array", in: `1["x"]`},
		{name: "disconnect with junk", in: `1/admin,x`},

		{name: "ack without id", in: `3["x"]`},
		{name: "ack custom without id", in: `3/admin,["x"]`},
		{name: "ack object payload", in: `31{}`},
		{name: "ack without payload", in: `31`},
		{name: "binary ack without id", in: `61-["x",{"_placeholder":true,"num":0}]`},

		{name: "binary without count", in: `5["x"]`},
		{name: "binary without dash", in: `51["x"]`},
		{name: "binary dash without count", in: `5-["x"]`},
		{name: "binary bare", in: `5`},
		{name: "binary count only", in: `51`},
		{name: "binary letter count", in: `5a-["x"]`},
		{name: "binary namespace instead of count", in: `5/admin,["x"]`},
		{name: "binary ack without dash", in: `61["x"]`},
		{name: "too many attachments", in: `565-["x"]`},
		{name: "too many attachments for limit", in: `53-["x"]`, max: 2},
		{name: "attachment count 10 digits", in: `51234567890-["x"]`},
		{name: "attachment count huge", in: `599999999999999999999-["x"]`},
		{name: "binary object payload", in: `51-{}`},

		{name: "invalid JSON unterminated", in: `2["x"`},
		{name: "invalid JSON trailing comma", in: `2["x",]`},
		{name: "invalid JSON extra bracket", in: `2["x"]]`},
		{name: "invalid JSON bare word", in: `2[x]`},
		{name: "invalid JSON trailing data", in: `2["x"] y`},
		{name: "invalid JSON two arrays", in: `2["x"]["y"]`},
		{name: "invalid JSON single quotes", in: `2['x']`},
		{name: "invalid JSON ack", in: `31[`},
		{name: "invalid JSON binary", in: `51-["x",{]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = 64
			}
			got, err := decodeSIOPacket([]byte(tt.in), max)
			if err == nil {
				t.Fatalf("decodeSIOPacket(%q, %d) = %s; want an error", tt.in, max, sioPacketString(got))
			}
			if !errors.Is(err, errBadSIOPacket) {
				t.Fatalf("decodeSIOPacket(%q, %d) error %v does not wrap errBadSIOPacket", tt.in, max, err)
			}
		})
	}
}

// TestDecodeSIOPacketAliasesInput checks that data is a view of the input,
// as documented, so that no copy is made per packet.
func TestDecodeSIOPacketAliasesInput(t *testing.T) {
	in := []byte(`2/admin,5["x"]`)
	p, err := decodeSIOPacket(in, 64)
	if err != nil {
		t.Fatalf("decodeSIOPacket(%q) error: %v", in, err)
	}
	if len(p.data) == 0 || &p.data[0] != &in[len(in)-len(p.data)] {
		t.Fatalf("decodeSIOPacket(%q).data = %q does not alias the end of the input", in, p.data)
	}
}

func TestEncodeEvent(t *testing.T) {
	type point struct {
		X int `json:"x"`
		Y int `json:"y"`
	}
	tests := []struct {
		name  string
		nsp   string
		id    uint64
		hasID bool
		event string
		args  []any
		want  encoded
	}{
		{name: "main no args", nsp: "/", event: "foo",
			want: wantEncoded(`2["foo"]`)},
		{name: "empty namespace is main", nsp: "", event: "foo",
			want: wantEncoded(`2["foo"]`)},
		{name: "custom namespace", nsp: "/admin", event: "bar",
			want: wantEncoded(`2/admin,["bar"]`)},
		{name: "ack id", nsp: "/", id: 12, hasID: true, event: "foo",
			want: wantEncoded(`212["foo"]`)},
		{name: "ack id zero", nsp: "/", id: 0, hasID: true, event: "foo",
			want: wantEncoded(`20["foo"]`)},
		{name: "custom namespace and ack id", nsp: "/admin", id: 13, hasID: true, event: "x",
			args: []any{1, "a", true, nil, 2.5},
			want: wantEncoded(`2/admin,13["x",1,"a",true,null,2.5]`)},
		{name: "id ignored without hasID", nsp: "/", id: 99, event: "x",
			want: wantEncoded(`2["x"]`)},
		{name: "compact objects", nsp: "/", event: "hey",
			args: []any{map[string]any{"b": []any{1, 2}, "a": map[string]any{"c": nil}}, point{1, 2}, []int{3, 4}},
			want: wantEncoded(`2["hey",{"a":{"c":null},"b":[1,2]},{"x":1,"y":2},[3,4]]`)},
		{name: "conformance echo", nsp: "/", event: "message-back",
			args: []any{1, "2", map[string]any{"3": []any{true}}},
			want: wantEncoded(`2["message-back",1,"2",{"3":[true]}]`)},
		{name: "binary", nsp: "/", event: "baz",
			args: []any{[]byte{1, 2, 3, 4}},
			want: wantEncoded(`51-["baz",{"_placeholder":true,"num":0}]`, []byte{1, 2, 3, 4})},
		{name: "binary custom namespace two attachments", nsp: "/admin", event: "baz",
			args: []any{[]byte{1, 2}, []byte{3, 4}},
			want: wantEncoded(`52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []byte{1, 2}, []byte{3, 4})},
		{name: "binary custom namespace with ack id", nsp: "/admin", id: 7, hasID: true, event: "up",
			args: []any{"name", map[string]any{"data": []byte{9}}},
			want: wantEncoded(`51-/admin,7["up","name",{"data":{"_placeholder":true,"num":0}}]`, []byte{9})},
		{name: "empty binary", nsp: "/", event: "e",
			args: []any{[]byte{}},
			want: wantEncoded(`51-["e",{"_placeholder":true,"num":0}]`, []byte{})},
		{name: "nil bytes are null", nsp: "/", event: "e",
			args: []any{[]byte(nil)},
			want: wantEncoded(`2["e",null]`)},
		{name: "unicode", nsp: "/", event: "héllo",
			args: []any{"✓ 🎉"},
			want: wantEncoded(`2["héllo","✓ 🎉"]`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeEvent(tt.nsp, tt.id, tt.hasID, tt.event, tt.args)
			if err != nil {
				t.Fatalf("encodeEvent(%q, %d, %v, %q, %#v) error: %v", tt.nsp, tt.id, tt.hasID, tt.event, tt.args, err)
			}
			if !encodedEqual(got, tt.want) {
				t.Fatalf("encodeEvent(%q, %d, %v, %q, %#v) = %s; want %s", tt.nsp, tt.id, tt.hasID, tt.event, tt.args, encodedString(got), encodedString(tt.want))
			}
		})
	}
}

func TestEncodeEventErrors(t *testing.T) {
	tests := []struct {
		name string
		args []any
	}{
		{name: "channel", args: []any{make(chan int)}},
		{name: "func", args: []any{func() {}}},
		{name: "NaN", args: []any{math.NaN()}},
		{name: "infinity in a slice", args: []any{[]any{math.Inf(1)}}},
		{name: "channel next to bytes", args: []any{map[string]any{"b": []byte{1}, "c": make(chan int)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeEvent("/", 0, false, "x", tt.args)
			if err == nil {
				t.Fatalf("encodeEvent(%#v) = %s; want an error", tt.args, encodedString(got))
			}
		})
	}
}

func TestEncodeAck(t *testing.T) {
	tests := []struct {
		name string
		nsp  string
		id   uint64
		args []any
		want encoded
	}{
		{name: "no args", nsp: "/", id: 12,
			want: wantEncoded(`312[]`)},
		{name: "empty args", nsp: "/", id: 0, args: []any{},
			want: wantEncoded(`30[]`)},
		{name: "custom namespace", nsp: "/admin", id: 13, args: []any{"bar"},
			want: wantEncoded(`3/admin,13["bar"]`)},
		{name: "empty namespace is main", nsp: "", id: 1, args: []any{"bar"},
			want: wantEncoded(`31["bar"]`)},
		{name: "several args", nsp: "/", id: 5, args: []any{1, "2", map[string]any{"3": []any{true}}},
			want: wantEncoded(`35[1,"2",{"3":[true]}]`)},
		{name: "large id", nsp: "/", id: 999999999999999, args: []any{nil},
			want: wantEncoded(`3999999999999999[null]`)},
		{name: "binary", nsp: "/", id: 15, args: []any{"bar", []byte{1, 2, 3, 4}},
			want: wantEncoded(`61-15["bar",{"_placeholder":true,"num":0}]`, []byte{1, 2, 3, 4})},
		{name: "binary custom namespace", nsp: "/admin", id: 1, args: []any{[]byte{0xff}},
			want: wantEncoded(`61-/admin,1[{"_placeholder":true,"num":0}]`, []byte{0xff})},
		{name: "binary nested", nsp: "/", id: 2, args: []any{[]any{[]byte{1}, map[string]any{"b": []byte{2}}}},
			want: wantEncoded(`62-2[[{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]]`, []byte{1}, []byte{2})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeAck(tt.nsp, tt.id, tt.args)
			if err != nil {
				t.Fatalf("encodeAck(%q, %d, %#v) error: %v", tt.nsp, tt.id, tt.args, err)
			}
			if !encodedEqual(got, tt.want) {
				t.Fatalf("encodeAck(%q, %d, %#v) = %s; want %s", tt.nsp, tt.id, tt.args, encodedString(got), encodedString(tt.want))
			}
		})
	}
}

func TestEncodeConnect(t *testing.T) {
	tests := []struct {
		nsp, sid string
		want     string
	}{
		{"/", "wZX3oN0bSVIhsaknAAAI", `0{"sid":"wZX3oN0bSVIhsaknAAAI"}`},
		{"", "abc", `0{"sid":"abc"}`},
		{"/admin", "oSO0OpakMV_3jnilAAAA", `0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`},
		{"/custom", "-G5j-67EZFp-q59rADQM", `0/custom,{"sid":"-G5j-67EZFp-q59rADQM"}`},
		{"/", `a"b\c`, `0{"sid":"a\"b\\c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.nsp+" "+tt.sid, func(t *testing.T) {
			got := encodeConnect(tt.nsp, tt.sid)
			if want := wantEncoded(tt.want); !encodedEqual(got, want) {
				t.Fatalf("encodeConnect(%q, %q) = %s; want %s", tt.nsp, tt.sid, encodedString(got), encodedString(want))
			}
		})
	}
}

func TestEncodeConnectError(t *testing.T) {
	tests := []struct {
		name    string
		nsp     string
		message string
		data    any
		want    string
	}{
		{name: "invalid namespace", nsp: "/random", message: "Invalid namespace",
			want: `4/random,{"message":"Invalid namespace"}`},
		{name: "main namespace", nsp: "/", message: "Not authorized",
			want: `4{"message":"Not authorized"}`},
		{name: "empty namespace", nsp: "", message: "Not authorized",
			want: `4{"message":"Not authorized"}`},
		{name: "with data", nsp: "/admin", message: "refused", data: map[string]any{"code": 42, "reason": "x"},
			want: `4/admin,{"message":"refused","data":{"code":42,"reason":"x"}}`},
		{name: "with zero data", nsp: "/", message: "m", data: 0,
			want: `4{"message":"m","data":0}`},
		{name: "with false data", nsp: "/", message: "m", data: false,
			want: `4{"message":"m","data":false}`},
		{name: "with struct data", nsp: "/", message: "m", data: struct {
			Retry int `json:"retry"`
		}{3},
			want: `4{"message":"m","data":{"retry":3}}`},
		{name: "unencodable data falls back to message", nsp: "/admin", message: "m", data: make(chan int),
			want: `4/admin,{"message":"m"}`},
		{name: "escaped message", nsp: "/", message: "a\"b\n",
			want: `4{"message":"a\"b\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodeConnectError(tt.nsp, tt.message, tt.data)
			if want := wantEncoded(tt.want); !encodedEqual(got, want) {
				t.Fatalf("encodeConnectError(%q, %q, %#v) = %s; want %s", tt.nsp, tt.message, tt.data, encodedString(got), encodedString(want))
			}
		})
	}
}

func TestEncodeDisconnect(t *testing.T) {
	tests := []struct{ nsp, want string }{
		{"/", "1"},
		{"", "1"},
		{"/admin", "1/admin,"},
		{"/a/b", "1/a/b,"},
	}
	for _, tt := range tests {
		t.Run(tt.nsp, func(t *testing.T) {
			got := encodeDisconnect(tt.nsp)
			if want := wantEncoded(tt.want); !encodedEqual(got, want) {
				t.Fatalf("encodeDisconnect(%q) = %s; want %s", tt.nsp, encodedString(got), encodedString(want))
			}
		})
	}
}

// TestEncodeNoHTMLEscape checks that text comes out as JSON.stringify
// writes it: "<", ">" and "&" are not escaped, wherever they appear.
func TestEncodeNoHTMLEscape(t *testing.T) {
	type tagged struct {
		S string `json:"s"`
	}
	tests := []struct {
		name string
		enc  func() (encoded, error)
		want string
	}{
		{name: "string in a slice", want: `2["x",["<&>"]]`,
			enc: func() (encoded, error) { return encodeEvent("/", 0, false, "x", []any{[]any{"<&>"}}) }},
		{name: "string in a struct", want: `2["x",{"s":"<&>"}]`,
			enc: func() (encoded, error) { return encodeEvent("/", 0, false, "x", []any{tagged{"<&>"}}) }},
		{name: "map value", want: `2["x",{"k":"<&>"}]`,
			enc: func() (encoded, error) { return encodeEvent("/", 0, false, "x", []any{map[string]any{"k": "<&>"}}) }},
		{name: "top-level string argument", want: `2["x","<&>"]`,
			enc: func() (encoded, error) { return encodeEvent("/", 0, false, "x", []any{"<&>"}) }},
		{name: "event name", want: `2["<b>&"]`,
			enc: func() (encoded, error) { return encodeEvent("/", 0, false, "<b>&", nil) }},
		{name: "map key", want: `2["x",{"<k>":1}]`,
			enc: func() (encoded, error) { return encodeEvent("/", 0, false, "x", []any{map[string]any{"<k>": 1}}) }},
		{name: "map key next to bytes", want: `51-["x",{"<k>":{"_placeholder":true,"num":0}}]`,
			enc: func() (encoded, error) {
				return encodeEvent("/", 0, false, "x", []any{map[string]any{"<k>": []byte{1}}})
			}},
		{name: "ack string argument", want: `31["<&>"]`,
			enc: func() (encoded, error) { return encodeAck("/", 1, []any{"<&>"}) }},
		{name: "connect error message", want: `4{"message":"<not> & allowed"}`,
			enc: func() (encoded, error) { return encodeConnectError("/", "<not> & allowed", nil), nil }},
		{name: "connect error data", want: `4{"message":"m","data":{"html":"<b>"}}`,
			enc: func() (encoded, error) { return encodeConnectError("/", "m", map[string]string{"html": "<b>"}), nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc()
			if err != nil {
				t.Fatalf("encoding error: %v; want %q", err, tt.want)
			}
			if len(got) == 0 || string(got[0].Data) != tt.want {
				t.Fatalf("encoded %s; want text %q (no HTML escaping, as JSON.stringify)", encodedString(got), tt.want)
			}
		})
	}
}

// TestEncodeDecodeRoundTrip checks that what the encoders write, the
// decoder reads back with the same header.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	type want struct {
		typ         sioType
		attachments int
		nsp         string
		id          uint64
		hasID       bool
	}
	tests := []struct {
		name string
		enc  func() (encoded, error)
		want want
	}{
		{name: "event", want: want{sioEvent, 0, "/", 0, false},
			enc: func() (encoded, error) { return encodeEvent("/", 0, false, "x", []any{1}) }},
		{name: "event nsp id", want: want{sioEvent, 0, "/admin", 42, true},
			enc: func() (encoded, error) { return encodeEvent("/admin", 42, true, "x", nil) }},
		{name: "binary event nsp id", want: want{sioBinaryEvent, 2, "/admin", 42, true},
			enc: func() (encoded, error) {
				return encodeEvent("/admin", 42, true, "x", []any{[]byte{1}, []any{[]byte{2}}})
			}},
		{name: "ack", want: want{sioAck, 0, "/", 3, true},
			enc: func() (encoded, error) { return encodeAck("/", 3, nil) }},
		{name: "binary ack nsp", want: want{sioBinaryAck, 1, "/custom", 999999999999999, true},
			enc: func() (encoded, error) { return encodeAck("/custom", 999999999999999, []any{[]byte{1}}) }},
		{name: "connect", want: want{sioConnect, 0, "/admin", 0, false},
			enc: func() (encoded, error) { return encodeConnect("/admin", "sid"), nil }},
		{name: "disconnect", want: want{sioDisconnect, 0, "/admin", 0, false},
			enc: func() (encoded, error) { return encodeDisconnect("/admin"), nil }},
		{name: "disconnect main", want: want{sioDisconnect, 0, "/", 0, false},
			enc: func() (encoded, error) { return encodeDisconnect("/"), nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.enc()
			if err != nil {
				t.Fatalf("encoding error: %v", err)
			}
			p, err := decodeSIOPacket(e[0].Data, 64)
			if err != nil {
				t.Fatalf("decodeSIOPacket(%q) error: %v", e[0].Data, err)
			}
			got := want{p.typ, p.attachments, p.nsp, p.id, p.hasID}
			if got != tt.want {
				t.Fatalf("decodeSIOPacket(%q) = %+v; want %+v", e[0].Data, got, tt.want)
			}
			if len(e)-1 != p.attachments {
				t.Fatalf("encoded %s has %d attachments; header announces %d", encodedString(e), len(e)-1, p.attachments)
			}
		})
	}
}
