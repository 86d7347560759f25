package sio

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Table tests for the Engine.IO v4 codec: decodePacket (one WebSocket text
// frame), decodePayload (one long-polling body), appendPayload and
// payloadLen.

// eioPkt builds a text packet.
func eioPkt(t packetType, data string) packet {
	return packet{typ: t, data: []byte(data)}
}

// eioBin builds a binary message packet.
func eioBin(data ...byte) packet {
	return packet{typ: packetMessage, data: data, binary: true}
}

// eioPacketString formats p for failure messages.
func eioPacketString(p packet) string {
	if p.binary {
		return fmt.Sprintf("binary%v", p.data)
	}
	return fmt.Sprintf("%c%q", byte(p.typ), p.data)
}

func eioPacketsString(ps []packet) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = eioPacketString(p)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// eioPacketsEqual compares packets by value; nil and empty data are equal.
func eioPacketsEqual(a, b []packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].typ != b[i].typ || a[i].binary != b[i].binary || !bytes.Equal(a[i].data, b[i].data) {
			return false
		}
	}
	return true
}

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    packet
		wantErr string // substring of the error; "" means success
	}{
		{name: "open", in: `0{"sid":"abc"}`, want: eioPkt(packetOpen, `{"sid":"abc"}`)},
		{name: "close", in: "1", want: eioPkt(packetClose, "")},
		{name: "ping", in: "2", want: eioPkt(packetPing, "")},
		{name: "ping probe", in: "2probe", want: eioPkt(packetPing, "probe")},
		{name: "pong", in: "3", want: eioPkt(packetPong, "")},
		{name: "pong probe", in: "3probe", want: eioPkt(packetPong, "probe")},
		{name: "message", in: "4hello", want: eioPkt(packetMessage, "hello")},
		{name: "empty message", in: "4", want: eioPkt(packetMessage, "")},
		{name: "message with separator byte", in: "4a\x1eb", want: eioPkt(packetMessage, "a\x1eb")},
		{name: "multi-byte UTF-8", in: "4héllo wörld ✓ 🎉", want: eioPkt(packetMessage, "héllo wörld ✓ 🎉")},
		{name: "upgrade", in: "5", want: eioPkt(packetUpgrade, "")},
		{name: "noop", in: "6", want: eioPkt(packetNoop, "")},

		{name: "empty", in: "", wantErr: "empty packet"},
		{name: "type 7", in: "7", wantErr: "unknown type"},
		{name: "type before 0", in: "/x", wantErr: "unknown type"},
		{name: "letter type", in: "abc", wantErr: "unknown type"},
		{name: "b prefix is not a text packet", in: "bAQIDBA==", wantErr: "unknown type"},
		{name: "invalid UTF-8", in: "4\xff\xfe", wantErr: "UTF-8"},
		{name: "truncated UTF-8", in: "4h\xc3", wantErr: "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodePacket([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("decodePacket(%q) = %s, nil; want an error containing %q", tc.in, eioPacketString(got), tc.wantErr)
				}
				if !errors.Is(err, errBadPacket) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodePacket(%q) error = %v; want errBadPacket containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodePacket(%q) error = %v; want %s", tc.in, err, eioPacketString(tc.want))
			}
			if !eioPacketsEqual([]packet{got}, []packet{tc.want}) {
				t.Fatalf("decodePacket(%q) = %s; want %s", tc.in, eioPacketString(got), eioPacketString(tc.want))
			}
		})
	}
}

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []packet
		wantErr string
	}{
		{name: "one message", in: "4hello", want: []packet{eioPkt(packetMessage, "hello")}},
		{name: "every text type", in: "0{}\x1e1\x1e2\x1e3\x1e4x\x1e5\x1e6", want: []packet{
			eioPkt(packetOpen, "{}"), eioPkt(packetClose, ""), eioPkt(packetPing, ""), eioPkt(packetPong, ""),
			eioPkt(packetMessage, "x"), eioPkt(packetUpgrade, ""), eioPkt(packetNoop, ""),
		}},
		{name: "several messages", in: "4test1\x1e4test2\x1e4test3", want: []packet{
			eioPkt(packetMessage, "test1"), eioPkt(packetMessage, "test2"), eioPkt(packetMessage, "test3"),
		}},
		{name: "text and binary", in: "4hello\x1ebAQIDBA==", want: []packet{
			eioPkt(packetMessage, "hello"), eioBin(1, 2, 3, 4),
		}},
		{name: "binary only", in: "bAQIDBA==", want: []packet{eioBin(1, 2, 3, 4)}},
		{name: "empty binary", in: "b", want: []packet{eioBin()}},
		{name: "binary without padding need", in: "bAAEC", want: []packet{eioBin(0, 1, 2)}},
		{name: "two binaries", in: "bAQ==\x1ebAg==", want: []packet{eioBin(1), eioBin(2)}},
		{name: "empty message", in: "4", want: []packet{eioPkt(packetMessage, "")}},
		{name: "empty messages", in: "4\x1e4", want: []packet{eioPkt(packetMessage, ""), eioPkt(packetMessage, "")}},
		{name: "multi-byte UTF-8", in: "4héllo\x1e4✓🎉\x1e4日本語", want: []packet{
			eioPkt(packetMessage, "héllo"), eioPkt(packetMessage, "✓🎉"), eioPkt(packetMessage, "日本語"),
		}},
		{name: "ping probe then message", in: "2probe\x1e4x", want: []packet{eioPkt(packetPing, "probe"), eioPkt(packetMessage, "x")}},

		{name: "empty payload", in: "", wantErr: "empty payload"},
		{name: "only a separator", in: "\x1e", wantErr: "empty packet"},
		{name: "empty part between separators", in: "4a\x1e\x1e4b", wantErr: "empty packet"},
		{name: "leading separator", in: "\x1e4a", wantErr: "empty packet"},
		{name: "trailing separator", in: "4a\x1e", wantErr: "empty packet"},
		{name: "unknown type", in: "abc", wantErr: "unknown type"},
		{name: "unknown type after a good packet", in: "4ok\x1e9", wantErr: "unknown type"},
		{name: "invalid UTF-8", in: "4\xff", wantErr: "UTF-8"},
		{name: "invalid UTF-8 in second packet", in: "4ok\x1e4\xc3(", wantErr: "UTF-8"},
		{name: "bad base64 character", in: "b!!!!", wantErr: "base64"},
		{name: "bad base64 length", in: "bAQI", wantErr: "base64"},
		{name: "bad base64 padding", in: "bAQ=", wantErr: "base64"},
		{name: "bad base64 after a good packet", in: "4ok\x1eb*", wantErr: "base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodePayload([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("decodePayload(%q) = %s, nil; want an error containing %q", tc.in, eioPacketsString(got), tc.wantErr)
				}
				if !errors.Is(err, errBadPacket) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodePayload(%q) error = %v; want errBadPacket containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodePayload(%q) error = %v; want %s", tc.in, err, eioPacketsString(tc.want))
			}
			if !eioPacketsEqual(got, tc.want) {
				t.Fatalf("decodePayload(%q) = %s; want %s", tc.in, eioPacketsString(got), eioPacketsString(tc.want))
			}
		})
	}
}

