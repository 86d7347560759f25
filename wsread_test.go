package sio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// wsBytesConn is a net.Conn that reads from a byte slice, a few bytes at a
// time when chunk is set (as a slow network delivers them), and writes
// nowhere.
type wsBytesConn struct {
	net.Conn // nil: only Read is called
	r        *bytes.Reader
	chunk    int
}

func (c *wsBytesConn) Read(p []byte) (int, error) {
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	return c.r.Read(p)
}

// wsClientFrame is a frame as a client sends it: masked with key.
func wsClientFrame(fin bool, op byte, payload []byte, key [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i&3])
	}
	return b
}

// errNotData reports a message that is neither text nor binary, which the
// reader must never return.
var errNotData = errors.New("the reader returned a control frame as a message")

// wsReadAll reads messages from stream until an error, and returns them
// with the pings answered and the error.
func wsReadAll(stream []byte, chunk, limit int) (msgs []Message, pings []string, err error) {
	rd := newWSReader(&wsBytesConn{r: bytes.NewReader(stream), chunk: chunk}, limit, func(p []byte) error {
		pings = append(pings, string(p))
		return nil
	})
	for {
		op, data, err := rd.next()
		if err != nil {
			return msgs, pings, err
		}
		if op != opText && op != opBinary {
			return msgs, pings, fmt.Errorf("%w: opcode %d", errNotData, op)
		}
		msgs = append(msgs, Message{Data: data, Binary: op == opBinary})
	}
}

func TestWSReader(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	big := bytes.Repeat([]byte("0123456789"), 20_000) // 200 kB: 64-bit length, several chunks
	mid := bytes.Repeat([]byte("x"), 1000)            // 16-bit length, over the read buffer
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

	good := []struct {
		name   string
		stream []byte
		want   []Message
		pings  []string
	}{
		{"text", wsClientFrame(true, opText, []byte("4hello"), key),
			[]Message{{Data: []byte("4hello")}}, nil},
		{"binary", wsClientFrame(true, opBinary, []byte{0, 1, 2, 255}, key),
			[]Message{{Data: []byte{0, 1, 2, 255}, Binary: true}}, nil},
		{"empty binary", wsClientFrame(true, opBinary, nil, key),
			[]Message{{Data: []byte{}, Binary: true}}, nil},
		{"16-bit length", wsClientFrame(true, opText, mid, key), []Message{{Data: mid}}, nil},
		{"64-bit length", wsClientFrame(true, opBinary, big, key), []Message{{Data: big, Binary: true}}, nil},
		{"several in one read", cat(wsClientFrame(true, opText, []byte("4a"), key),
			wsClientFrame(true, opText, []byte("4b"), [4]byte{}), wsClientFrame(true, opText, []byte("4c"), key)),
			[]Message{{Data: []byte("4a")}, {Data: []byte("4b")}, {Data: []byte("4c")}}, nil},
		{"fragmented, a ping between the fragments", cat(
			wsClientFrame(false, opText, []byte("4hel"), key),
			wsClientFrame(true, opPing, []byte("are you there"), key),
			wsClientFrame(false, opContinuation, []byte("lo wo"), [4]byte{9, 8, 7, 6}),
			wsClientFrame(true, opPong, []byte("ignored"), key),
			wsClientFrame(true, opContinuation, []byte("rld"), key)),
			[]Message{{Data: []byte("4hello world")}}, []string{"are you there"}},
		{"fragmented binary, large", cat(
			wsClientFrame(false, opBinary, big[:70_000], key),
			wsClientFrame(true, opContinuation, big[70_000:], key)),
			[]Message{{Data: big, Binary: true}}, nil},
	}
	for _, c := range good {
		for _, chunk := range []int{0, 1, 7} {
			msgs, pings, err := wsReadAll(c.stream, chunk, 1_000_000)
			if err != io.EOF {
				t.Errorf("%s (reads of %d): ended with %v; want io.EOF", c.name, chunk, err)
			}
			if len(msgs) != len(c.want) {
				t.Errorf("%s (reads of %d): %d messages; want %d", c.name, chunk, len(msgs), len(c.want))
				continue
			}
			for i := range msgs {
				if msgs[i].Binary != c.want[i].Binary || !bytes.Equal(msgs[i].Data, c.want[i].Data) || msgs[i].Data == nil {
					t.Errorf("%s (reads of %d): message %d = %.40q (binary %v); want %.40q (binary %v)", c.name, chunk, i,
						msgs[i].Data, msgs[i].Binary, c.want[i].Data, c.want[i].Binary)
				}
			}
			if len(pings) != len(c.pings) || (len(pings) > 0 && pings[0] != c.pings[0]) {
				t.Errorf("%s (reads of %d): pings %q; want %q", c.name, chunk, pings, c.pings)
			}
		}
	}

	unmasked := wsClientFrame(true, opText, []byte("4hi"), [4]byte{})
	unmasked[1] &^= 0x80
	unmasked = append(unmasked[:2], unmasked[6:]...)
	rsv := wsClientFrame(true, opText, []byte("4hi"), key)
	rsv[0] |= 0x40
	bad := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"unmasked", unmasked, errWSProtocol},
		{"reserved bit", rsv, errWSProtocol},
		{"reserved data opcode", wsClientFrame(true, 0x3, []byte("x"), key), errWSProtocol},
		{"reserved control opcode", wsClientFrame(true, 0xB, []byte("x"), key), errWSProtocol},
		{"fragmented ping", wsClientFrame(false, opPing, []byte("x"), key), errWSProtocol},
		{"ping over 125 bytes", wsClientFrame(true, opPing, mid[:126], key), errWSProtocol},
		{"continuation first", wsClientFrame(true, opContinuation, []byte("x"), key), errWSProtocol},
		{"new message inside a fragmented one", cat(wsClientFrame(false, opText, []byte("4a"), key),
			wsClientFrame(true, opText, []byte("4b"), key)), errWSProtocol},
		{"message over the limit", wsClientFrame(true, opText, bytes.Repeat([]byte("y"), 1001), key), errWSTooBig},
		{"fragments over the limit", cat(wsClientFrame(false, opText, mid[:600], key),
			wsClientFrame(true, opContinuation, mid[:600], key)), errWSTooBig},
		{"length beyond any limit", []byte{0x82, 0x80 | 127, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, errWSTooBig},
		{"close", wsClientFrame(true, opClose, []byte{0x03, 0xE8}, key), errWSClosed},
		{"cut in the header", wsClientFrame(true, opText, mid, key)[:3], io.ErrUnexpectedEOF},
		{"cut in the payload", wsClientFrame(true, opText, []byte("4hello"), key)[:8], io.ErrUnexpectedEOF},
	}
	for _, c := range bad {
		for _, chunk := range []int{0, 1} {
			if msgs, _, err := wsReadAll(c.stream, chunk, 1000); !errors.Is(err, c.want) || len(msgs) != 0 {
				t.Errorf("%s (reads of %d): %d messages, error %v; want none and %v", c.name, chunk, len(msgs), err, c.want)
			}
		}
	}
}

