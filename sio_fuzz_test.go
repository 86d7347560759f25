package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// sioFuzzSeeds are Socket.IO packets (without the Engine.IO "4") that the
// fuzz targets start from: the spec's examples, the conformance suite's
// packets and the edge cases of the tests.
var sioFuzzSeeds = []string{
	"0",
	"0/admin,",
	"0/custom",
	`0{"token":"123"}`,
	`0/admin,{"token":"123"}`,
	`0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`,
	"1",
	"1/admin,",
	"1/custom",
	`2["foo"]`,
	`2/admin,["bar"]`,
	`212["foo"]`,
	`2/admin,13["bar",1,"2",{"3":[true]}]`,
	`2["message",1,"2",{"3":[true]}]`,
	`2["message-with-ack",1,"2",{"3":[true]}]`,
	`312["bar"]`,
	`3/admin,13["bar"]`,
	`312[]`,
	`4{"message":"Not authorized"}`,
	`51-["baz",{"_placeholder":true,"num":0}]`,
	`52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
	`51-/admin,7["x",{"_placeholder":true,"num":0}]`,
	`61-15["bar",{"_placeholder":true,"num":0}]`,
	`61-/admin,1[{"_placeholder":true,"num":0}]`,
	`50-["x"]`,
	`2999999999999999["x"]`,
	`21234567890123456["x"]`,
	`2007["x"]`,
	`2 [ "x" , 1 ] `,
	`2[]`,
	`2{}`,
	`2abc["x"]`,
	`4abc`,
	`7`,
	`0["x"]`,
	`1{}`,
	`3["x"]`,
	`51["x"]`,
	`565-["x"]`,
	`2["x"`,
	`2["connect"]`,
	`2[null]`,
	`2[1,"x"]`,
	`2/ns✓,["héllo ✓ 🎉"]`,
	"2[\"\xff\"]",
	`2[{"_placeholder":true,"num":-1}]`,
	`2[[[[[[[[[[1]]]]]]]]]]`,
}

// FuzzDecodeSIOPacket feeds arbitrary text to decodeSIOPacket. It must
// never panic; an accepted packet must satisfy the invariants its consumers
// rely on, and encoding its header again must decode to the same packet.
func FuzzDecodeSIOPacket(f *testing.F) {
	for _, s := range sioFuzzSeeds {
		f.Add([]byte(s), uint8(64))
	}
	f.Add([]byte(`52-["x"]`), uint8(2))
	f.Add([]byte(`53-["x"]`), uint8(2))
	f.Add([]byte(`51-["x"]`), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, maxAtt uint8) {
		max := int(maxAtt)
		orig := bytes.Clone(in)
		p, err := decodeSIOPacket(in, max)
		if !bytes.Equal(in, orig) {
			t.Fatalf("decodeSIOPacket(%q) modified its input to %q", orig, in)
		}
		if err != nil {
			if !errors.Is(err, errBadSIOPacket) {
				t.Fatalf("decodeSIOPacket(%q) error %v does not wrap errBadSIOPacket", in, err)
			}
			return
		}
		checkSIOPacket(t, in, max, p)

		// Encode the header again and decode: the same packet.
		var again []byte
		if (p.typ == sioBinaryEvent || p.typ == sioBinaryAck) && p.attachments == 0 {
			// appendHeader never writes a count of 0.
			again = append(again, byte(p.typ), '0', '-')
			if p.nsp != "/" {
				again = append(again, p.nsp...)
				again = append(again, ',')
			}
			if p.hasID {
				again = strconv.AppendUint(again, p.id, 10)
			}
		} else {
			again = appendHeader(nil, p.typ, p.attachments, p.nsp, p.id, p.hasID)
		}
		again = append(again, p.data...)
		q, err := decodeSIOPacket(again, max)
		if err != nil {
			t.Fatalf("decodeSIOPacket(%q) = %s; re-encoded as %q, which fails: %v", in, sioPacketString(p), again, err)
		}
		if !sioPacketsEqual(p, q) {
			t.Fatalf("decodeSIOPacket(%q) = %s; re-encoded as %q, which decodes to %s", in, sioPacketString(p), again, sioPacketString(q))
		}

		// The payload of an accepted EVENT or ACK parses as arguments.
		switch p.typ {
		case sioEvent, sioAck, sioBinaryEvent, sioBinaryAck:
			var atts [][]byte
			if p.attachments > 0 {
				atts = make([][]byte, p.attachments)
				for i := range atts {
					atts[i] = []byte{byte(i)}
				}
			}
			a, err := parseArgs(p.data, atts)
			if err != nil {
				if atts == nil {
					t.Fatalf("decodeSIOPacket(%q) accepted payload %q, which parseArgs rejects: %v", in, p.data, err)
				}
				return // a bad placeholder
			}
			if _, err := a.Values(); err != nil {
				t.Fatalf("Values() on accepted payload %q: %v", p.data, err)
			}
			if p.typ == sioEvent || p.typ == sioBinaryEvent {
				name, rest, err := a.shiftEvent()
				if err == nil {
					if reservedEvents[name] {
						t.Fatalf("shiftEvent on %q accepted reserved name %q", p.data, name)
					}
					if rest.Len() != a.Len()-1 {
						t.Fatalf("shiftEvent on %q: %d args left of %d", p.data, rest.Len(), a.Len())
					}
				}
			}
		}
	})
}

// checkSIOPacket checks the invariants of a packet decodeSIOPacket accepted.
func checkSIOPacket(t *testing.T, in []byte, max int, p sioPacket) {
	t.Helper()
	bad := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("decodeSIOPacket(%q, %d) = %s: "+format, append([]any{in, max, sioPacketString(p)}, args...)...)
	}
	switch p.typ {
	case sioConnect, sioDisconnect, sioEvent, sioAck, sioBinaryEvent, sioBinaryAck:
	default:
		bad("accepted packet type %q", byte(p.typ))
	}
	if len(in) == 0 || in[0] != byte(p.typ) {
		bad("type is not the first byte")
	}
	if !strings.HasPrefix(p.nsp, "/") {
		bad("namespace does not start with /")
	}
	if strings.Contains(p.nsp, ",") {
		bad("namespace contains a comma")
	}
	if p.attachments < 0 || p.attachments > max {
		bad("%d attachments, limit %d", p.attachments, max)
	}
	if p.attachments > 0 && p.typ != sioBinaryEvent && p.typ != sioBinaryAck {
		bad("attachments on a non-binary packet")
	}
	if (p.typ == sioAck || p.typ == sioBinaryAck) && !p.hasID {
		bad("ACK without an id")
	}
	if !p.hasID && p.id != 0 {
		bad("id without hasID")
	}
	if p.hasID && p.id >= 1e15 {
		bad("ack id %d beyond 15 digits", p.id)
	}
	if !bytes.HasSuffix(in, p.data) {
		bad("data is not the end of the input")
	}
	if len(p.data) > 0 && !json.Valid(p.data) {
		bad("data is not valid JSON")
	}
	first := firstByte(p.data)
	switch p.typ {
	case sioConnect:
		if len(p.data) > 0 && first != '{' {
			bad("CONNECT payload is not an object")
		}
	case sioDisconnect:
		if len(p.data) != 0 {
			bad("DISCONNECT with a payload")
		}
	default:
		if first != '[' {
			bad("payload is not an array")
		}
	}
}

// fuzzAttachments picks 0..3 attachments; n%5 == 0 means none (nil) and
// n%5 == 1 an empty, non-nil list.
func fuzzAttachments(n uint8, a0, a1, a2 []byte) [][]byte {
	all := [][]byte{append([]byte{}, a0...), append([]byte{}, a1...), append([]byte{}, a2...)}
	switch k := int(n % 5); k {
	case 0:
		return nil
	default:
		return all[:k-1]
	}
}

// FuzzParseArgs feeds arbitrary JSON and 0..3 attachments to parseArgs. It
// must never panic. Accepted arguments must give plain values, valid JSON
// per argument, and survive a round trip through the binary encoder.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		`["x"]`,
		`[]`,
		`["message",1,"2",{"3":[true]}]`,
		`["x",{"_placeholder":true,"num":0}]`,
		`[{"_placeholder":true,"num":0},{"a":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":2}]`,
		`[{"_placeholder":true,"num":0,"x":1}]`,
		`[{"_placeholder":true,"num":-1}]`,
		`[{"_placeholder":true,"num":"0"}]`,
		`[{"_placeholder":true,"num":1e0}]`,
		`[{"_placeholder":true,"num":99999999999999999999}]`,
		`[{"_placeholder":true}]`,
		`[null]`,
		`["connect"]`,
		`[1.0,-0,1e400,12345678901234567890]`,
		`[{"a":1,"a":2}]`,
		`["\ud800","\u2028<&>"]`,
		"[\"\xff\"]",
		`{}`,
		`null`,
		`"x"`,
		``,
		`[1] [2]`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	} {
		for _, n := range []uint8{0, 1, 2, 4} {
			f.Add([]byte(s), n, []byte{1, 2, 3}, []byte{}, []byte("bin"))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint8, a0, a1, a2 []byte) {
		atts := fuzzAttachments(n, a0, a1, a2)
		orig := bytes.Clone(data)
		// splitArray must split as encoding/json does.
		var want []json.RawMessage
		wantErr := json.Unmarshal(data, &want)
		got, err := splitArray(data)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("splitArray(%q) error %v; encoding/json says %v", data, err, wantErr)
		}
		if err == nil && (len(got) != len(want) || (got == nil) != (want == nil)) {
			t.Fatalf("splitArray(%q) = %q; encoding/json gives %q", data, got, want)
		}
		for i := range got {
			if err == nil && !bytes.Equal(got[i], want[i]) {
				t.Fatalf("splitArray(%q)[%d] = %q; encoding/json gives %q", data, i, got[i], want[i])
			}
		}
		a, err := parseArgs(data, atts)
		if !bytes.Equal(data, orig) {
			t.Fatalf("parseArgs(%q) modified its input to %q", orig, data)
		}
		if err != nil {
			if !errors.Is(err, errBadSIOPacket) {
				t.Fatalf("parseArgs(%q, %d attachments) error %v does not wrap errBadSIOPacket", data, len(atts), err)
			}
			return
		}
		vals, err := a.Values()
		if err != nil {
			t.Fatalf("parseArgs(%q, %d attachments).Values() error: %v", data, len(atts), err)
		}
		if len(vals) != a.Len() {
			t.Fatalf("parseArgs(%q): Len() = %d but %d values", data, a.Len(), len(vals))
		}
		for i, v := range vals {
			checkPlainValue(t, data, atts, v)
			raw, err := a.Raw(i)
			if err != nil || !json.Valid(raw) {
				t.Fatalf("parseArgs(%q).Raw(%d) = %q, %v; want valid JSON", data, i, raw, err)
			}
			var x json.RawMessage
			if err := a.Decode(i, &x); err != nil || !bytes.Equal(x, raw) {
				t.Fatalf("parseArgs(%q).Decode(%d, *json.RawMessage) = %q, %v; want %q", data, i, x, err, raw)
			}
		}
		if name, rest, err := a.shiftEvent(); err == nil {
			if reservedEvents[name] {
				t.Fatalf("shiftEvent on %q accepted reserved name %q", data, name)
			}
			if rest.Len() != a.Len()-1 {
				t.Fatalf("shiftEvent on %q: %d args left of %d", data, rest.Len(), a.Len())
			}
		}

		// Emitting the values again and parsing that gives the same values.
		e, err := encodeAck("/", 1, vals)
		if err != nil {
			t.Fatalf("encodeAck(Values() of %q) error: %v", data, err)
		}
		p, err := decodeSIOPacket(e[0].Data, 1<<20)
		if err != nil {
			t.Fatalf("Values() of %q re-encoded as %s, which does not decode: %v", data, encodedString(e), err)
		}
		var atts2 [][]byte
		if p.attachments > 0 {
			for _, m := range e[1:] {
				atts2 = append(atts2, m.Data)
			}
		}
		if len(atts2) != p.attachments {
			t.Fatalf("re-encoded %s announces %d attachments, carries %d", encodedString(e), p.attachments, len(atts2))
		}
		b, err := parseArgs(p.data, atts2)
		if err != nil {
			t.Fatalf("Values() of %q re-encoded as %s, which parseArgs rejects: %v", data, encodedString(e), err)
		}
		vals2, err := b.Values()
		if err != nil {
			t.Fatalf("Values() of re-encoded %s: %v", encodedString(e), err)
		}
		if !reflect.DeepEqual(vals, vals2) {
			t.Fatalf("parseArgs(%q, %d attachments).Values() = %#v; re-encoded as %s, which parses to %#v", data, len(atts), vals, encodedString(e), vals2)
		}
	})
}

// checkPlainValue checks that v holds only the types Values documents, and
// that every []byte in it is one of the attachments.
func checkPlainValue(t *testing.T, data []byte, atts [][]byte, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil, bool, json.Number, string:
	case []byte:
		for _, a := range atts {
			if bytes.Equal(a, v) {
				return
			}
		}
		t.Fatalf("parseArgs(%q, %d attachments): Values() holds %v, which is no attachment", data, len(atts), v)
	case []any:
		for _, x := range v {
			checkPlainValue(t, data, atts, x)
		}
	case map[string]any:
		for _, x := range v {
			checkPlainValue(t, data, atts, x)
		}
	default:
		t.Fatalf("parseArgs(%q): Values() holds a %T", data, v)
	}
}

