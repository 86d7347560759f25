package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// env is what every client of a run shares: the server's address, the
// dialer spreading connections over several loopback source addresses, and
// the clock payload timestamps are read from.
type env struct {
	host    string // host:port
	sources []net.IP
	next    atomic.Uint32
	start   time.Time
}

func newEnv(host string, sources int) *env {
	e := &env{host: host, start: time.Now()}
	for i := 1; i <= sources; i++ {
		e.sources = append(e.sources, net.IPv4(127, 0, 0, byte(i)))
	}
	return e
}

// now is the time since the run began, in nanoseconds, monotonic.
func (e *env) now() int64 { return int64(time.Since(e.start)) }

// dial connects from the next source address in turn.
func (e *env) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if len(e.sources) > 0 {
		ip := e.sources[int(e.next.Add(1))%len(e.sources)]
		d.LocalAddr = &net.TCPAddr{IP: ip}
		d.Control = setNoPort
	}
	return d.DialContext(ctx, network, addr)
}

// client is one Socket.IO client connected to the main namespace "/" over
// WebSocket or HTTP long-polling. Incoming Socket.IO packets other than
// CONNECT (the bytes after the Engine.IO message type '4') go to onPacket,
// called from one goroutine at a time; the slice is valid only during the
// call. Engine.IO pings are answered with pongs, as the official client does.
type client interface {
	// send queues or writes one Socket.IO packet (without the Engine.IO
	// '4' prefix, which it adds).
	send(p []byte) error
	close()
	done() <-chan struct{}
}

var errConnectRefused = errors.New("CONNECT refused by the server")

// ---------------------------------------------------------------- WebSocket

// The WebSocket client is written by hand, as the server's frames are: the
// opening handshake is one fixed request and a status line to check, and
// frames are a few bytes of header. A general-purpose client (gorilla's
// Dialer, used here before) spent as much CPU per connection as the Go
// server did, so the generator's core, not the server, capped the connect
// scenario.

type wsClient struct {
	nc       net.Conn
	br       *bufio.Reader
	mu       sync.Mutex // serialises writes
	wbuf     []byte
	onPacket func([]byte)
	fin      chan struct{}
	closed   atomic.Bool
}

// Frame opcodes.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// dialWS opens a WebSocket-only session as socket.io-client does with
// transports: ["websocket"]: the Engine.IO handshake over the WebSocket
// itself (the server's OPEN packet), then a Socket.IO CONNECT to "/" and its
// answer. It returns once the socket is connected; the read loop then runs
// on its own goroutine.
func dialWS(ctx context.Context, e *env, onPacket func([]byte)) (*wsClient, error) {
	nc, err := e.dial(ctx, "tcp", e.host)
	if err != nil {
		return nil, err
	}
	c := &wsClient{nc: nc, br: bufio.NewReaderSize(nc, 4096), onPacket: onPacket, fin: make(chan struct{})}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	nc.SetDeadline(deadline)
	if err := c.upgrade(e.host); err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// upgrade runs the WebSocket opening handshake (RFC 6455, section 4.1).
func (c *wsClient) upgrade(host string) error {
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return err
	}
	status, err := c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return fmt.Errorf("websocket handshake: %q", bytes.TrimSpace(status))
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	accept := "Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:])
	accepted := false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if string(line) == accept {
			accepted = true
		}
	}
	if !accepted {
		return errors.New("websocket handshake: no valid Sec-WebSocket-Accept")
	}
	return nil
}

// readFrame reads one whole message from the server (whose frames are not
// masked), answering pings; buf is reused for the payload.
func (c *wsClient) readFrame(buf []byte) (op byte, payload []byte, err error) {
	var hdr [10]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			return 0, nil, err
		}
		fin, op := hdr[0]&0x80 != 0, hdr[0]&0x0F
		n := uint64(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, hdr[2:4]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(c.br, hdr[2:10]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(hdr[2:10])
		}
		if !fin || hdr[1]&0x80 != 0 || n > 64<<20 {
			return 0, nil, errors.New("unexpected frame from the server")
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		payload = buf[:n]
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return 0, nil, err
		}
		if op == opPing {
			if err := c.writeFrame(opPong, payload); err != nil {
				return 0, nil, err
			}
			continue
		}
		return op, payload, nil
	}
}

