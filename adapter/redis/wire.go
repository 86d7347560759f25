package redisadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sio-go/sio"
)

// The messages of @socket.io/redis-adapter 8.x (classic) and
// @socket.io/redis-emitter 5.x: broadcasts are MessagePack arrays on the
// broadcast channels; requests and responses are JSON objects, except a
// broadcast with acknowledgements (type 7) and each acknowledgement relayed
// back (type 9), which are MessagePack maps. A receiver tells JSON by its
// first byte, '{'.

// Request and response types.
const (
	typeSockets              = 0
	typeAllRooms             = 1
	typeRemoteJoin           = 2
	typeRemoteLeave          = 3
	typeRemoteDisconnect     = 4
	typeRemoteFetch          = 5
	typeServerSideEmit       = 6
	typeBroadcast            = 7
	typeBroadcastClientCount = 8
	typeBroadcastAck         = 9
)

// Socket.IO packet types a broadcast may carry: EVENT, and BINARY_EVENT,
// which old emitters wrote for arguments with binary.
const (
	packetEvent       = 2
	packetBinaryEvent = 5
)

// emitterUID is the uid of messages from emitters, which are no server.
const emitterUID = "emitter"

// flags are the broadcast flags that travel: volatile and compress, and
// the acknowledgement timeout in milliseconds (0 for none).
type flags struct {
	volatile bool
	compress *bool
	timeout  int64
}

func (e *encoder) flags(f flags) error {
	n := 0
	if f.volatile {
		n++
	}
	if f.compress != nil {
		n++
	}
	if f.timeout > 0 {
		n++
	}
	if err := e.enc.EncodeMapLen(n); err != nil {
		return err
	}
	if f.volatile {
		e.str("volatile")
		e.enc.EncodeBool(true)
	}
	if f.compress != nil {
		e.str("compress")
		e.enc.EncodeBool(*f.compress)
	}
	if f.timeout > 0 {
		e.str("timeout")
		e.enc.EncodeInt(f.timeout)
	}
	return nil
}

func (e *encoder) strings(l []string) error {
	if err := e.enc.EncodeArrayLen(len(l)); err != nil {
		return err
	}
	for _, s := range l {
		if err := e.str(s); err != nil {
			return err
		}
	}
	return nil
}

// packet writes {type: 2, data: [event, ...args], nsp}.
func (e *encoder) packet(nsp, event string, args []any) error {
	e.enc.EncodeMapLen(3)
	e.str("type")
	e.enc.EncodeInt(packetEvent)
	e.str("data")
	e.enc.EncodeArrayLen(1 + len(args))
	e.str(event)
	for _, a := range args {
		if err := e.value(a, 1); err != nil {
			return err
		}
	}
	e.str("nsp")
	return e.str(nsp)
}

// encodeBroadcast encodes [uid, packet, opts]. An emitter writes opts in
// the order rooms, flags, except; a server in the order rooms, except,
// flags.
func encodeBroadcast(uid, nsp, event string, args []any, rooms, except []string, f flags) ([]byte, error) {
	e := getEncoder()
	e.enc.EncodeArrayLen(3)
	e.str(uid)
	if err := e.packet(nsp, event, args); err != nil {
		return nil, err
	}
	e.enc.EncodeMapLen(3)
	e.str("rooms")
	e.strings(rooms)
	if uid == emitterUID {
		e.str("flags")
		e.flags(f)
		e.str("except")
		e.strings(except)
	} else {
		e.str("except")
		e.strings(except)
		e.str("flags")
		e.flags(f)
	}
	return e.bytes(), nil
}

// encodeAckRequest encodes the request of a broadcast with
// acknowledgements: {uid, requestId, type: 7, packet, opts}.
func encodeAckRequest(uid, requestID, nsp, event string, args []any, rooms, except []string, f flags) ([]byte, error) {
	e := getEncoder()
	e.enc.EncodeMapLen(5)
	e.str("uid")
	e.str(uid)
	e.str("requestId")
	e.str(requestID)
	e.str("type")
	e.enc.EncodeInt(typeBroadcast)
	e.str("packet")
	if err := e.packet(nsp, event, args); err != nil {
		return nil, err
	}
	e.str("opts")
	e.enc.EncodeMapLen(3)
	e.str("rooms")
	e.strings(rooms)
	e.str("except")
	e.strings(except)
	e.str("flags")
	e.flags(f)
	return e.bytes(), nil
}

