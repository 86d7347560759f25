package redisadapter

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio"
)

// hexBytes reads hex with spaces and "quoted" ASCII, as SCALEOUT.md writes
// its test vectors.
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for len(s) > 0 {
		switch {
		case s[0] == ' ':
			s = s[1:]
		case s[0] == '"':
			end := strings.IndexByte(s[1:], '"')
			out = append(out, s[1:1+end]...)
			s = s[end+2:]
		default:
			end := strings.IndexAny(s, ` "`)
			if end < 0 {
				end = len(s)
			}
			b, err := hex.DecodeString(s[:end])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
			s = s[end:]
		}
	}
	return out
}

// The broadcast captured from Node (@socket.io/redis-adapter 8.3.0):
// io.emit("bin", Buffer[1,2,3], new Date(0)) from uid E1fLtm.
const observedBroadcast = `93 a6"E1fLtm" 83 a4"type" 02 a4"data" 93 a3"bin" c4 03 010203 d6 ff 00000000 a3"nsp" a1"/" 83 a5"rooms" 90 a6"except" 90 a5"flags" 80`

func TestDecodeObservedBroadcast(t *testing.T) {
	m, own, err := decodeBroadcast(hexBytes(t, observedBroadcast), "other")
	if err != nil || own {
		t.Fatalf("decode: %v own=%v", err, own)
	}
	want := broadcastMsg{uid: "E1fLtm", nsp: "/", typ: 2, event: "bin",
		args: []any{[]byte{1, 2, 3}, "1970-01-01T00:00:00.000Z"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("decoded %#v\nwant    %#v", m, want)
	}
	if _, own, _ := decodeBroadcast(hexBytes(t, observedBroadcast), "E1fLtm"); !own {
		t.Error("own uid not recognised")
	}
}

func TestEncodeBroadcast(t *testing.T) {
	// The same, without the Date, which Go does not produce.
	want := hexBytes(t, `93 a6"E1fLtm" 83 a4"type" 02 a4"data" 92 a3"bin" c4 03 010203 a3"nsp" a1"/" 83 a5"rooms" 90 a6"except" 90 a5"flags" 80`)
	got, err := encodeBroadcast("E1fLtm", "/", "bin", []any{[]byte{1, 2, 3}}, nil, nil, flags{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got  % x\nwant % x", got, want)
	}
	// An emitter writes opts as rooms, flags, except.
	on := true
	got, _ = encodeBroadcast("emitter", "/chat", "e", nil, []string{"r"}, []string{"x"}, flags{volatile: true, compress: &on})
	want = hexBytes(t, `93 a7"emitter" 83 a4"type" 02 a4"data" 91 a1"e" a3"nsp" a5"/chat" 83 a5"rooms" 91 a1"r" a5"flags" 82 a8"volatile" c3 a8"compress" c3 a6"except" 91 a1"x"`)
	if !bytes.Equal(got, want) {
		t.Errorf("emitter got  % x\nwant % x", got, want)
	}
}

type withBytes struct {
	Name    string `json:"name"`
	Payload []byte `json:"payload"`
	Skip    int    `json:"-"`
	Empty   string `json:"empty,omitempty"`
}

type marshaler struct{}

func (marshaler) MarshalJSON() ([]byte, error) { return []byte(`{"custom":[1,2.5]}`), nil }

func TestEncodeValues(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string // hex
	}{
		{nil, "c0"},
		{true, "c3"},
		{0, "00"},
		{127, "7f"},
		{128, "cc80"},
		{-1, "ff"},
		{-33, "d0df"},
		{int64(1) << 40, "cf0000010000000000"},
		{uint64(math.MaxUint64), "cfffffffffffffffff"},
		{3.0, "03"}, // no fraction: an integer, as in JavaScript
		{-2.5, "cbc004000000000000"},
		{float32(0.5), "cb3fe0000000000000"},
		{math.NaN(), "c0"},
		{json.Number("12"), "0c"},
		{json.Number("1.5"), "cb3ff8000000000000"},
		{"é", "a2c3a9"},
		{[]byte{}, "c400"},
		{[]byte(nil), "c0"},
		{[]any{1, "a"}, "9201a161"},
		{map[string]any{"k": []byte{9}}, "81a16bc40109"},
		{withBytes{Name: "n", Payload: []byte{1}}, ""}, // map order varies: checked below
		{marshaler{}, "81a6637573746f6d9201cb4004000000000000"},
		{time.Unix(0, 0).UTC(), "b4313937302d30312d30315430303a30303a30305a"}, // as encoding/json writes it
		{[]int{1, 2}, "920102"},
	} {
		e := getEncoder()
		if err := e.value(tc.in, 0); err != nil {
			t.Errorf("%#v: %v", tc.in, err)
			continue
		}
		got := e.bytes()
		if tc.want == "" {
			v, err := decodeMsgpack(got)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"name": "n", "payload": []byte{1}}
			if !reflect.DeepEqual(v, want) {
				t.Errorf("%#v: decoded back %#v, want %#v", tc.in, v, want)
			}
			continue
		}
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("%#v: got %x, want %s", tc.in, got, tc.want)
		}
	}
	cyclic := []any{nil}
	cyclic[0] = cyclic
	if err := getEncoder().value(cyclic, 0); err == nil {
		t.Error("cyclic value: no error")
	}
}

