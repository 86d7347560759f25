package sio

import (
	"bytes"
	"testing"
)

// FuzzDecodePayload feeds arbitrary long-polling bodies to decodePayload. It
// must never panic, and on any body it accepts, encoding the packets again
// and decoding that must give the same packets (decode∘encode is the
// identity on decoded packets), with payloadLen exact and the encoding
// stable. Text packets must also decode alone, as WebSocket frames.
func FuzzDecodePayload(f *testing.F) {
	for _, seed := range []string{
		"4hello",
		"4test1\x1e4test2\x1e4test3",
		"4hello\x1ebAQIDBA==",
		"b",
		"bAAEC",
		"0{\"sid\":\"x\"}\x1e1\x1e2\x1e3\x1e4\x1e5\x1e6",
		"2probe",
		"4héllo ✓ 🎉",
		"",
		"\x1e",
		"4a\x1e\x1e4b",
		"abc",
		"4\xff",
		"b!!!",
		"bAQ=",
		"bYQ==\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		packets, err := decodePayload(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("decodePayload(%q) modified its input to %q", orig, in)
		}
		if err != nil {
			if packets != nil {
				t.Fatalf("decodePayload(%q) = %s with error %v; want no packets with an error", in, eioPacketsString(packets), err)
			}
			return
		}
		if len(packets) == 0 {
			t.Fatalf("decodePayload(%q) = no packets and no error; want at least one packet", in)
		}
		enc := appendPayload(nil, packets)
		if n := payloadLen(packets); n != len(enc) {
			t.Fatalf("payloadLen(%s) = %d; appendPayload wrote %d bytes (%q)", eioPacketsString(packets), n, len(enc), enc)
		}
		again, err := decodePayload(enc)
		if err != nil {
			t.Fatalf("decodePayload(%q) = %s; re-encoded as %q, which fails to decode: %v", in, eioPacketsString(packets), enc, err)
		}
		if !eioPacketsEqual(packets, again) {
			t.Fatalf("decodePayload(%q) = %s; re-encoded as %q, which decodes to %s", in, eioPacketsString(packets), enc, eioPacketsString(again))
		}
		if enc2 := appendPayload(nil, again); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q, then %q", enc, enc2)
		}
		for _, p := range packets {
			if p.binary {
				if p.typ != packetMessage {
					t.Fatalf("decodePayload(%q): binary packet of type %q; want message", in, byte(p.typ))
				}
				continue
			}
			frame := append([]byte{byte(p.typ)}, p.data...)
			q, err := decodePacket(frame)
			if err != nil {
				t.Fatalf("decodePayload(%q) gave %s, but decodePacket(%q) fails: %v", in, eioPacketString(p), frame, err)
			}
			if !eioPacketsEqual([]packet{p}, []packet{q}) {
				t.Fatalf("decodePacket(%q) = %s; want %s", frame, eioPacketString(q), eioPacketString(p))
			}
		}
	})
}