func TestAppendPayload(t *testing.T) {
	tests := []struct {
		name string
		in   []packet
		want string
	}{
		{name: "none", in: nil, want: ""},
		{name: "open", in: []packet{eioPkt(packetOpen, `{"sid":"x"}`)}, want: `0{"sid":"x"}`},
		{name: "close", in: []packet{eioPkt(packetClose, "")}, want: "1"},
		{name: "ping", in: []packet{eioPkt(packetPing, "")}, want: "2"},
		{name: "pong probe", in: []packet{eioPkt(packetPong, "probe")}, want: "3probe"},
		{name: "message", in: []packet{eioPkt(packetMessage, "hello")}, want: "4hello"},
		{name: "upgrade", in: []packet{eioPkt(packetUpgrade, "")}, want: "5"},
		{name: "noop", in: []packet{eioPkt(packetNoop, "")}, want: "6"},
		{name: "several", in: []packet{
			eioPkt(packetMessage, "test1"), eioPkt(packetMessage, "test2"), eioPkt(packetMessage, "test3"),
		}, want: "4test1\x1e4test2\x1e4test3"},
		{name: "text and binary", in: []packet{eioPkt(packetMessage, "hello"), eioBin(1, 2, 3, 4)}, want: "4hello\x1ebAQIDBA=="},
		{name: "empty binary", in: []packet{eioBin()}, want: "b"},
		{name: "binary needing no padding", in: []packet{eioBin(0, 1, 2)}, want: "bAAEC"},
		{name: "binary base64 uses the standard alphabet", in: []packet{eioBin(0xfb, 0xff)}, want: "b+/8="},
		{name: "multi-byte UTF-8", in: []packet{eioPkt(packetMessage, "héllo ✓ 🎉")}, want: "4héllo ✓ 🎉"},
		{name: "empty messages", in: []packet{eioPkt(packetMessage, ""), eioPkt(packetMessage, "")}, want: "4\x1e4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := payloadLen(tc.in); n != len(tc.want) {
				t.Errorf("payloadLen(%s) = %d; want %d", eioPacketsString(tc.in), n, len(tc.want))
			}
			if got := string(appendPayload(nil, tc.in)); got != tc.want {
				t.Errorf("appendPayload(nil, %s) = %q; want %q", eioPacketsString(tc.in), got, tc.want)
			}
			// appendPayload appends: what dst held stays in front.
			prefix := []byte("prefix:")
			if got := string(appendPayload(prefix, tc.in)); got != "prefix:"+tc.want {
				t.Errorf("appendPayload(%q, %s) = %q; want %q", prefix, eioPacketsString(tc.in), got, "prefix:"+tc.want)
			}
		})
	}
}