// encodeAckResponse encodes one client's acknowledgement of a broadcast:
// {type: 9, requestId, packet: the first argument}. Without an argument
// (JavaScript's undefined) the packet key is left out, as notepack does.
func encodeAckResponse(requestID string, reply sio.Args) ([]byte, error) {
	vals, err := reply.Values()
	if err != nil {
		return nil, err
	}
	e := getEncoder()
	n := 2
	if len(vals) > 0 {
		n = 3
	}
	e.enc.EncodeMapLen(n)
	e.str("type")
	e.enc.EncodeInt(typeBroadcastAck)
	e.str("requestId")
	e.str(requestID)
	if len(vals) > 0 {
		e.str("packet")
		if err := e.value(vals[0], 1); err != nil {
			return nil, err
		}
	}
	return e.bytes(), nil
}

// broadcastMsg is a decoded broadcast.
type broadcastMsg struct {
	uid      string
	nsp      string
	typ      int64
	event    string
	args     []any
	rooms    []string
	except   []string
	volatile bool
}

var errBadMessage = errors.New("redisadapter: malformed message")

// decodeBroadcast decodes [uid, packet, opts], stopping after the uid when
// it is skip (a server's own messages come back to it).
func decodeBroadcast(b []byte, skip string) (m broadcastMsg, skipped bool, err error) {
	d := newDecoder(b)
	n, err := d.dec.DecodeArrayLen()
	if err != nil || n < 3 {
		return m, false, errBadMessage
	}
	uid, err := d.value(1)
	if err != nil {
		return m, false, err
	}
	m.uid, _ = uid.(string)
	if m.uid == skip {
		return m, true, nil
	}
	p, err := d.value(1)
	if err != nil {
		return m, false, err
	}
	o, err := d.value(1)
	if err != nil {
		return m, false, err
	}
	packet, _ := p.(map[string]any)
	opts, _ := o.(map[string]any)
	if packet == nil {
		return m, false, errBadMessage
	}
	if err := m.setPacket(packet); err != nil {
		return m, false, err
	}
	m.setOpts(opts)
	return m, false, nil
}

// setPacket takes the namespace ("/" when missing, as old emitters leave
// it out), the type and the event of a decoded packet.
func (m *broadcastMsg) setPacket(packet map[string]any) error {
	m.nsp = "/"
	if s, ok := packet["nsp"].(string); ok {
		m.nsp = s
	}
	m.typ, _ = packet["type"].(int64)
	data, _ := packet["data"].([]any)
	if len(data) == 0 {
		return errBadMessage
	}
	event, ok := data[0].(string)
	if !ok {
		return errBadMessage
	}
	m.event, m.args = event, data[1:]
	return nil
}

func (m *broadcastMsg) setOpts(opts map[string]any) {
	m.rooms = stringList(opts["rooms"])
	m.except = stringList(opts["except"])
	f, _ := opts["flags"].(map[string]any)
	m.volatile, _ = f["volatile"].(bool)
}

// wireMsg is a request or a response, with every field any of them has.
type wireMsg struct {
	UID         string          `json:"uid"`
	RequestID   string          `json:"requestId"`
	Type        *int            `json:"type"`
	Opts        *wireOpts       `json:"opts"`
	Rooms       roomList        `json:"rooms"`
	Close       bool            `json:"close"`
	Data        json.RawMessage `json:"data"`
	Sockets     json.RawMessage `json:"sockets"`
	ClientCount int             `json:"clientCount"`
	Sid         string          `json:"sid"`  // legacy remote join/leave/disconnect
	Room        string          `json:"room"` // legacy remote join/leave

	// From MessagePack (types 7 and 9).
	packet    any
	hasPacket bool
	timeout   int64 // opts.flags.timeout of a type 7, in milliseconds
}

type wireOpts struct {
	Rooms  roomList `json:"rooms"`
	Except roomList `json:"except"`
}

func (m *wireMsg) is(t int) bool { return m.Type != nil && *m.Type == t }