// handshake reads the Engine.IO OPEN packet, sends a Socket.IO CONNECT and
// waits for its answer.
func (c *wsClient) handshake() error {
	_, msg, err := c.readFrame(nil)
	if err != nil {
		return err
	}
	if len(msg) == 0 || msg[0] != '0' {
		return fmt.Errorf("expected an Engine.IO OPEN packet, got %q", msg)
	}
	if err := c.writeFrame(opText, []byte("40")); err != nil {
		return err
	}
	for {
		_, msg, err := c.readFrame(msg)
		if err != nil {
			return err
		}
		switch {
		case len(msg) >= 2 && msg[0] == '4' && msg[1] == '0':
			return nil
		case len(msg) >= 2 && msg[0] == '4' && msg[1] == '4':
			return fmt.Errorf("%w: %s", errConnectRefused, msg[2:])
		case len(msg) >= 1 && msg[0] == '2':
			if err := c.writeFrame(opText, []byte("3")); err != nil {
				return err
			}
		}
	}
}

// writeFrame writes one client frame. Client frames must be masked; the
// key is zero, which leaves the payload as it is (the server still applies
// it: it cannot know).
func (c *wsClient) writeFrame(op byte, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeFrameLocked(op, payload)
}

func (c *wsClient) writeFrameLocked(op byte, payload []byte) error {
	return c.writeLocked(append(appendClientHeader(c.wbuf[:0], op, len(payload)), payload...))
}

// send writes an Engine.IO message: '4' then p.
func (c *wsClient) send(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(append(append(appendClientHeader(c.wbuf[:0], opText, 1+len(p)), '4'), p...))
}

// writeLocked writes a whole frame, keeping its buffer for the next one.
func (c *wsClient) writeLocked(frame []byte) error {
	c.wbuf = frame
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(frame)
	return err
}

// appendClientHeader appends the header of a final client frame of n
// bytes, masked with the zero key.
func appendClientHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	return append(b, 0, 0, 0, 0)
}

func (c *wsClient) readLoop() {
	defer close(c.fin)
	var buf []byte
	for {
		op, b, err := c.readFrame(buf)
		if err != nil {
			return
		}
		buf = b[:0]
		if op == opClose {
			return
		}
		if op != opText || len(b) == 0 {
			continue
		}
		switch b[0] {
		case '2': // ping
			if c.writeFrame(opText, []byte("3")) != nil {
				return
			}
		case '4':
			if c.onPacket != nil {
				c.onPacket(b[1:])
			}
		case '1': // close
			return
		}
	}
}

func (c *wsClient) close() {
	if c.closed.Swap(true) {
		return
	}
	c.mu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.writeFrameLocked(opClose, []byte{0x03, 0xE8})
	c.mu.Unlock()
	c.nc.Close()
}

func (c *wsClient) done() <-chan struct{} { return c.fin }

// ------------------------------------------------------------- long-polling

// pollClient is a long-polling-only session, as socket.io-client with
// transports: ["polling"]: one GET waiting for the server's packets at all
// times, and one POST at a time carrying every packet written meanwhile,
// separated by the record separator 0x1e. Each client has its own HTTP
// connections, as separate browsers would.
type pollClient struct {
	e        *env
	tr       *http.Transport
	hc       *http.Client
	url      string // with the sid
	onPacket func([]byte)
	ctx      context.Context
	cancel   context.CancelFunc

	mu     sync.Mutex
	out    []byte // packets waiting for the next POST, 0x1e-separated
	wake   chan struct{}
	fin    chan struct{}
	closed atomic.Bool
}

