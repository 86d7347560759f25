package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// Socket.IO v5 packet types, the first character of every packet.
type sioType byte

const (
	sioConnect      sioType = '0'
	sioDisconnect   sioType = '1'
	sioEvent        sioType = '2'
	sioAck          sioType = '3'
	sioConnectError sioType = '4'
	sioBinaryEvent  sioType = '5'
	sioBinaryAck    sioType = '6'
)

// sioPacket is one decoded Socket.IO packet, before its attachments (if
// any) have arrived.
//
// On the wire: <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>].
type sioPacket struct {
	typ         sioType
	attachments int
	nsp         string
	id          uint64
	hasID       bool
	data        []byte // raw JSON, empty when absent
}

// errBadSIOPacket is wrapped by every Socket.IO decoding error.
var errBadSIOPacket = errors.New("sio: malformed socket.io packet")

// maxAckIDDigits keeps ack ids within 2^53, the integers JavaScript clients
// count exactly.
const maxAckIDDigits = 15

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// decodeSIOPacket decodes the text part of a Socket.IO packet and checks
// that its payload suits its type. maxAttachments bounds the attachments a
// binary packet may announce. The returned data aliases b.
func decodeSIOPacket(b []byte, maxAttachments int) (sioPacket, error) {
	var p sioPacket
	if len(b) == 0 {
		return p, fmt.Errorf("%w: empty packet", errBadSIOPacket)
	}
	p.typ = sioType(b[0])
	if p.typ < sioConnect || p.typ > sioBinaryAck {
		return p, fmt.Errorf("%w: unknown packet type %q", errBadSIOPacket, b[0])
	}
	i := 1
	if p.typ == sioBinaryEvent || p.typ == sioBinaryAck {
		start := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == start || i >= len(b) || b[i] != '-' || i-start > 9 {
			return p, fmt.Errorf("%w: bad attachment count", errBadSIOPacket)
		}
		n, _ := strconv.Atoi(string(b[start:i]))
		if n > maxAttachments {
			return p, fmt.Errorf("%w: %d attachments, at most %d allowed", errBadSIOPacket, n, maxAttachments)
		}
		p.attachments = n
		i++
	}
	p.nsp = "/"
	if i < len(b) && b[i] == '/' {
		start := i
		for i < len(b) && b[i] != ',' {
			i++
		}
		p.nsp = string(b[start:i])
		if i < len(b) {
			i++ // the comma
		}
	}
	if i < len(b) && isDigit(b[i]) {
		start := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i-start > maxAckIDDigits {
			return p, fmt.Errorf("%w: ack id too long", errBadSIOPacket)
		}
		p.id, _ = strconv.ParseUint(string(b[start:i]), 10, 64)
		p.hasID = true
	}
	p.data = b[i:]
	return p, p.check()
}

