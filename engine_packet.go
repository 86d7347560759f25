package sio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Engine.IO v4 packet types, as the single ASCII digit that starts a text
// packet.
type packetType byte

const (
	packetOpen    packetType = '0'
	packetClose   packetType = '1'
	packetPing    packetType = '2'
	packetPong    packetType = '3'
	packetMessage packetType = '4'
	packetUpgrade packetType = '5'
	packetNoop    packetType = '6'
)

// recordSeparator joins the packets of one HTTP long-polling payload.
const recordSeparator = '\x1e'

// packet is one Engine.IO packet. Binary packets are always messages: the
// protocol has no type byte for them on WebSocket, and a 'b' prefix with
// base64 on long-polling.
type packet struct {
	typ    packetType
	data   []byte
	binary bool
}

// errBadPacket is wrapped by every decoding error.
var errBadPacket = errors.New("sio: malformed engine.io packet")

// decodePacket decodes one text packet as it arrives in a WebSocket text
// frame. The returned data aliases b.
func decodePacket(b []byte) (packet, error) {
	if len(b) == 0 {
		return packet{}, fmt.Errorf("%w: empty packet", errBadPacket)
	}
	t := packetType(b[0])
	if t < packetOpen || t > packetNoop {
		return packet{}, fmt.Errorf("%w: unknown type %q", errBadPacket, b[0])
	}
	data := b[1:]
	if !utf8.Valid(data) {
		return packet{}, fmt.Errorf("%w: text is not valid UTF-8", errBadPacket)
	}
	return packet{typ: t, data: data}, nil
}

// decodePayload decodes an HTTP long-polling payload: packets separated by
// \x1e, binary ones written as 'b' followed by standard base64. Text data
// aliases b; binary data is freshly allocated.
func decodePayload(b []byte) ([]packet, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty payload", errBadPacket)
	}
	n := bytes.Count(b, []byte{recordSeparator}) + 1
	packets := make([]packet, 0, n)
	for range n {
		var part []byte
		if i := bytes.IndexByte(b, recordSeparator); i >= 0 {
			part, b = b[:i], b[i+1:]
		} else {
			part, b = b, nil
		}
		if len(part) > 0 && part[0] == 'b' {
			data := make([]byte, base64.StdEncoding.DecodedLen(len(part)-1))
			m, err := base64.StdEncoding.Decode(data, part[1:])
			if err != nil {
				return nil, fmt.Errorf("%w: bad base64: %v", errBadPacket, err)
			}
			packets = append(packets, packet{typ: packetMessage, data: data[:m], binary: true})
			continue
		}
		p, err := decodePacket(part)
		if err != nil {
			return nil, err
		}
		packets = append(packets, p)
	}
	return packets, nil
}

// appendPayload appends the long-polling encoding of packets to dst.
func appendPayload(dst []byte, packets []packet) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		if p.binary {
			dst = append(dst, 'b')
			dst = base64.StdEncoding.AppendEncode(dst, p.data)
			continue
		}
		dst = append(dst, byte(p.typ))
		dst = append(dst, p.data...)
	}
	return dst
}

// payloadLen is the exact length appendPayload adds for packets.
func payloadLen(packets []packet) int {
	n := 0
	for i, p := range packets {
		if i > 0 {
			n++
		}
		if p.binary {
			n += 1 + base64.StdEncoding.EncodedLen(len(p.data))
		} else {
			n += 1 + len(p.data)
		}
	}
	return n
}