func TestDecodeValues(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want any
	}{
		{"c0", nil},
		{"7f", int64(127)},
		{"e0", int64(-32)},
		{"cf8000000000000000", uint64(1 << 63)},
		{"cb3ff8000000000000", 1.5},
		{"ca3f000000", 0.5},
		{"cb7ff8000000000000", nil}, // NaN: JSON has none
		{"c403010203", []byte{1, 2, 3}},
		{"a3616263", "abc"},
		{"d901" + "61", "a"},
		{"92c2c3", []any{false, true}},
		{"8101a161", map[string]any{"1": "a"}},
		{"d6ff00000001", "1970-01-01T00:00:01.000Z"},
		{"d7ff" + "00000004" + "00000002", "1970-01-01T00:00:02.000Z"}, // timestamp64: 1ns, 2s
		{"c70cff" + "00000000" + "0000000000000003", "1970-01-01T00:00:03.000Z"},
		{"d40000", nil},                   // legacy undefined
		{"c70200" + "0102", []byte{1, 2}}, // legacy ArrayBuffer
	} {
		got, err := decodeMsgpack(hexBytes(t, tc.hex))
		if err != nil {
			t.Errorf("%s: %v", tc.hex, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.hex, got, tc.want)
		}
	}
	for _, bad := range []string{"", "92", "dc ffff", "df ffffffff", "c4 05 01", "c1"} {
		if _, err := decodeMsgpack(hexBytes(t, bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, maxDepth+10)
	if _, err := decodeMsgpack(append(deep, 0xc0)); err == nil {
		t.Error("deep nesting: no error")
	}
}

// TestNotepackInterop checks the codec against notepack.io itself, in both
// directions.
func TestNotepackInterop(t *testing.T) {
	h := startHarness(t)
	values := []any{
		// Not 1e300: notepack writes integral numbers past 2^64 as a broken
		// uint64 (Go writes float64 past 2^53).
		map[string]any{"n": []any{0, -1, 127, 128, -129, 65536, 1 << 40, -(1 << 40), 1.5, -0.25, 1e-7, 1 << 53}},
		map[string]any{"s": []any{"", "é", strings.Repeat("x", 40), strings.Repeat("y", 300), strings.Repeat("z", 70000)}},
		map[string]any{"b": []any{[]byte{}, []byte{1, 2, 3}, bytes.Repeat([]byte{7}, 300), map[string]any{"deep": []any{[]byte{9}}}}},
		map[string]any{"o": map[string]any{"a": nil, "b": true, "c": false, "d": []any{}, "e": map[string]any{}}},
	}
	for _, v := range values {
		// Go encodes, notepack decodes.
		e := getEncoder()
		if err := e.value(v, 0); err != nil {
			t.Fatal(err)
		}
		var fromNode any
		h.must(&fromNode, map[string]any{"cmd": "notepack", "op": "decode", "hex": hex.EncodeToString(e.bytes())})
		if got, want := normalize(fromNode), normalize(wireArgs([]any{v})[0]); got != want {
			t.Errorf("notepack decoded %s\nwant %s", got, want)
		}
		// notepack encodes, Go decodes.
		var hx string
		h.must(&hx, map[string]any{"cmd": "notepack", "op": "encode", "value": wireArgs([]any{v})[0]})
		b, _ := hex.DecodeString(hx)
		got, err := decodeMsgpack(b)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := normalize(toWireValue(got)), normalize(wireArgs([]any{v})[0]); g != w {
			t.Errorf("decoded notepack's %s\nwant %s", g, w)
		}
	}
	// A Date from notepack.
	var hx string
	h.must(&hx, map[string]any{"cmd": "notepack", "op": "encode", "value": map[string]any{"$date": 1700000000123}})
	b, _ := hex.DecodeString(hx)
	if got, _ := decodeMsgpack(b); got != "2023-11-14T22:13:20.123Z" {
		t.Errorf("Date decoded as %#v", got)
	}
}

// toWireValue is the harness's toWire, in Go: []byte as {"$bin": base64}.
func toWireValue(v any) any {
	switch v := v.(type) {
	case []byte:
		return map[string]any{"$bin": v}
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = toWireValue(x)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = toWireValue(x)
		}
		return out
	}
	return v
}

