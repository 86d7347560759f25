package sio

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
)

// Reading WebSocket frames. gorilla/websocket does the opening handshake;
// after it, sio reads the client's frames itself, as it writes its own
// (transport_ws.go). A connection then keeps only its net.Conn and a
// 256-byte read buffer, rather than a websocket.Conn and its buffers, and
// its reader, when it waits, waits a few small frames deep, so that the
// goroutine an idle reader hands its waiting to keeps the smallest stack
// (see Conn.readLoop). Ten thousand idle connections are where that
// counts.
//
// The reader follows RFC 6455 for a server that negotiated no extension:
// client frames must be masked; reserved bits, reserved opcodes, control
// frames that are fragmented or longer than 125 bytes, continuation frames
// out of place and messages over the limit are errors. Pings are answered
// with pongs, pongs are ignored, and a close frame ends the reading (the
// session then answers it with its own close frame).

// Opcodes of the frames sio reads, beside those it writes.
const (
	opContinuation = 0x0
	opPing         = 0x9
)

// wsReadBuffer is the size of a connection's read buffer: a frame that fits
// (most Socket.IO events do) is read in one system call; a longer one is
// read into its own slice.
const wsReadBuffer = 256

// wsChunk bounds what is allocated for a payload before its bytes arrive,
// so that a header that announces a large frame cannot make the server
// reserve memory it will not get data for.
const wsChunk = 64 << 10

var (
	errWSProtocol = errors.New("websocket: protocol error")
	errWSTooBig   = errors.New("websocket: message over the max payload")
	errWSClosed   = errors.New("websocket: close frame received")
)

// wsReader reads the messages of one WebSocket connection. It is used by one
// goroutine at a time: the upgrade's prober, then the session's reader.
type wsReader struct {
	nc     net.Conn
	limit  int                        // bytes per message
	onPing func(payload []byte) error // answers a ping

	buf  [wsReadBuffer]byte
	r, w int // unread bytes are buf[r:w]

	// The message being assembled from fragments.
	frag   []byte
	fragOp byte
	inFrag bool
}

func newWSReader(nc net.Conn, limit int, onPing func([]byte) error) *wsReader {
	return &wsReader{nc: nc, limit: limit, onPing: onPing}
}

// next returns the next message, with opText or opBinary, as a slice the
// caller owns. It returns errWSClosed after a close frame, errWSTooBig or an
// error wrapping errWSProtocol when the client broke the limit or the
// protocol, and the connection's error when reading failed.
func (rd *wsReader) next() (op byte, data []byte, err error) {
	for {
		fin, op, payload, err := rd.frame()
		if err != nil {
			return 0, nil, err
		}
		switch op {
		case opText, opBinary:
			if rd.inFrag {
				return 0, nil, wsProtocolError("a new message inside a fragmented one")
			}
			if fin {
				return op, payload, nil
			}
			rd.frag, rd.fragOp, rd.inFrag = payload, op, true
		case opContinuation:
			if !rd.inFrag {
				return 0, nil, wsProtocolError("a continuation frame outside a fragmented message")
			}
			rd.frag = append(rd.frag, payload...)
			if fin {
				data, op := rd.frag, rd.fragOp
				rd.frag, rd.inFrag = nil, false
				return op, data, nil
			}
		case opPing:
			if err := rd.onPing(payload); err != nil {
				return 0, nil, err
			}
		case opPong:
		case opClose:
			return 0, nil, errWSClosed
		}
	}
}

func wsProtocolError(what string) error {
	return errors.Join(errWSProtocol, errors.New(what))
}

// frame reads one frame and returns its unmasked payload.
func (rd *wsReader) frame() (fin bool, op byte, payload []byte, err error) {
	if err := rd.fill(2); err != nil {
		return false, 0, nil, err
	}
	b0, b1 := rd.buf[rd.r], rd.buf[rd.r+1]
	fin, op = b0&0x80 != 0, b0&0x0F
	switch {
	case b0&0x70 != 0:
		return false, 0, nil, wsProtocolError("reserved bits set")
	case b1&0x80 == 0:
		return false, 0, nil, wsProtocolError("an unmasked client frame")
	case op > opBinary && op < opClose, op > opPong:
		return false, 0, nil, wsProtocolError("a reserved opcode")
	}
	n, hdr := uint64(b1&0x7F), 2
	switch n {
	case 126:
		hdr += 2
	case 127:
		hdr += 8
	}
	if err := rd.fill(hdr + 4); err != nil {
		return false, 0, nil, err
	}
	switch n {
	case 126:
		n = uint64(binary.BigEndian.Uint16(rd.buf[rd.r+2:]))
	case 127:
		n = binary.BigEndian.Uint64(rd.buf[rd.r+2:])
	}
	key := [4]byte(rd.buf[rd.r+hdr : rd.r+hdr+4])
	rd.r += hdr + 4
	if op >= opClose && (!fin || n > 125) {
		return false, 0, nil, wsProtocolError("a fragmented or long control frame")
	}
	if op < opClose && n > uint64(rd.limit-len(rd.frag)) {
		return false, 0, nil, errWSTooBig
	}
	payload, err = rd.payload(int(n))
	if err != nil {
		return false, 0, nil, err
	}
	maskBytes(key, payload)
	return fin, op, payload, nil
}

// payload reads the n bytes of a frame's payload into a new slice.
func (rd *wsReader) payload(n int) ([]byte, error) {
	if n == 0 {
		return []byte{}, nil // empty, not absent: an empty attachment stays one
	}
	p := make([]byte, min(n, wsChunk))
	got := copy(p, rd.buf[rd.r:rd.w])
	rd.r += got
	for got < n {
		if got == len(p) { // double it, as far as n
			p = slices.Grow(p, min(n-got, len(p)))
			p = p[:cap(p)]
			if len(p) > n {
				p = p[:n]
			}
		}
		m, err := io.ReadFull(rd.nc, p[got:])
		got += m
		if err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	return p, nil
}

// fill reads until at least n bytes are buffered (n ≤ wsReadBuffer).
func (rd *wsReader) fill(n int) error {
	if rd.w-rd.r >= n {
		return nil
	}
	if rd.r > 0 {
		rd.w = copy(rd.buf[:], rd.buf[rd.r:rd.w])
		rd.r = 0
	}
	for rd.w < n {
		m, err := rd.nc.Read(rd.buf[rd.w:])
		rd.w += m
		if err != nil && rd.w < n {
			if rd.w > 0 {
				return unexpectedEOF(err)
			}
			return err
		}
	}
	return nil
}

// unexpectedEOF turns the end of the stream in the middle of a frame into
// io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// maskBytes applies a client's masking key to b, eight bytes at a time.
func maskBytes(key [4]byte, b []byte) {
	if len(b) >= 8 {
		k := uint64(binary.LittleEndian.Uint32(key[:]))
		k |= k << 32
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}