// fuzzTarget is what FuzzArgsDecode decodes arguments into.
type fuzzTarget struct {
	S    string                `json:"s"`
	N    int                   `json:"n"`
	U    uint8                 `json:"u"`
	F    float64               `json:"f"`
	B    []byte                `json:"b"`
	Arr  [2]byte               `json:"arr"`
	P    *fuzzTarget           `json:"p"`
	L    []fuzzTarget          `json:"l"`
	M    map[string][]byte     `json:"m"`
	MI   map[int]string        `json:"mi"`
	A    any                   `json:"a"`
	Raw  json.RawMessage       `json:"raw"`
	Num  json.Number           `json:"num"`
	Nest struct{ Deep []byte } `json:"nest"`
}

// FuzzArgsDecode decodes arbitrary arguments into typed values. It must
// never panic; a binary argument decodes into []byte as its attachment.
func FuzzArgsDecode(f *testing.F) {
	for _, s := range []string{
		`[{"s":"x","n":1,"b":{"_placeholder":true,"num":0},"p":{"b":{"_placeholder":true,"num":0}},"l":[{"s":"y"}]}]`,
		`[{"_placeholder":true,"num":0}]`,
		`[{"m":{"k":{"_placeholder":true,"num":0}},"nest":{"Deep":{"_placeholder":true,"num":0}}}]`,
		`[{"s":1,"n":"x","b":5,"u":300,"arr":[1,2,3],"mi":{"x":"y"}}]`,
		`[{"b":"AQID"},"AQID",{"b":"!!"}]`,
		`[{"raw":{"a":[1]},"num":1.5e3,"a":[{"_placeholder":true,"num":0}]}]`,
		`[{"B":{"_placeholder":true,"num":0},"b":"AA=="}]`,
		`[1,"2",{"3":[true]}]`,
		`[null,true,1e400,-1]`,
		`[]`,
	} {
		f.Add([]byte(s), []byte{1, 2, 3}, true)
		f.Add([]byte(s), []byte{}, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, att []byte, withAtt bool) {
		var atts [][]byte
		if withAtt {
			atts = [][]byte{append([]byte{}, att...)}
		}
		a, err := parseArgs(data, atts)
		if err != nil {
			return
		}
		vals, err := a.Values()
		if err != nil {
			t.Fatalf("parseArgs(%q).Values() error: %v", data, err)
		}
		for i := -1; i <= a.Len(); i++ {
			var ft fuzzTarget
			ftErr := a.Decode(i, &ft)
			var fts []fuzzTarget
			_ = a.Decode(i, &fts)
			var bs []byte
			bsErr := a.Decode(i, &bs)
			var s string
			_ = a.Decode(i, &s)
			var n int
			_ = a.Decode(i, &n)
			var m map[string]any
			_ = a.Decode(i, &m)
			var x any
			_ = a.Decode(i, &x)

			if i < 0 || i >= a.Len() {
				if ftErr != nil || bsErr != nil || bs != nil || !reflect.DeepEqual(ft, fuzzTarget{}) {
					t.Fatalf("parseArgs(%q).Decode(%d) out of range changed v or failed: %v, %v", data, i, ftErr, bsErr)
				}
				continue
			}
			// A binary argument decodes into []byte as itself.
			switch v := vals[i].(type) {
			case []byte:
				if bsErr != nil || !bytes.Equal(bs, v) {
					t.Fatalf("parseArgs(%q, %v).Decode(%d, *[]byte) = %v, %v; want %v", data, atts, i, bs, bsErr, v)
				}
			case map[string]any:
				b, ok := v["b"].([]byte)
				if !ok || ftErr != nil {
					break
				}
				folded := 0
				for k := range v {
					if strings.EqualFold(k, "b") {
						folded++
					}
				}
				if folded == 1 && !bytes.Equal(ft.B, b) {
					t.Fatalf("parseArgs(%q, %v).Decode(%d, *struct).B = %v; want %v", data, atts, i, ft.B, b)
				}
			}
		}
	})
}