// decodeWire decodes a request or response, JSON or MessagePack.
func decodeWire(b []byte) (*wireMsg, error) {
	m := &wireMsg{}
	if len(b) == 0 {
		return nil, errBadMessage
	}
	if b[0] == '{' {
		if err := json.Unmarshal(b, m); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadMessage, err)
		}
		return m, nil
	}
	v, err := decodeMsgpack(b)
	if err != nil {
		return nil, err
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, errBadMessage
	}
	m.UID, _ = o["uid"].(string)
	m.RequestID, _ = o["requestId"].(string)
	if t, ok := o["type"].(int64); ok {
		ti := int(t)
		m.Type = &ti
	}
	m.packet, m.hasPacket = o["packet"]
	if c, ok := o["clientCount"].(int64); ok {
		m.ClientCount = int(c)
	}
	if opts, ok := o["opts"].(map[string]any); ok {
		m.Opts = &wireOpts{Rooms: stringList(opts["rooms"]), Except: stringList(opts["except"])}
		f, _ := opts["flags"].(map[string]any)
		switch t := f["timeout"].(type) {
		case int64:
			m.timeout = t
		case float64:
			m.timeout = int64(t)
		}
	}
	return m, nil
}

// marshalJSON is json.Marshal without HTML escaping, as JSON.stringify
// writes.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// jsonArgs encodes [event, ...args] as JSON, as a server-side emit carries
// them: []byte values become base64 strings, JSON having no binary.
func jsonArgs(event string, args []any) (json.RawMessage, error) {
	vals, err := plainValues(args...)
	if err != nil {
		return nil, err
	}
	return marshalJSON(append([]any{event}, vals...))
}

// jsonValue encodes v as JSON, as sio encodes an argument.
func jsonValue(v any) (json.RawMessage, error) {
	vals, err := plainValues(v)
	if err != nil {
		return nil, err
	}
	return marshalJSON(vals[0])
}

// plainValues turns values into what encoding/json makes of them, as sio
// encodes arguments, binary kept as []byte.
func plainValues(values ...any) ([]any, error) {
	a, err := sio.NewArgs(values...)
	if err != nil {
		return nil, err
	}
	return a.Values()
}

// targetOpts is the {rooms, except} of a request.
type targetOpts struct {
	Rooms  roomList `json:"rooms"`
	Except roomList `json:"except"`
}

// Requests, each field in the order Node writes it.
type (
	fetchRequest struct {
		UID       string     `json:"uid"`
		RequestID string     `json:"requestId"`
		Type      int        `json:"type"`
		Opts      targetOpts `json:"opts"`
	}
	roomsRequest struct {
		UID   string     `json:"uid,omitempty"`
		Type  int        `json:"type"`
		Opts  targetOpts `json:"opts"`
		Rooms roomList   `json:"rooms"`
	}
	disconnectRequest struct {
		UID   string     `json:"uid,omitempty"`
		Type  int        `json:"type"`
		Opts  targetOpts `json:"opts"`
		Close bool       `json:"close"`
	}
	sseRequest struct {
		UID       string          `json:"uid"`
		RequestID string          `json:"requestId,omitempty"`
		Type      int             `json:"type"`
		Data      json.RawMessage `json:"data"`
	}
)

// Responses.
type (
	socketsResponse struct {
		RequestID string   `json:"requestId"`
		Sockets   roomList `json:"sockets"`
	}
	allRoomsResponse struct {
		RequestID string   `json:"requestId"`
		Rooms     roomList `json:"rooms"`
	}
	fetchResponse struct {
		RequestID string       `json:"requestId"`
		Sockets   []wireSocket `json:"sockets"`
	}
	wireSocket struct {
		ID        string          `json:"id"`
		Handshake nodeHandshake   `json:"handshake"`
		Rooms     roomList        `json:"rooms"`
		Data      json.RawMessage `json:"data,omitempty"`
	}
	legacyResponse struct {
		RequestID string `json:"requestId"`
	}
	sseResponse struct {
		Type      int             `json:"type"`
		RequestID string          `json:"requestId"`
		Data      json.RawMessage `json:"data,omitempty"`
	}
	clientCountResponse struct {
		Type        int    `json:"type"`
		RequestID   string `json:"requestId"`
		ClientCount int    `json:"clientCount"`
	}
)