// normalize renders v as canonical JSON, so that numbers and byte slices
// compare by value whatever their Go type.
func normalize(v any) string {
	b, _ := json.Marshal(v)
	var x any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.Decode(&x)
	b, _ = json.Marshal(x)
	return string(b)
}

// TestWireRequests: the JSON requests are byte for byte what Node writes.
func TestWireRequests(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{fetchRequest{UID: "u", RequestID: "r", Type: typeRemoteFetch, Opts: targetOpts{Rooms: []string{"a"}}},
			`{"uid":"u","requestId":"r","type":5,"opts":{"rooms":["a"],"except":[]}}`},
		{roomsRequest{UID: "u", Type: typeRemoteJoin, Opts: targetOpts{}, Rooms: []string{"x"}},
			`{"uid":"u","type":2,"opts":{"rooms":[],"except":[]},"rooms":["x"]}`},
		// The emitter's, as captured: no uid.
		{roomsRequest{Type: typeRemoteLeave, Opts: targetOpts{Rooms: []string{"joined-room"}}, Rooms: []string{"joined-room"}},
			`{"type":3,"opts":{"rooms":["joined-room"],"except":[]},"rooms":["joined-room"]}`},
		{disconnectRequest{UID: "u", Type: typeRemoteDisconnect, Opts: targetOpts{Except: []string{"e"}}, Close: true},
			`{"uid":"u","type":4,"opts":{"rooms":[],"except":["e"]},"close":true}`},
		{sseRequest{UID: "emitter", Type: typeServerSideEmit, Data: json.RawMessage(`["ev",1]`)},
			`{"uid":"emitter","type":6,"data":["ev",1]}`},
		{sseResponse{Type: typeServerSideEmit, RequestID: "r"}, `{"type":6,"requestId":"r"}`},
		{clientCountResponse{Type: typeBroadcastClientCount, RequestID: "r"}, `{"type":8,"requestId":"r","clientCount":0}`},
		{socketsResponse{RequestID: "r"}, `{"requestId":"r","sockets":[]}`},
	} {
		got, err := marshalJSON(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	data, err := jsonArgs("ev", []any{"<&>", []byte{1}, withBytes{Name: "n"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `["ev","<&>","AQ==",{"name":"n","payload":null}]`; string(data) != want {
		t.Errorf("jsonArgs = %s, want %s", data, want)
	}
	// Numbers where Node would only write strings still read as rooms.
	var m wireMsg
	if err := json.Unmarshal([]byte(`{"type":2,"opts":{"rooms":[1,"a"],"except":[]},"rooms":[2.5]}`), &m); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m.Opts.Rooms, m.Rooms) != "[1 a] [2.5]" {
		t.Errorf("rooms %v %v", m.Opts.Rooms, m.Rooms)
	}
}

func TestAckMessages(t *testing.T) {
	b, err := encodeAckRequest("u", "r", "/", "ask", []any{1}, []string{"room"}, nil, flags{timeout: 5000})
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeWire(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != "u" || m.RequestID != "r" || !m.is(typeBroadcast) || m.timeout != 5000 ||
		fmt.Sprint(m.Opts.Rooms) != "[room]" || fmt.Sprint(m.packet) != "map[data:[ask 1] nsp:/ type:2]" {
		t.Errorf("decoded %+v packet %v", m, m.packet)
	}
	reply, _ := sio.NewArgs(map[string]any{"ok": []byte{1}})
	b, err = encodeAckResponse("r", reply)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = decodeWire(b); err != nil || !m.is(typeBroadcastAck) || !m.hasPacket {
		t.Fatalf("ack response: %+v %v", m, err)
	}
	var v struct{ OK []byte }
	if err := packetArgs(m).Decode(0, &v); err != nil || !bytes.Equal(v.OK, []byte{1}) {
		t.Errorf("ack relayed as %+v (%v)", v, err)
	}
	empty, _ := sio.NewArgs()
	b, _ = encodeAckResponse("r", empty)
	if m, _ = decodeWire(b); m.hasPacket || packetArgs(m).Len() != 0 {
		t.Errorf("an empty ack carries a packet: %x", b)
	}
}

func TestHandshake(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	hs := sio.Handshake{
		Header:     http.Header{"User-Agent": {"ua"}, "Accept": {"a", "b"}, "Set-Cookie": {"x=1"}, "Origin": {"http://o"}},
		RawQuery:   url.Values{"EIO": {"4"}, "transport": {"websocket"}, "multi": {"1", "2"}}.Encode(),
		RemoteAddr: "10.0.0.1",
		Secure:     true,
		Time:       at,
		Auth:       json.RawMessage(`{"token":"t"}`),
	}
	n := toNodeHandshake(hs)
	b, _ := marshalJSON(n)
	var m map[string]any
	json.Unmarshal(b, &m)
	h := m["headers"].(map[string]any)
	q := m["query"].(map[string]any)
	if h["user-agent"] != "ua" || h["accept"] != "a, b" || fmt.Sprint(h["set-cookie"]) != "[x=1]" ||
		q["EIO"] != "4" || fmt.Sprint(q["multi"]) != "[1 2]" || m["xdomain"] != true || m["secure"] != true ||
		m["issued"] != 1700000000123.0 || m["address"] != "10.0.0.1" || !strings.HasPrefix(m["url"].(string), "/socket.io/?") ||
		fmt.Sprint(m["auth"]) != "map[token:t]" || !strings.Contains(m["time"].(string), "2023") {
		t.Errorf("Node handshake %s", b)
	}
	var back nodeHandshake
	json.Unmarshal(b, &back)
	g := fromNodeHandshake(back)
	if g.Header.Get("User-Agent") != "ua" || g.Query().Get("transport") != "websocket" || len(g.Query()["multi"]) != 2 ||
		!g.Time.Equal(at) || g.RemoteAddr != "10.0.0.1" || !g.Secure || string(g.Auth) != `{"token":"t"}` {
		t.Errorf("back %+v", g)
	}
}
