//go:build unix

package sio

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFlusher checks the flusher's writes over WebSocket: a message sent
// to an idle connection, or to many at once, is written by the flusher,
// with no writer goroutine started; when the kernel takes only part of
// what is queued (the client does not read, the socket buffers are small),
// the rest follows through a writer goroutine, every frame whole and in
// order.
func TestFlusher(t *testing.T) {
	s := newEIOServer(t, WithSendQueueLimit(64<<20))
	var (
		clients []*websocket.Conn
		conns   []*Conn
	)
	for range 20 {
		ws, sid, _ := s.openWS(t)
		clients = append(clients, ws)
		c := s.conn(t, sid)
		if !connFlag(c, func(c *Conn) bool { return c.fl != nil })() {
			t.Fatal("a WebSocket connection without a flusher")
		}
		conns = append(conns, c)
	}
	started := s.eng.writerStarts.Load()
	for i, c := range conns {
		if err := c.Send(Message{Data: []byte("one" + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns { // as a broadcast does
		if err := c.Send(Message{Data: []byte("all")}); err != nil {
			t.Fatal(err)
		}
	}
	for i, ws := range clients {
		for _, want := range []string{"4one" + strconv.Itoa(i), "4all"} {
			if _, data := readWS(t, ws); data != want {
				t.Fatalf("client %d: got %q; want %q", i, data, want)
			}
		}
	}
	if n := s.eng.writerStarts.Load() - started; n != 0 {
		t.Errorf("%d writer goroutines started for small messages to idle connections; want them written by the flusher", n)
	}

	// A small send buffer, and a client that reads nothing for a while:
	// the kernel soon takes only part of what is queued, or nothing. (A
	// client's receive buffer made small after the connection opened would
	// stall TCP itself, with any writer.)
	c, ws := conns[0], clients[0]
	shrinkSendBuffer(t, c)
	const n = 400
	for i := range n {
		if err := c.Send(Message{Data: writeNowPayload(i)}); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	for i := range n {
		ws.SetReadDeadline(time.Now().Add(eioWait))
		mt, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if mt != websocket.TextMessage || data[0] != '4' || !bytes.Equal(data[1:], writeNowPayload(i)) {
			t.Fatalf("frame %d: type %d, %d bytes starting %q; want message %d whole", i, mt, len(data), data[:min(len(data), 8)], i)
		}
	}
	if s.eng.writerStarts.Load() == started {
		t.Error("no writer goroutine started with the client's buffers full; want the rest left to one")
	}
	writing := connFlag(c, func(c *Conn) bool { return c.writing })
	waitUntil(t, "the writer to finish", func() bool { return !writing() })
	s.expectOpen(t, c.ID())
}

// TestBroadcastFlusher checks that a broadcast is written by the flusher
// to every receiver whose kernel buffer takes it, and that a receiver that
// does not read holds up no one: the broadcasts go on, the other receivers
// get each one whole and in order as it is sent, and the stalled
// receiver's share is left to a writer goroutine of its own, which
// delivers all of it, in order, once the client reads again.
func TestBroadcastFlusher(t *testing.T) {
	rs := relStart(t, WithSendQueueLimit(64<<20), WithWriteTimeout(time.Minute),
		WithPingInterval(time.Hour), WithPingTimeout(time.Hour))
	fast := []*relClient{rs.dial(t, "websocket"), rs.dial(t, "websocket")}
	stalled := rs.dial(t, "websocket")
	conn := rs.conn(stalled.sid)
	eng := rs.srv.engine
	writing := connFlag(conn, func(c *Conn) bool { return c.writing })

	started := eng.writerStarts.Load()
	if err := rs.srv.Emit("msg", 0); err != nil {
		t.Fatal(err)
	}
	for i, c := range append(fast, stalled) {
		if f, err := c.nextMsg(); err != nil || f.text != `42["msg",0]` {
			t.Fatalf("receiver %d: got %v, %v; want the broadcast", i, f, err)
		}
	}
	if n := eng.writerStarts.Load() - started; n != 0 {
		t.Errorf("%d writer goroutines started for a small broadcast to idle connections; want it written by the flusher", n)
	}

	shrinkSendBuffer(t, conn)
	const n = 200
	want := func(i int) string { return fmt.Sprintf(`42["msg",%d,%q]`, i, writeNowPayload(i)) }
	done := make(chan error, len(fast))
	for _, c := range fast {
		go func() {
			for i := range n {
				f, err := c.nextMsg()
				if err != nil {
					done <- fmt.Errorf("broadcast %d: %w", i, err)
					return
				}
				if f.text != want(i) {
					done <- fmt.Errorf("broadcast %d: got %.40q…; want broadcast %d whole", i, f.text, i)
					return
				}
			}
			done <- nil
		}()
	}
	for i := range n {
		if err := rs.srv.Emit("msg", i, string(writeNowPayload(i))); err != nil {
			t.Fatalf("broadcast %d: %v", i, err)
		}
	}
	for range fast {
		if err := <-done; err != nil {
			t.Fatalf("a reading receiver: %v", err)
		}
	}
	if !writing() {
		t.Fatal("no writer at work for the receiver that does not read; want its share left to one")
	}
	for i := range n {
		f, err := stalled.nextMsg()
		if err != nil {
			t.Fatalf("stalled receiver, broadcast %d: %v", i, err)
		}
		if f.text != want(i) {
			t.Fatalf("stalled receiver, broadcast %d: got %.40q…; want it whole", i, f.text)
		}
	}
	relWaitUntil(t, "the stalled receiver's writer to finish", func() bool { return !writing() })
	rs.expectOpen(t, stalled.sid)
}

// writeNowPayload is message i of the tests above: 6,000 bytes, under
// maxWriteNow, so that every send tries the direct write.
func writeNowPayload(i int) []byte {
	p := []byte(strings.Repeat(string(rune('a'+i%26)), 6000))
	copy(p, fmt.Sprintf("%05d", i))
	return p
}

// shrinkSendBuffer makes the kernel's send buffer of c's WebSocket small,
// so that a client that does not read soon leaves the server's writes
// partial.
func shrinkSendBuffer(t *testing.T, c *Conn) {
	t.Helper()
	c.mu.Lock()
	nc, ok := c.ws.(*net.TCPConn)
	c.mu.Unlock()
	if !ok {
		t.Fatalf("the session's connection is a %T; want a *net.TCPConn", c.ws)
	}
	if err := nc.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
}

// TestTryWritePartial checks what tryWrite leaves when the kernel takes
// only part of its bytes, as a Unix socket with a small buffer soon does
// (a TCP socket on Linux rarely does, for writes this small): what is left
// in sc.out, written after, completes the stream, byte for byte, and a
// control frame written meanwhile comes after it, not inside it.
func TestTryWritePartial(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		nc, err := net.FileConn(f) // a duplicate, non-blocking, in net's poller
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	w, r := conn(fds[0]), conn(fds[1])
	if err := w.(*net.UnixConn).SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	raw, err := w.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	c := &Conn{e: &Engine{cfg: defaultConfig()}}

	var want []byte // every frame, as the client should read them
	var got bytes.Buffer
	sc := new(frameScratch)
	partial := false
	for i := 0; i < 1000 && !partial; i++ {
		sc.frame([]packet{{typ: packetMessage, data: writeNowPayload(i)}})
		size := 0
		for _, b := range sc.out {
			want = append(want, b...)
			size += len(b)
		}
		for !c.tryWrite(w, raw, sc) {
			left := 0
			for _, b := range sc.out {
				left += len(b)
			}
			if left > 0 && left < size {
				partial = true
				break
			}
			// Nothing went: let the reader take a little more than one
			// of the socket's buffers (about 4 KB each, with this
			// buffer size), and try again.
			r.SetReadDeadline(time.Now().Add(eioWait))
			buf := make([]byte, 5000)
			n, err := r.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got.Write(buf[:n])
		}
		if !partial {
			if len(sc.out) != 0 {
				t.Fatalf("frame %d: tryWrite reported it all written, with %d buffers left", i, len(sc.out))
			}
			sc.reset()
		}
	}
	if !partial {
		t.Fatalf("the kernel (%s) never took part of a write to a Unix socket with a small buffer; the test cannot check partial writes", runtime.GOOS)
	}
	read := make(chan error, 1)
	go func() {
		r.SetReadDeadline(time.Now().Add(eioWait))
		_, err := got.ReadFrom(r)
		read <- err
	}()
	// A control frame written meanwhile, as the reader writes a pong, must
	// wait for the rest of the half-written frame: it may not land inside
	// it. Given 100 ms, it would be written by then if it could.
	pong := make(chan error, 1)
	go func() { pong <- c.writeFrame(w, opPong, []byte("hi"), eioWait) }()
	select {
	case err := <-pong:
		t.Fatalf("a pong was written (err %v) in the middle of a half-written frame", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := c.writeBuffers(w, sc); err != nil {
		t.Fatal(err)
	}
	if err := <-pong; err != nil {
		t.Fatal(err)
	}
	want = append(appendFrameHeader(want, opPong, 2), "hi"...)
	w.(*net.UnixConn).CloseWrite()
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("the reader got %d bytes, not the %d written, or not the same ones", got.Len(), len(want))
	}
}

// TestWriterWithoutFlusher checks the other way of writing: a connection
// that cannot be written without waiting (here TLS, whose net.Conn has no
// descriptor to write to) has no flusher, and a writer goroutine writes its
// queue, every frame whole and in order, small and large alike.
func TestWriterWithoutFlusher(t *testing.T) {
	conns := make(chan *Conn, 1)
	eng := NewEngine(func(c *Conn) {
		c.OnMessage(func(m Message) { c.Send(m) })
		conns <- c
	}, WithSendQueueLimit(64<<20))
	hs := httptest.NewUnstartedServer(eng)
	hs.StartTLS()
	t.Cleanup(hs.Close)
	t.Cleanup(func() { eng.Close() })

	d := websocket.Dialer{
		HandshakeTimeout: eioWait,
		TLSClientConfig:  hs.Client().Transport.(*http.Transport).TLSClientConfig,
	}
	ws, _, err := d.Dial("wss"+strings.TrimPrefix(hs.URL, "https")+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if _, data := readWS(t, ws); !strings.HasPrefix(data, "0{") {
		t.Fatalf("first frame %q; want the open packet", data)
	}
	c := <-conns
	if connFlag(c, func(c *Conn) bool { return c.fl != nil })() {
		t.Fatal("a TLS connection has a flusher; want a writer goroutine")
	}
	started := eng.writerStarts.Load()

	message := func(i int) string {
		if i%10 == 9 {
			return string(writeNowPayload(i)) + strings.Repeat("+", 20_000) // larger than maxWriteNow
		}
		return "m" + strconv.Itoa(i)
	}
	const n = 100
	go func() { // the client writes while it reads the echoes
		for i := range n {
			ws.SetWriteDeadline(time.Now().Add(eioWait))
			if ws.WriteMessage(websocket.TextMessage, []byte("4"+message(i))) != nil {
				return
			}
		}
	}()
	for i := range n {
		if _, data := readWS(t, ws); data != "4"+message(i) {
			t.Fatalf("echo %d: %d bytes starting %.20q; want message %d whole", i, len(data), data, i)
		}
	}
	if eng.writerStarts.Load() == started {
		t.Error("no writer goroutine started; want one to write the echoes")
	}
}