// check validates the payload against the packet type, as Node's parser
// does.
func (p *sioPacket) check() error {
	first := firstByte(p.data)
	switch p.typ {
	case sioConnect:
		if len(p.data) == 0 {
			return nil
		}
		if first != '{' || !json.Valid(p.data) {
			return fmt.Errorf("%w: CONNECT payload must be an object", errBadSIOPacket)
		}
	case sioDisconnect:
		if len(p.data) != 0 {
			return fmt.Errorf("%w: DISCONNECT takes no payload", errBadSIOPacket)
		}
	case sioEvent, sioBinaryEvent, sioAck, sioBinaryAck:
		if first != '[' {
			return fmt.Errorf("%w: payload must be an array", errBadSIOPacket)
		}
		if !json.Valid(p.data) {
			return fmt.Errorf("%w: payload is not valid JSON", errBadSIOPacket)
		}
	case sioConnectError:
		return fmt.Errorf("%w: CONNECT_ERROR is for servers to send", errBadSIOPacket)
	}
	if (p.typ == sioAck || p.typ == sioBinaryAck) && !p.hasID {
		return fmt.Errorf("%w: ACK without an id", errBadSIOPacket)
	}
	return nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// reservedEvents are the names a client may not emit, as in Node.
var reservedEvents = map[string]bool{
	"connect":        true,
	"connect_error":  true,
	"disconnect":     true,
	"disconnecting":  true,
	"newListener":    true,
	"removeListener": true,
}

// appendHeader appends the part of a packet before its JSON data.
func appendHeader(dst []byte, typ sioType, attachments int, nsp string, id uint64, hasID bool) []byte {
	if attachments > 0 {
		switch typ {
		case sioEvent:
			typ = sioBinaryEvent
		case sioAck:
			typ = sioBinaryAck
		}
	}
	dst = append(dst, byte(typ))
	if attachments > 0 {
		dst = strconv.AppendInt(dst, int64(attachments), 10)
		dst = append(dst, '-')
	}
	if nsp != "/" && nsp != "" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if hasID {
		dst = strconv.AppendUint(dst, id, 10)
	}
	return dst
}

// encoded is a Socket.IO packet ready for the wire: the text, then its
// binary attachments, as Engine.IO messages. It is immutable once built, so
// one encoding serves every receiver of a broadcast.
type encoded []Message

// encodeEvent encodes an EVENT (or BINARY_EVENT) for namespace nsp.
func encodeEvent(nsp string, id uint64, hasID bool, event string, args []any) (encoded, error) {
	return encodeArray(sioEvent, nsp, id, hasID, event, true, args)
}

// encodeAck encodes an ACK (or BINARY_ACK) with the given arguments.
func encodeAck(nsp string, id uint64, args []any) (encoded, error) {
	return encodeArray(sioAck, nsp, id, true, "", false, args)
}

// bodies holds scratch buffers for encodeArray: the body is encoded before
// the header (which counts the attachments found), then both are copied
// into one slice of the right size.
var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func encodeArray(typ sioType, nsp string, id uint64, hasID bool, event string, withEvent bool, args []any) (encoded, error) {
	var enc binaryEncoder
	scratch := bodies.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= 64<<10 {
			bodies.Put(scratch)
		}
	}()
	body := append((*scratch)[:0], '[')
	if withEvent {
		body = appendJSONString(body, event)
	}
	for i, a := range args {
		if i > 0 || withEvent {
			body = append(body, ',')
		}
		var err error
		body, err = enc.append(body, a)
		*scratch = body
		if err != nil {
			return nil, err
		}
	}
	body = append(body, ']')
	*scratch = body
	head := appendHeader(make([]byte, 0, 24+len(nsp)+len(body)), typ, len(enc.attachments), nsp, id, hasID)
	out := make(encoded, 0, 1+len(enc.attachments))
	out = append(out, Message{Data: append(head, body...)})
	for _, a := range enc.attachments {
		out = append(out, Message{Data: a, Binary: true})
	}
	return out, nil
}

// encodeConnect encodes the server's CONNECT answer.
func encodeConnect(nsp, sid string) encoded {
	b := appendHeader(nil, sioConnect, 0, nsp, 0, false)
	b = append(b, `{"sid":`...)
	b = appendJSONString(b, sid)
	b = append(b, '}')
	return encoded{{Data: b}}
}

// encodeConnectError encodes a CONNECT_ERROR with a message and, if not
// nil, data.
func encodeConnectError(nsp, message string, data any) encoded {
	b := appendHeader(nil, sioConnectError, 0, nsp, 0, false)
	payload := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{message, data}
	j, err := marshalJSON(payload)
	if err != nil {
		j, _ = marshalJSON(struct {
			Message string `json:"message"`
		}{message})
	}
	return encoded{{Data: append(b, j...)}}
}

// encodeDisconnect encodes a DISCONNECT for nsp.
func encodeDisconnect(nsp string) encoded {
	return encoded{{Data: appendHeader(nil, sioDisconnect, 0, nsp, 0, false)}}
}

func appendJSONString(dst []byte, s string) []byte {
	j, _ := marshalJSON(s)
	return append(dst, j...)
}