// TestWSReaderAnnouncedSize checks that a header announcing a large frame
// does not make the reader allocate it before the bytes arrive.
func TestWSReaderAnnouncedSize(t *testing.T) {
	hdr := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x40, 1, 2, 3, 4} // 1,000,000 bytes announced
	rd := newWSReader(&wsBytesConn{r: bytes.NewReader(append(hdr, 'x'))}, 1_000_000, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, _, err := rd.next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("next = %v; want io.ErrUnexpectedEOF", err)
	}
	runtime.ReadMemStats(&after)
	// Half the announced size: far above the reader's first chunk, far
	// below what allocating the frame up front would take.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 500_000 {
		t.Errorf("a 1 MB frame with 1 byte of it sent: %d bytes allocated meanwhile; want at most 500000", grew)
	}
}

// TestWSReaderOverConn reads frames that a real TCP peer trickles in.
func TestWSReaderOverConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	key := [4]byte{1, 2, 3, 4}
	payload := bytes.Repeat([]byte("abcdefgh"), 5000)
	stream := append(wsClientFrame(true, opBinary, payload, key), wsClientFrame(true, opText, []byte("4end"), key)...)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		for len(stream) > 0 {
			n := min(len(stream), 1500)
			c.Write(stream[:n])
			stream = stream[n:]
			time.Sleep(time.Millisecond)
		}
	}()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sc.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := newWSReader(sc, 1_000_000, nil)
	op, data, err := rd.next()
	if err != nil || op != opBinary || !bytes.Equal(data, payload) {
		t.Fatalf("first message: op %d, %d bytes, %v; want the %d-byte binary one", op, len(data), err, len(payload))
	}
	if op, data, err = rd.next(); err != nil || op != opText || string(data) != "4end" {
		t.Fatalf("second message: op %d, %q, %v; want text 4end", op, data, err)
	}
}

// FuzzWSReader feeds the frame reader arbitrary bytes, read in chunks of
// arbitrary size: it must never panic nor return a message over the limit,
// and every message it returns must be data.
func FuzzWSReader(f *testing.F) {
	key := [4]byte{0xA1, 0xB2, 0xC3, 0xD4}
	f.Add(wsClientFrame(true, opText, []byte("4hello"), key), uint8(0))
	f.Add(append(wsClientFrame(false, opText, []byte("42[\"a"), key),
		wsClientFrame(true, opContinuation, []byte("\"]"), key)...), uint8(3))
	f.Add(wsClientFrame(true, opBinary, bytes.Repeat([]byte{7}, 300), key), uint8(1))
	f.Add(wsClientFrame(true, opPing, []byte("p"), key), uint8(2))
	f.Add([]byte{0x81, 0xFE, 0x01, 0x00, 1, 2, 3, 4}, uint8(0))
	f.Add([]byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, uint8(5))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		const limit = 4096
		msgs, _, err := wsReadAll(stream, int(chunk), limit)
		if err == nil || errors.Is(err, errNotData) {
			t.Fatalf("reading ended with %v; want the stream's error", err)
		}
		for _, m := range msgs {
			if len(m.Data) > limit || m.Data == nil {
				t.Fatalf("message of %d bytes (nil %v) with a limit of %d", len(m.Data), m.Data == nil, limit)
			}
		}
	})
}