// TestPayloadRoundTrip checks that decoding what appendPayload wrote gives
// back the same packets, for every kind of packet the server writes.
func TestPayloadRoundTrip(t *testing.T) {
	big := make([]byte, 3000)
	for i := range big {
		big[i] = byte(i)
	}
	tests := []struct {
		name string
		in   []packet
	}{
		{name: "one of each type", in: []packet{
			eioPkt(packetOpen, `{"sid":"x","upgrades":[]}`), eioPkt(packetClose, ""), eioPkt(packetPing, ""),
			eioPkt(packetPong, "probe"), eioPkt(packetMessage, "m"), eioPkt(packetUpgrade, ""), eioPkt(packetNoop, ""),
		}},
		{name: "binary of every length mod 3", in: []packet{eioBin(), eioBin(1), eioBin(1, 2), eioBin(1, 2, 3)}},
		{name: "large binary", in: []packet{packet{typ: packetMessage, data: big, binary: true}}},
		{name: "mixed", in: []packet{eioPkt(packetMessage, "héllo"), eioBin(0, 0xff), eioPkt(packetMessage, "")}},
		{name: "many", in: func() []packet {
			var ps []packet
			for i := range 500 {
				ps = append(ps, eioPkt(packetMessage, fmt.Sprintf("message %d ✓", i)))
			}
			return ps
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := appendPayload(nil, tc.in)
			if len(enc) != payloadLen(tc.in) {
				t.Errorf("len(appendPayload(%s)) = %d; payloadLen = %d", eioPacketsString(tc.in), len(enc), payloadLen(tc.in))
			}
			got, err := decodePayload(enc)
			if err != nil {
				t.Fatalf("decodePayload(appendPayload(%s)) = %q: error %v; want the same packets", eioPacketsString(tc.in), enc, err)
			}
			if !eioPacketsEqual(got, tc.in) {
				t.Fatalf("decodePayload(appendPayload(%s)) = %s; want the same packets", eioPacketsString(tc.in), eioPacketsString(got))
			}
		})
	}
}

// TestDecodePayloadCopiesBinary checks the documented aliasing: text data
// aliases the input, binary data does not.
func TestDecodePayloadCopiesBinary(t *testing.T) {
	in := []byte("4text\x1ebAQIDBA==")
	got, err := decodePayload(in)
	if err != nil || len(got) != 2 {
		t.Fatalf("decodePayload(%q) = %s, %v; want 2 packets", in, eioPacketsString(got), err)
	}
	for i := range in {
		in[i] = 'X'
	}
	if string(got[0].data) != "XXXX" {
		t.Errorf("text data = %q after overwriting the input; want it to alias the input (XXXX)", got[0].data)
	}
	if !bytes.Equal(got[1].data, []byte{1, 2, 3, 4}) {
		t.Errorf("binary data = %v after overwriting the input; want [1 2 3 4], a copy", got[1].data)
	}
}