func dialPolling(ctx context.Context, e *env, onPacket func([]byte)) (*pollClient, error) {
	tr := &http.Transport{
		DialContext:         e.dial,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     60 * time.Second,
	}
	hc := &http.Client{Transport: tr}
	base := "http://" + e.host + "/socket.io/?EIO=4&transport=polling"
	body, err := httpDo(ctx, hc, http.MethodGet, base, nil)
	if err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	if len(body) == 0 || body[0] != '0' {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("expected an Engine.IO OPEN packet, got %q", body)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(body[1:], &open); err != nil || open.SID == "" {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("bad OPEN packet %q: %v", body, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &pollClient{
		e: e, tr: tr, hc: hc, url: base + "&sid=" + open.SID, onPacket: onPacket,
		ctx: cctx, cancel: cancel, wake: make(chan struct{}, 1), fin: make(chan struct{}),
	}
	connected := make(chan error, 1)
	go c.pollLoop(connected)
	go c.writeLoop()
	c.queue([]byte("40"))
	select {
	case err := <-connected:
		if err != nil {
			c.close()
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.close()
		return nil, ctx.Err()
	}
}

func httpDo(ctx context.Context, hc *http.Client, method, url string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", method, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// queue adds one Engine.IO packet (type byte included) to the next POST.
func (c *pollClient) queue(pkt []byte) {
	c.mu.Lock()
	if len(c.out) > 0 {
		c.out = append(c.out, 0x1e)
	}
	c.out = append(c.out, pkt...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *pollClient) send(p []byte) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	c.mu.Lock()
	if len(c.out) > 0 {
		c.out = append(c.out, 0x1e)
	}
	c.out = append(append(c.out, '4'), p...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

func (c *pollClient) writeLoop() {
	var body []byte
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
		c.mu.Lock()
		body, c.out = c.out, body[:0]
		c.mu.Unlock()
		if len(body) == 0 {
			continue
		}
		if _, err := httpDo(c.ctx, c.hc, http.MethodPost, c.url, body); err != nil {
			c.cancel()
			return
		}
	}
}

func (c *pollClient) pollLoop(connected chan<- error) {
	defer close(c.fin)
	defer c.cancel()
	isConnected := false
	for {
		body, err := httpDo(c.ctx, c.hc, http.MethodGet, c.url, nil)
		if err != nil {
			if !isConnected {
				connected <- err
			}
			return
		}
		for len(body) > 0 {
			var pkt []byte
			if i := bytes.IndexByte(body, 0x1e); i >= 0 {
				pkt, body = body[:i], body[i+1:]
			} else {
				pkt, body = body, nil
			}
			if len(pkt) == 0 {
				continue
			}
			switch pkt[0] {
			case '2': // ping
				c.queue([]byte("3"))
			case '1': // close
				if !isConnected {
					connected <- errors.New("session closed before CONNECT")
				}
				return
			case '4':
				p := pkt[1:]
				switch {
				case !isConnected && len(p) > 0 && p[0] == '0':
					isConnected = true
					connected <- nil
				case !isConnected && len(p) > 0 && p[0] == '4':
					connected <- fmt.Errorf("%w: %s", errConnectRefused, p[1:])
					return
				case c.onPacket != nil:
					c.onPacket(p)
				}
			}
		}
	}
}

// close ends the session as the official client does, with an Engine.IO
// CLOSE packet, then drops the connections.
func (c *pollClient) close() {
	if c.closed.Swap(true) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	httpDo(ctx, c.hc, http.MethodPost, c.url, []byte("1"))
	cancel()
	c.cancel()
	<-c.fin
	c.tr.CloseIdleConnections()
}

func (c *pollClient) done() <-chan struct{} { return c.fin }

// ---------------------------------------------------------------- payloads

// appendEvent appends a Socket.IO EVENT packet (without the Engine.IO
// prefix) for the main namespace: 2[<id>]["event",{"s":step,"t":ns,"p":pad}].
func appendEvent(dst []byte, ackID int64, event string, step int, t int64, pad string) []byte {
	dst = append(dst, '2')
	if ackID >= 0 {
		dst = strconv.AppendInt(dst, ackID, 10)
	}
	dst = append(dst, `["`...)
	dst = append(dst, event...)
	dst = append(dst, `",{"s":`...)
	dst = strconv.AppendInt(dst, int64(step), 10)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"p":"`...)
	dst = append(dst, pad...)
	dst = append(dst, `"}]`...)
	return dst
}

var (
	keyStep = []byte(`"s":`)
	keyTime = []byte(`"t":`)
)

// fieldInt finds key (such as "t":) followed by an integer in b.
func fieldInt(b, key []byte) (int64, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0, false
	}
	i += len(key)
	var n int64
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	return n, i > start
}
