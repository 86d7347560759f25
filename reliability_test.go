package sio

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// Reliability tests (issue 8): bad input on both transports, slow
// consumers, panicking handlers, shutdown, and the limits. They drive a
// Server over real HTTP and WebSocket connections with relClient, a small
// raw Engine.IO/Socket.IO client written for them, so that they can send
// what no well-behaved client would. The soak test (soak_test.go) and the
// security tests (security_test.go) share these helpers. RELIABILITY.md
// lists what is promised and which test proves it.

// relWait bounds every wait for something that should happen promptly. It
// is generous: the machine running the tests may be slow and shared.
const relWait = 20 * time.Second

// --- A raw client ---

// relFrame is one Engine.IO packet as it travels: a text frame (type digit
// first) or a binary message.
type relFrame struct {
	text   string
	bin    []byte
	binary bool
}

func relText(s string) relFrame           { return relFrame{text: s} }
func relBin(b ...byte) relFrame           { return relFrame{bin: b, binary: true} }
func relFrames(fs ...relFrame) []relFrame { return fs }

func (f relFrame) String() string {
	if f.binary {
		return fmt.Sprintf("<binary, %d bytes>", len(f.bin))
	}
	if len(f.text) > 60 {
		return strconv.Quote(f.text[:60]) + fmt.Sprintf("...(%d bytes)", len(f.text))
	}
	return strconv.Quote(f.text)
}

// relPayload encodes frames as one long-polling body.
func relPayload(frames []relFrame) string {
	var b strings.Builder
	for i, f := range frames {
		if i > 0 {
			b.WriteByte('\x1e')
		}
		if f.binary {
			b.WriteByte('b')
			b.WriteString(base64.StdEncoding.EncodeToString(f.bin))
		} else {
			b.WriteString(f.text)
		}
	}
	return b.String()
}

// relParsePayload decodes a long-polling body.
func relParsePayload(body string) ([]relFrame, error) {
	var out []relFrame
	for _, part := range strings.Split(body, "\x1e") {
		if strings.HasPrefix(part, "b") {
			b, err := base64.StdEncoding.DecodeString(part[1:])
			if err != nil {
				return nil, fmt.Errorf("bad base64 in payload %q: %v", body, err)
			}
			out = append(out, relFrame{bin: b, binary: true})
			continue
		}
		out = append(out, relFrame{text: part})
	}
	return out, nil
}

// relResp is a finished HTTP answer.
type relResp struct {
	status int
	header http.Header
	body   string
}

// relHTTPError is an answer other than 200 where 200 was due.
type relHTTPError struct{ r relResp }

func (e *relHTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %q", e.r.status, e.r.body)
}

// relClient is a minimal Engine.IO v4 / Socket.IO v5 client over
// long-polling, WebSocket, or long-polling upgraded to WebSocket. Its
// methods return errors instead of failing a test, so that the soak test's
// workers can use it; they must not be called concurrently.
type relClient struct {
	base string // http://host:port/socket.io/
	hc   *http.Client
	wait time.Duration

	// extra is added to the query of every request, such as a token for
	// the WithAllowRequest hook.
	extra string

	mode Transport // the transport in use
	sid  string
	ws   *websocket.Conn
	in   []relFrame // received and not yet consumed
	ack  int        // the next ack id
}

func (c *relClient) query(t Transport) string {
	q := "EIO=4&transport=" + string(t) + c.extra
	if c.sid != "" {
		q += "&sid=" + c.sid
	}
	return q
}

func (c *relClient) wsURL(rawQuery string) string {
	return "ws" + strings.TrimPrefix(c.base, "http") + "?" + rawQuery
}

// do sends one HTTP request to the server and reads the whole answer.
func (c *relClient) do(method, rawQuery string, body io.Reader, header http.Header) (relResp, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+"?"+rawQuery, body)
	if err != nil {
		return relResp{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if method == http.MethodPost && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return relResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return relResp{}, fmt.Errorf("%s ?%s: reading the body: %w", method, rawQuery, err)
	}
	return relResp{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

func (c *relClient) dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: c.wait}
}

// open does the Engine.IO handshake over transport t.
func (c *relClient) open(t Transport) error {
	c.sid, c.in, c.ack = "", nil, 0
	if t == TransportWebSocket {
		ws, resp, err := c.dialer().Dial(c.wsURL(c.query(t)), nil)
		if err != nil {
			return fmt.Errorf("websocket handshake: %v (%s)", err, relStatus(resp))
		}
		c.ws, c.mode = ws, TransportWebSocket
		f, err := c.next()
		if err != nil {
			return fmt.Errorf("websocket open packet: %w", err)
		}
		return c.setOpen(f)
	}
	c.mode = TransportPolling
	r, err := c.do(http.MethodGet, c.query(t), nil, nil)
	if err != nil {
		return fmt.Errorf("polling handshake: %w", err)
	}
	if r.status != http.StatusOK {
		return fmt.Errorf("polling handshake: %w", &relHTTPError{r})
	}
	frames, err := relParsePayload(r.body)
	if err != nil {
		return err
	}
	c.in = frames[1:]
	return c.setOpen(frames[0])
}

func (c *relClient) setOpen(f relFrame) error {
	var open struct{ SID string }
	if f.binary || !strings.HasPrefix(f.text, "0{") || json.Unmarshal([]byte(f.text[1:]), &open) != nil || open.SID == "" {
		return fmt.Errorf("first packet %v: want an open packet", f)
	}
	c.sid = open.SID
	return nil
}

func relStatus(resp *http.Response) string {
	if resp == nil {
		return "no HTTP answer"
	}
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("HTTP %d %q", resp.StatusCode, b)
}

// send sends frames: over long-polling in one POST, whose answer it
// returns; over WebSocket one frame each.
func (c *relClient) send(frames ...relFrame) (relResp, error) {
	if c.mode == TransportWebSocket {
		for _, f := range frames {
			c.ws.SetWriteDeadline(time.Now().Add(c.wait))
			var err error
			if f.binary {
				err = c.ws.WriteMessage(websocket.BinaryMessage, f.bin)
			} else {
				err = c.ws.WriteMessage(websocket.TextMessage, []byte(f.text))
			}
			if err != nil {
				return relResp{}, fmt.Errorf("writing %v: %w", f, err)
			}
		}
		return relResp{}, nil
	}
	return c.do(http.MethodPost, c.query(TransportPolling), strings.NewReader(relPayload(frames)), nil)
}

// sendOK is send where the server must take the frames.
func (c *relClient) sendOK(frames ...relFrame) error {
	r, err := c.send(frames...)
	if err != nil {
		return err
	}
	if c.mode == TransportPolling && (r.status != http.StatusOK || r.body != "ok") {
		return fmt.Errorf("POST %v: %w", frames, &relHTTPError{r})
	}
	return nil
}

// next returns the next frame from the server: over long-polling it GETs
// when it has none left.
func (c *relClient) next() (relFrame, error) {
	for len(c.in) == 0 {
		if c.mode == TransportWebSocket {
			c.ws.SetReadDeadline(time.Now().Add(c.wait))
			mt, data, err := c.ws.ReadMessage()
			if err != nil {
				return relFrame{}, err
			}
			if mt == websocket.BinaryMessage {
				return relFrame{bin: data, binary: true}, nil
			}
			return relFrame{text: string(data)}, nil
		}
		r, err := c.do(http.MethodGet, c.query(TransportPolling), nil, nil)
		if err != nil {
			return relFrame{}, err
		}
		if r.status != http.StatusOK {
			return relFrame{}, &relHTTPError{r}
		}
		if c.in, err = relParsePayload(r.body); err != nil {
			return relFrame{}, err
		}
	}
	f := c.in[0]
	c.in = c.in[1:]
	return f, nil
}

// nextMsg returns the next frame that is neither a ping (which it answers)
// nor a noop.
func (c *relClient) nextMsg() (relFrame, error) {
	for {
		f, err := c.next()
		if err != nil {
			return f, err
		}
		switch {
		case !f.binary && f.text == "2":
			if err := c.sendOK(relText("3")); err != nil {
				return f, err
			}
		case !f.binary && f.text == "6":
		default:
			return f, nil
		}
	}
}

// relNsp is the namespace part of a Socket.IO packet.
func relNsp(nsp string) string {
	if nsp == "/" {
		return ""
	}
	return nsp + ","
}

// connect joins namespace nsp and returns the socket's id.
func (c *relClient) connect(nsp string) (string, error) {
	if err := c.sendOK(relText("40" + relNsp(nsp))); err != nil {
		return "", err
	}
	f, err := c.nextMsg()
	if err != nil {
		return "", fmt.Errorf("CONNECT %s: %w", nsp, err)
	}
	prefix := "40" + relNsp(nsp)
	var ok struct{ SID string }
	if f.binary || !strings.HasPrefix(f.text, prefix+"{") || json.Unmarshal([]byte(f.text[len(prefix):]), &ok) != nil || ok.SID == "" {
		return "", fmt.Errorf("CONNECT %s answered %v", nsp, f)
	}
	return ok.SID, nil
}

// echo emits "echo" with the JSON value val and an ack id, and checks that
// the next message is the acknowledgement carrying val back.
func (c *relClient) echo(nsp, val string) error {
	id := c.ack
	c.ack++
	if err := c.sendOK(relText(fmt.Sprintf(`42%s%d["echo",%s]`, relNsp(nsp), id, val))); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	f, err := c.nextMsg()
	if err != nil {
		return fmt.Errorf("echo %s: %w", val, err)
	}
	if want := fmt.Sprintf(`43%s%d[%s]`, relNsp(nsp), id, val); f.text != want {
		return fmt.Errorf("echo: got %v; want %q", f, want)
	}
	return nil
}

// upgrade moves a long-polling session to a new WebSocket: probe, then
// upgrade packet.
func (c *relClient) upgrade() error {
	ws, resp, err := c.dialer().Dial(c.wsURL(c.query(TransportWebSocket)), nil)
	if err != nil {
		return fmt.Errorf("upgrade: websocket handshake: %v (%s)", err, relStatus(resp))
	}
	ws.SetWriteDeadline(time.Now().Add(c.wait))
	ws.SetReadDeadline(time.Now().Add(c.wait))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		ws.Close()
		return fmt.Errorf("upgrade: probe: %w", err)
	}
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "3probe" {
		ws.Close()
		return fmt.Errorf("upgrade: probe answered %q, %v; want 3probe", data, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		ws.Close()
		return fmt.Errorf("upgrade: upgrade packet: %w", err)
	}
	c.ws, c.mode = ws, TransportWebSocket
	return nil
}

// openMode opens a session in one of the three modes ("polling",
// "websocket", "upgrade") and joins the main namespace; an upgrade happens
// after the CONNECT, as socket.io-client does it.
func (c *relClient) openMode(mode string) error {
	t := TransportPolling
	if mode == "websocket" {
		t = TransportWebSocket
	}
	if err := c.open(t); err != nil {
		return err
	}
	if _, err := c.connect("/"); err != nil {
		return err
	}
	if mode == "upgrade" {
		return c.upgrade()
	}
	return nil
}

// close ends the session as engine.io-client does: a close packet over
// long-polling, a close frame over WebSocket.
func (c *relClient) close() {
	if c.ws != nil {
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		c.ws.Close()
		return
	}
	if c.sid != "" {
		c.send(relText("1"))
	}
}

// abandon drops the session without a word, as a client whose network
// vanished: a WebSocket's TCP connection is cut, a polling client simply
// stops polling.
func (c *relClient) abandon() {
	if c.ws != nil {
		c.ws.NetConn().Close()
	}
}

// waitClosed reads a WebSocket until the server ends it.
func (c *relClient) waitClosed() error {
	if c.ws == nil {
		return errors.New("not a websocket")
	}
	c.ws.SetReadDeadline(time.Now().Add(c.wait))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("websocket still open after %v", c.wait)
			}
			return nil
		}
	}
}

// --- A server that records what it sees ---

// relLog is the server's log, as JSON lines, and an index of why each
// session ended (the "engine.io session closing" records).
type relLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	reasons map[string]Reason
	errors  int // records at Warn and above
}

func relNewLog() *relLog { return &relLog{reasons: map[string]Reason{}} }

func (l *relLog) Write(p []byte) (int, error) {
	var rec struct {
		Level  string `json:"level"`
		Msg    string `json:"msg"`
		SID    string `json:"sid"`
		Reason string `json:"reason"`
	}
	json.Unmarshal(p, &rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if rec.Msg == "engine.io session closing" {
		l.reasons[rec.SID] = Reason(rec.Reason)
	}
	if rec.Level == "WARN" || rec.Level == "ERROR" {
		l.errors++
	}
	return l.buf.Write(p)
}

func (l *relLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *relLog) reason(sid string) (Reason, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.reasons[sid]
	return r, ok
}

func (l *relLog) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: level}))
}

// relDisc is one socket's disconnection, as its namespace's OnDisconnect
// saw it.
type relDisc struct {
	nsp    string
	reason Reason
}

// relServer is a Server mounted at /socket.io/ on an httptest server.
type relServer struct {
	srv  *Server
	hs   *httptest.Server
	log  *relLog
	hc   *http.Client
	base string

	mu      sync.Mutex
	disc    map[string][]relDisc // by session id, unless counting only
	reasons map[Reason]int       // every socket disconnection, by reason
}

// relStart starts a Server with the given options after a logger at Debug
// into rs.log (an option may replace it). Every namespace created with
// rs.ns acknowledges "echo" with its argument and records its
// disconnections. The server is closed when t ends.
func relStart(t testing.TB, opts ...Option) *relServer {
	t.Helper()
	return relStartServer(t, true, opts...)
}

// relStartServer is relStart; without keep, the server only counts the
// disconnections, by reason, so that what it records stays small.
func relStartServer(t testing.TB, keep bool, opts ...Option) *relServer {
	t.Helper()
	rs := &relServer{log: relNewLog(), reasons: map[Reason]int{}}
	if keep {
		rs.disc = map[string][]relDisc{}
	}
	rs.srv = New(append([]Option{WithLogger(rs.log.logger(slog.LevelDebug))}, opts...)...)
	rs.ns("/")
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", rs.srv)
	rs.hs = httptest.NewServer(mux)
	rs.base = rs.hs.URL + "/socket.io/"
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	rs.hc = &http.Client{Transport: tr}
	// Last in, first out: the Server releases its long polls and
	// WebSockets, then the HTTP server waits for its requests.
	t.Cleanup(tr.CloseIdleConnections)
	t.Cleanup(rs.hs.Close)
	t.Cleanup(func() { rs.srv.Close() })
	return rs
}

// ns returns namespace name with the echo handler and the disconnection
// recorder, registering them the first time.
func (rs *relServer) ns(name string) *Namespace {
	ns := rs.srv.Of(name)
	if ns.h.load().events["echo"] != nil {
		return ns
	}
	OnAck(ns, "echo", func(ctx context.Context, s *Socket, v any) (any, error) { return v, nil })
	ns.OnDisconnect(func(s *Socket, reason Reason) {
		rs.mu.Lock()
		if rs.disc != nil {
			rs.disc[s.Conn().ID()] = append(rs.disc[s.Conn().ID()], relDisc{s.Namespace().Name(), reason})
		}
		rs.reasons[reason]++
		rs.mu.Unlock()
	})
	return ns
}

func (rs *relServer) client() *relClient {
	return &relClient{base: rs.base, hc: rs.hc, wait: relWait}
}

// dial returns a client with an open session in mode, joined to the main
// namespace, closed when t ends.
func (rs *relServer) dial(t testing.TB, mode string) *relClient {
	t.Helper()
	c := rs.client()
	if err := c.openMode(mode); err != nil {
		t.Fatalf("%s client: %v", mode, err)
	}
	t.Cleanup(c.close)
	return c
}

// closeReason waits until session sid has ended and returns its reason.
func (rs *relServer) closeReason(t testing.TB, sid string) Reason {
	t.Helper()
	deadline := time.Now().Add(relWait)
	for {
		if r, ok := rs.log.reason(sid); ok {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s did not end within %v", sid, relWait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// discs waits until n sockets of session sid have disconnected and
// returns their disconnections.
func (rs *relServer) discs(t testing.TB, sid string, n int) []relDisc {
	t.Helper()
	deadline := time.Now().Add(relWait)
	for {
		rs.mu.Lock()
		d := append([]relDisc(nil), rs.disc[sid]...)
		rs.mu.Unlock()
		if len(d) >= n {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s: %d socket disconnections within %v (%v); want %d", sid, len(d), relWait, d, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// expectOpen fails if session sid has ended.
func (rs *relServer) expectOpen(t testing.TB, sid string) {
	t.Helper()
	if r, ok := rs.log.reason(sid); ok {
		t.Fatalf("session %s ended (%q); want it open", sid, r)
	}
	if c := rs.conn(sid); c == nil || !c.isOpen() {
		t.Fatalf("session %s is not open", sid)
	}
}

func (rs *relServer) conn(sid string) *Conn {
	rs.srv.engine.mu.Lock()
	defer rs.srv.engine.mu.Unlock()
	return rs.srv.engine.conns[sid]
}

// sessions is the number of sessions the engine has.
func (rs *relServer) sessions() int {
	rs.srv.engine.mu.Lock()
	defer rs.srv.engine.mu.Unlock()
	return len(rs.srv.engine.conns)
}

// relExpectHTTPError checks an error answer in Node's shape.
func relExpectHTTPError(t testing.TB, what string, r relResp, status, code int, message string) {
	t.Helper()
	var body struct {
		Code    *int
		Message string
	}
	if r.status != status || json.Unmarshal([]byte(r.body), &body) != nil || body.Code == nil ||
		*body.Code != code || body.Message != message || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: HTTP %d %q (%s); want %d {\"code\":%d,\"message\":%q}",
			what, r.status, r.body, r.header.Get("Content-Type"), status, code, message)
	}
}

func relWaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(relWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", relWait, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// relHeapInuse returns HeapInuse after a full collection.
func relHeapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func relMiB(n uint64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// relNoLeaks waits until no goroutine outside before is left.
func relNoLeaks(t testing.TB, before goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(relWait)
	for {
		err := goleak.Find(before)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left behind: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- Bad input ---

// relMaxPayload is the bad-input server's max payload: small enough that
// an oversized message is cheap, large enough for 100,000 nested arrays.
const relMaxPayload = 256 << 10

// relBadCase is one kind of bad input. A case sends its frames (or runs
// its own steps) on a fresh session, then checks one outcome: the session
// ends with reason; or the first message back starts with reply and the
// session stays open; or (neither) the input is ignored and the session
// stays open.
type relBadCase struct {
	name    string
	only    Transport // "" for both transports
	connect []string  // namespaces joined first
	frames  []relFrame
	run     func(t *testing.T, rs *relServer, c *relClient) // instead of frames
	reason  Reason
	reply   string
	// pollStatus is the status of the long-polling POST (default 200).
	pollStatus int
}

var relRoot = []string{"/"}

const relP0 = `{"_placeholder":true,"num":0}`

// relBadCases are the cases sent over both transports.
func relBadCases() []relBadCase {
	nested := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	return []relBadCase{
		// Engine.IO layer.
		{name: "text that is not UTF-8", connect: relRoot, frames: relFrames(relText("42[\"echo\",\"\xff\xfe\"]")), reason: ReasonParseError, pollStatus: 400},
		{name: "unknown Engine.IO packet type", frames: relFrames(relText("9hello")), reason: ReasonParseError, pollStatus: 400},
		{name: "empty Engine.IO packet", frames: relFrames(relText("")), reason: ReasonParseError, pollStatus: 400},
		{name: "open packet from the client", connect: relRoot, frames: relFrames(relText(`0{"sid":"x"}`))},
		{name: "upgrade packet outside an upgrade", connect: relRoot, frames: relFrames(relText("5"))},
		{name: "ping from the client (protocol v3)", connect: relRoot, frames: relFrames(relText("2")), reply: "3"},
		{name: "binary where text is expected", connect: relRoot, frames: relFrames(relBin(1, 2, 3)), reason: ReasonParseError},
		{name: "message over the max payload", connect: relRoot, frames: relFrames(relText("4" + strings.Repeat("a", relMaxPayload))),
			reason: ReasonTransportError, pollStatus: http.StatusRequestEntityTooLarge},
		// Socket.IO layer: packets.
		{name: "empty Socket.IO packet", frames: relFrames(relText("4")), reason: ReasonParseError},
		{name: "unknown Socket.IO packet type", frames: relFrames(relText("49")), reason: ReasonParseError},
		{name: "Socket.IO type not a digit", frames: relFrames(relText("4x[]")), reason: ReasonParseError},
		{name: "event before CONNECT", frames: relFrames(relText(`42["echo","x"]`)), reason: ReasonParseError},
		{name: "acknowledgement before CONNECT", frames: relFrames(relText(`430["x"]`)), reason: ReasonParseError},
		{name: "CONNECT_ERROR from the client", connect: relRoot, frames: relFrames(relText(`44{"message":"x"}`)), reason: ReasonParseError},
		{name: "DISCONNECT with a payload", connect: relRoot, frames: relFrames(relText(`41"bye"`)), reason: ReasonParseError},
		// Namespaces.
		{name: "CONNECT to an unknown namespace", frames: relFrames(relText("40/nope,")), reply: `44/nope,{"message":"Invalid namespace"}`},
		{name: "CONNECT to a 100 kB namespace name", frames: relFrames(relText("40/" + strings.Repeat("n", 100_000) + ",")), reply: `44/nnnnnnnn`},
		{name: "CONNECT with an array payload", frames: relFrames(relText("40[1]")), reason: ReasonParseError},
		{name: "CONNECT with broken JSON", frames: relFrames(relText(`40{"token":`)), reason: ReasonParseError},
		{name: "second CONNECT to one namespace", connect: relRoot, frames: relFrames(relText("40")), reason: ReasonParseError},
		{name: "CONNECT beyond the namespace limit", connect: []string{"/", "/other"}, frames: relFrames(relText("40/third,")),
			reply: `44/third,{"message":"Too many namespaces"}`},
		{name: "event for a namespace not joined", connect: relRoot, frames: relFrames(relText(`42/other,["echo",1]`)), reason: ReasonParseError},
		// Events.
		{name: "event payload not an array", connect: relRoot, frames: relFrames(relText(`42{"echo":1}`)), reason: ReasonParseError},
		{name: "event with broken JSON", connect: relRoot, frames: relFrames(relText(`42["echo",`)), reason: ReasonParseError},
		{name: "event without a name", connect: relRoot, frames: relFrames(relText(`42[]`)), reason: ReasonParseError},
		{name: "event name not a string", connect: relRoot, frames: relFrames(relText(`42[1,2]`)), reason: ReasonParseError},
		{name: "reserved event name connect", connect: relRoot, frames: relFrames(relText(`42["connect"]`)), reason: ReasonParseError},
		{name: "reserved event name disconnecting", connect: relRoot, frames: relFrames(relText(`42["disconnecting",1]`)), reason: ReasonParseError},
		{name: "reserved event name newListener", connect: relRoot, frames: relFrames(relText(`42["newListener"]`)), reason: ReasonParseError},
		{name: "event without a handler", connect: relRoot, frames: relFrames(relText(`421["nohandler",1]`))},
		{name: "NUL as the event name", connect: relRoot, frames: relFrames(relText(`42["\u0000"]`))},
		{name: "lone UTF-16 surrogate", connect: relRoot, frames: relFrames(relText(`421["echo","\ud800"]`)), reply: `431["`},
		// Nesting and numbers.
		{name: "100,000 nested arrays", connect: relRoot, frames: relFrames(relText(`42["echo",` + nested(100_000) + `]`)), reason: ReasonParseError},
		{name: "5,000 nested arrays (allowed)", connect: relRoot, frames: relFrames(relText(`421["echo",` + nested(5000) + `]`)), reply: `431[[[[[`},
		{name: "number beyond float64", connect: relRoot, frames: relFrames(relText(`421["num",1e999]`)),
			reply: `431[{"error":"sio: invalid payload for event \"num\"`},
		{name: "integer beyond int64", connect: relRoot, frames: relFrames(relText(`421["int",123456789012345678901234567890]`)),
			reply: `431[{"error":"sio: invalid payload for event \"int\"`},
		{name: "number of 100,000 digits", connect: relRoot, frames: relFrames(relText(`421["echo",` + strings.Repeat("9", 100_000) + `]`)),
			reply: `431[{"error":"sio: invalid payload for event \"echo\"`},
		{name: "argument of the wrong type", connect: relRoot, frames: relFrames(relText(`421["num","abc"]`)), reply: `431[{"error":`},
		// Acknowledgements.
		{name: "ack id of 16 digits", connect: relRoot, frames: relFrames(relText(`421234567890123456["echo",1]`)), reason: ReasonParseError},
		{name: "ack id of 15 digits for no call", connect: relRoot, frames: relFrames(relText(`43999999999999999[]`))},
		{name: "ACK without an id", connect: relRoot, frames: relFrames(relText(`43["x"]`)), reason: ReasonParseError},
		{name: "negative ack id", connect: relRoot, frames: relFrames(relText(`43-1[]`)), reason: ReasonParseError},
		{name: "ACK for an id never used", connect: relRoot, frames: relFrames(relText(`4377[1]`))},
		// Binary attachments.
		{name: "more attachments than allowed", connect: relRoot, frames: relFrames(relText(`455-["echo"]`)), reason: ReasonParseError},
		{name: "attachment count missing", connect: relRoot, frames: relFrames(relText(`45-["echo"]`)), reason: ReasonParseError},
		{name: "attachment count of 10 digits", connect: relRoot, frames: relFrames(relText(`451234567890-["echo"]`)), reason: ReasonParseError},
		{name: "text where an attachment is expected", connect: relRoot,
			frames: relFrames(relText(`451-["echo",`+relP0+`]`), relText(`42["echo",1]`)), reason: ReasonParseError},
		{name: "placeholder beyond the attachments", connect: relRoot,
			frames: relFrames(relText(`451-["echo",{"_placeholder":true,"num":3}]`), relBin(1)), reason: ReasonParseError},
		{name: "negative placeholder", connect: relRoot,
			frames: relFrames(relText(`451-["echo",{"_placeholder":true,"num":-1}]`), relBin(1)), reason: ReasonParseError},
		{name: "placeholder number as a string", connect: relRoot,
			frames: relFrames(relText(`451-["echo",{"_placeholder":true,"num":"0"}]`), relBin(1)), reason: ReasonParseError},
		{name: "unused attachment", connect: relRoot,
			frames: relFrames(relText(`452-1["echo",`+relP0+`]`), relBin(1, 2, 3), relBin(4)), reply: `431["AQID"]`},
		{name: "binary event with no attachments", connect: relRoot, frames: relFrames(relText(`450-1["echo","x"]`)), reply: `431["x"]`},
		{name: "binary ACK for an id never used", connect: relRoot, frames: relFrames(relText(`461-5[`+relP0+`]`), relBin(9))},
		{name: "placeholder in a plain event", connect: relRoot, frames: relFrames(relText(`421["echo",` + relP0 + `]`)), reply: `431[` + relP0 + `]`},
	}
}

// relSpecialCases are the cases of one transport, with steps of their own.
func relSpecialCases() []relBadCase {
	pollOnly, wsOnly := TransportPolling, TransportWebSocket
	return []relBadCase{
		{name: "base64 that does not decode", only: pollOnly, connect: relRoot, frames: relFrames(relText("b!!!")),
			reason: ReasonParseError, pollStatus: 400},
		{name: "POST of application/octet-stream", only: pollOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				r, err := c.do(http.MethodPost, c.query(TransportPolling), strings.NewReader("4x"),
					http.Header{"Content-Type": {"application/octet-stream"}})
				if err != nil {
					t.Fatal(err)
				}
				relExpectHTTPError(t, "octet-stream POST", r, 400, 3, "Bad request")
			}},
		{name: "second GET while one waits", only: pollOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				first := make(chan relResp, 1)
				go func() {
					r, _ := c.do(http.MethodGet, c.query(TransportPolling), nil, nil)
					first <- r
				}()
				conn := rs.conn(c.sid)
				relWaitUntil(t, "the first GET waits", func() bool { conn.mu.Lock(); defer conn.mu.Unlock(); return conn.polling })
				r, err := c.do(http.MethodGet, c.query(TransportPolling), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				relExpectHTTPError(t, "second GET", r, 400, 3, "Bad request")
				if r := <-first; r.status != 200 || r.body != "1" {
					t.Fatalf("first GET: %d %q; want 200 with a close packet", r.status, r.body)
				}
			}},
		{name: "second POST while one is read", only: pollOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				pr, pw := io.Pipe()
				first := make(chan error, 1)
				go func() {
					_, err := c.do(http.MethodPost, c.query(TransportPolling), pr, nil)
					first <- err
				}()
				pw.Write([]byte("4"))
				conn := rs.conn(c.sid)
				relWaitUntil(t, "the first POST is read", func() bool { conn.mu.Lock(); defer conn.mu.Unlock(); return conn.posting })
				r, err := c.do(http.MethodPost, c.query(TransportPolling), strings.NewReader("6"), nil)
				if err != nil {
					t.Fatal(err)
				}
				relExpectHTTPError(t, "second POST", r, 400, 3, "Bad request")
				pw.CloseWithError(errors.New("client gave up"))
				<-first
			}},
		{name: "PUT on a session", only: pollOnly, connect: relRoot,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				r, err := c.do(http.MethodPut, c.query(TransportPolling), strings.NewReader("4x"), nil)
				if err != nil {
					t.Fatal(err)
				}
				relExpectHTTPError(t, "PUT", r, 400, 3, "Bad request")
			}},
		{name: "poll after the client closed", only: pollOnly, connect: relRoot, reason: ReasonTransportClose,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				if err := c.sendOK(relText("1")); err != nil {
					t.Fatal(err)
				}
				if f, err := c.next(); err != nil || f.text != "6" {
					t.Fatalf("GET racing the close: %v, %v; want a noop", f, err)
				}
				r, err := c.do(http.MethodGet, c.query(TransportPolling), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				relExpectHTTPError(t, "GET on a closed session", r, 400, 1, "Session ID unknown")
			}},
		{name: "requests that open no session", only: pollOnly,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				for _, q := range []struct {
					method, query string
					header        http.Header
					code          int
					message       string
				}{
					{"GET", "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA", nil, 1, "Session ID unknown"},
					{"POST", "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA", nil, 1, "Session ID unknown"},
					{"POST", "EIO=4&transport=polling", nil, 2, "Bad handshake method"},
					{"GET", "EIO=3&transport=polling", nil, 5, "Unsupported protocol version"},
					{"GET", "transport=polling", nil, 5, "Unsupported protocol version"},
					{"GET", "EIO=4&transport=flashsocket", nil, 0, "Transport unknown"},
					{"GET", "EIO=4&transport=websocket", nil, 3, "Bad request"},
				} {
					r, err := c.do(q.method, q.query, strings.NewReader("4x"), q.header)
					if err != nil {
						t.Fatal(err)
					}
					relExpectHTTPError(t, q.method+" ?"+q.query, r, 400, q.code, q.message)
				}
			}},
		{name: "garbage after an upgrade", only: wsOnly, connect: relRoot, reason: ReasonParseError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				c.relUpgradeFromPolling(t)
				c.send(relText("garbage"))
			}},
		{name: "binary garbage after an upgrade", only: wsOnly, connect: relRoot, reason: ReasonParseError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				c.relUpgradeFromPolling(t)
				c.send(relBin(0xde, 0xad))
			}},
		// Frames that break RFC 6455, written raw under the client library.
		{name: "unmasked WebSocket frame", only: wsOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) { c.ws.NetConn().Write([]byte{0x81, 0x02, '4', 'x'}) }},
		{name: "WebSocket frame with a reserved bit", only: wsOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				f := wsClientFrame(true, opText, []byte("4x"), [4]byte{1, 2, 3, 4})
				f[0] |= 0x20
				c.ws.NetConn().Write(f)
			}},
		{name: "WebSocket frame with a reserved opcode", only: wsOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				c.ws.NetConn().Write(wsClientFrame(true, 0x5, []byte("4x"), [4]byte{1, 2, 3, 4}))
			}},
		{name: "fragmented WebSocket ping", only: wsOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				c.ws.NetConn().Write(wsClientFrame(false, opPing, []byte("x"), [4]byte{1, 2, 3, 4}))
			}},
		{name: "WebSocket continuation with no message begun", only: wsOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				c.ws.NetConn().Write(wsClientFrame(true, opContinuation, []byte("4x"), [4]byte{1, 2, 3, 4}))
			}},
		{name: "WebSocket header announcing 2^63 bytes", only: wsOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				c.ws.NetConn().Write([]byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4})
			}},
		{name: "fragments over the max payload together", only: wsOnly, connect: relRoot, reason: ReasonTransportError,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				half := []byte("4" + strings.Repeat("a", relMaxPayload/2+1))
				c.ws.NetConn().Write(wsClientFrame(false, opText, half, [4]byte{1, 2, 3, 4}))
				c.ws.NetConn().Write(wsClientFrame(true, opContinuation, half[1:], [4]byte{1, 2, 3, 4}))
			}},
		{name: "garbage instead of the probe", only: wsOnly, connect: relRoot,
			run: func(t *testing.T, rs *relServer, c *relClient) { c.relBadProbe(t, websocket.TextMessage, "hello") }},
		{name: "binary frame instead of the probe", only: wsOnly, connect: relRoot,
			run: func(t *testing.T, rs *relServer, c *relClient) { c.relBadProbe(t, websocket.BinaryMessage, "2probe") }},
		{name: "ping with other data than probe", only: wsOnly, connect: relRoot,
			run: func(t *testing.T, rs *relServer, c *relClient) { c.relBadProbe(t, websocket.TextMessage, "2ping") }},
		{name: "oversized probe", only: wsOnly, connect: relRoot,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				c.relBadProbe(t, websocket.TextMessage, "2"+strings.Repeat("p", relMaxPayload))
			}},
		{name: "second WebSocket on an upgraded session", only: wsOnly, connect: relRoot,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				c.relUpgradeFromPolling(t)
				ws, resp, err := c.dialer().Dial(c.wsURL(c.query(TransportWebSocket)), nil)
				if err != nil {
					t.Fatalf("second websocket: %v (%s)", err, relStatus(resp))
				}
				defer ws.Close()
				ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
				ws.SetReadDeadline(time.Now().Add(relWait))
				if _, data, err := ws.ReadMessage(); err == nil {
					t.Fatalf("second websocket got %q; want it closed", data)
				}
			}},
		{name: "WebSocket with an unknown sid", only: wsOnly,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				_, resp, err := c.dialer().Dial(c.wsURL("EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA"), nil)
				if err == nil || resp == nil || resp.StatusCode != 400 {
					t.Fatalf("websocket with an unknown sid: %v (%s); want HTTP 400", err, relStatus(resp))
				}
			}},
		{name: "polling requests on a WebSocket session", only: wsOnly, connect: relRoot,
			run: func(t *testing.T, rs *relServer, c *relClient) {
				for _, m := range []string{http.MethodGet, http.MethodPost} {
					r, err := c.do(m, c.query(TransportPolling), strings.NewReader(`42["echo","x"]`), nil)
					if err != nil {
						t.Fatal(err)
					}
					relExpectHTTPError(t, m+" on a WebSocket session", r, 400, 3, "Bad request")
				}
			}},
	}
}

// relUpgradeFromPolling restarts c as a polling session joined to "/",
// then upgrades it, for cases that need an upgraded session.
func (c *relClient) relUpgradeFromPolling(t *testing.T) {
	t.Helper()
	c.close()
	c.ws = nil
	if err := c.openMode("upgrade"); err != nil {
		t.Fatal(err)
	}
}

// relBadProbe restarts c as a polling session joined to "/", offers a
// WebSocket to upgrade to and sends a bad probe on it: the WebSocket must
// be closed and the session must go on over long-polling.
func (c *relClient) relBadProbe(t *testing.T, mt int, probe string) {
	t.Helper()
	c.close()
	c.ws = nil
	if err := c.openMode("polling"); err != nil {
		t.Fatal(err)
	}
	ws, resp, err := c.dialer().Dial(c.wsURL(c.query(TransportWebSocket)), nil)
	if err != nil {
		t.Fatalf("upgrade websocket: %v (%s)", err, relStatus(resp))
	}
	defer ws.Close()
	ws.WriteMessage(mt, []byte(probe))
	ws.SetReadDeadline(time.Now().Add(relWait))
	if _, data, err := ws.ReadMessage(); err == nil {
		t.Fatalf("after a bad probe the websocket got %q; want it closed", data)
	} else if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("after a bad probe the websocket stayed open")
	}
}

// TestRelBadInput sends every kind of bad input over long-polling and
// WebSocket, each on a session of its own, while three clients connected
// before (polling, websocket, upgraded) keep exchanging messages: after
// every case, each of them must still get its echo.
func TestRelBadInput(t *testing.T) {
	rs := relStart(t, WithMaxPayload(relMaxPayload), WithMaxAttachments(4), WithMaxNamespaces(2),
		WithPingInterval(30*time.Second), WithPingTimeout(30*time.Second))
	rs.ns("/other")
	rs.ns("/third")
	OnAck(rs.srv, "num", func(ctx context.Context, s *Socket, v float64) (float64, error) { return v, nil })
	OnAck(rs.srv, "int", func(ctx context.Context, s *Socket, v int) (int, error) { return v, nil })

	bystanders := map[string]*relClient{}
	for _, mode := range transportModes {
		bystanders[mode] = rs.dial(t, mode)
	}

	var cases []relBadCase
	for _, tc := range relBadCases() {
		for _, tr := range []Transport{TransportPolling, TransportWebSocket} {
			tc := tc
			tc.only = tr
			cases = append(cases, tc)
		}
	}
	cases = append(cases, relSpecialCases()...)

	tried := 0
	for i, tc := range cases {
		t.Run(string(tc.only)+"/"+tc.name, func(t *testing.T) {
			tried++
			relRunBadCase(t, rs, tc)
			for _, mode := range transportModes {
				if err := bystanders[mode].echo("/", fmt.Sprintf(`"after case %d"`, i)); err != nil {
					t.Fatalf("the %s client connected before stopped working: %v", mode, err)
				}
			}
		})
	}
	for mode, c := range bystanders {
		rs.expectOpen(t, c.sid)
		rs.mu.Lock()
		d := rs.disc[c.sid]
		rs.mu.Unlock()
		if len(d) != 0 {
			t.Errorf("%s bystander's socket disconnected: %v", mode, d)
		}
	}
	t.Logf("bad input: %d cases tried (%d over both transports, %d transport-specific); the 3 clients connected before kept working",
		tried, 2*len(relBadCases()), len(relSpecialCases()))
}

func relRunBadCase(t *testing.T, rs *relServer, tc relBadCase) {
	c := rs.client()
	defer c.close()
	if err := c.open(tc.only); err != nil {
		t.Fatal(err)
	}
	for _, nsp := range tc.connect {
		if _, err := c.connect(nsp); err != nil {
			t.Fatal(err)
		}
	}
	if tc.run != nil {
		tc.run(t, rs, c)
	} else {
		r, err := c.send(tc.frames...)
		if c.mode == TransportPolling {
			want := tc.pollStatus
			if want == 0 {
				want = 200
			}
			if err != nil || r.status != want {
				t.Fatalf("POST %v: %d %q, %v; want status %d", tc.frames, r.status, r.body, err, want)
			}
			if want == 400 {
				relExpectHTTPError(t, "POST", r, 400, 3, "Bad request")
			}
		} else if err != nil && tc.reason == "" {
			t.Fatal(err)
		}
	}
	if tc.reason != "" {
		if got := rs.closeReason(t, c.sid); got != tc.reason {
			t.Fatalf("session ended with reason %q; want %q", got, tc.reason)
		}
		if len(tc.connect) > 0 {
			for _, d := range rs.discs(t, c.sid, len(tc.connect)) {
				if d.reason != tc.reason {
					t.Errorf("socket of %s disconnected with reason %q; want %q", d.nsp, d.reason, tc.reason)
				}
			}
		}
		if c.mode == TransportWebSocket {
			if err := c.waitClosed(); err != nil {
				t.Fatal(err)
			}
		} else {
			r, err := c.do(http.MethodGet, c.query(TransportPolling), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.status == 200 {
				// A GET that races the end of the session is told it.
				if r.body != "1" && r.body != "6" {
					t.Fatalf("GET after the session ended: %q; want a close packet or an error", r.body)
				}
			} else {
				relExpectHTTPError(t, "GET after the session ended", r, 400, 1, "Session ID unknown")
			}
		}
		return
	}
	if tc.reply != "" {
		f, err := c.nextMsg()
		if err != nil {
			t.Fatalf("waiting for the answer: %v", err)
		}
		if f.binary || !strings.HasPrefix(f.text, tc.reply) {
			t.Fatalf("answer %v; want it to start with %q", f, tc.reply)
		}
	}
	// The session is fine: it answers, with nothing unexpected first.
	joined := false
	for _, n := range tc.connect {
		joined = joined || n == "/"
	}
	if !joined {
		if _, err := c.connect("/"); err != nil {
			t.Fatalf("after the input: %v", err)
		}
	}
	if err := c.echo("/", `"still here"`); err != nil {
		t.Fatalf("after the input: %v", err)
	}
	rs.expectOpen(t, c.sid)
}

// --- Slow consumers ---

// relDialSlow opens a WebSocket session joined to "/" whose client will
// never read again once this returns, with a small TCP receive buffer so
// that the kernel soaks up little. It returns the session and socket ids.
func relDialSlow(t *testing.T, rs *relServer) (*websocket.Conn, string, string) {
	t.Helper()
	d := &websocket.Dialer{
		HandshakeTimeout: relWait,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(4096)
			}
			return c, err
		},
	}
	c := rs.client()
	ws, resp, err := d.Dial(c.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatalf("slow client: %v (%s)", err, relStatus(resp))
	}
	t.Cleanup(func() { ws.Close() })
	c.ws, c.mode = ws, TransportWebSocket
	f, err := c.next()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.setOpen(f); err != nil {
		t.Fatal(err)
	}
	sock, err := c.connect("/")
	if err != nil {
		t.Fatal(err)
	}
	return ws, c.sid, sock
}

// relBlob returns a fresh string of n bytes, so that each emit holds
// memory of its own, as an application's would.
func relBlob(i, n int) string { return strings.Repeat(string(rune('a'+i%26)), n) }

// TestRelSlowConsumer checks the send queue bound: a client that stops
// reading costs the server at most about twice WithSendQueueLimit (the
// queue, and the batch its writer is stuck on), however much is emitted to
// it; volatile packets to it are dropped; other packets disconnect it with
// ReasonSlowClient once the bound is reached, whether emitted to the socket
// or broadcast to a room.
func TestRelSlowConsumer(t *testing.T) {
	const (
		limit = 256 << 10
		chunk = 64 << 10
	)
	rs := relStart(t, WithSendQueueLimit(limit), WithWriteTimeout(5*time.Minute),
		WithPingInterval(time.Hour), WithPingTimeout(time.Hour))
	fast := rs.dial(t, "websocket")

	t.Run("volatile broadcast drops", func(t *testing.T) {
		_, sid, sockID := relDialSlow(t, rs)
		sock := rs.srv.main.Socket(sockID)
		base := relHeapInuse()
		peak := base
		const n = 2048 // 128 MiB
		for i := range n {
			if err := rs.srv.To(sockID).Volatile().Emit("blob", relBlob(i, chunk)); err != nil {
				t.Fatalf("volatile emit %d: %v", i, err)
			}
			if i%128 == 127 {
				peak = max(peak, relHeapInuse())
			}
			if i%512 == 511 {
				if err := fast.echo("/", strconv.Itoa(i)); err != nil {
					t.Fatalf("fast client during the volatile flood: %v", err)
				}
			}
		}
		if !sock.Connected() {
			t.Fatal("the slow client was disconnected by volatile emits; want them dropped")
		}
		rs.expectOpen(t, sid)
		conn := rs.conn(sid)
		conn.mu.Lock()
		queued := conn.queuedBytes
		conn.mu.Unlock()
		if queued > limit {
			t.Errorf("%d bytes queued; want at most the limit, %d", queued, limit)
		}
		bound := uint64(2*limit + 4<<20)
		t.Logf("volatile: emitted %s to a client that does not read (limit %s): HeapInuse %s before, peak %s (growth %s, bound %s)",
			relMiB(n*chunk), relMiB(limit), relMiB(base), relMiB(peak), relMiB(peak-min(peak, base)), relMiB(bound))
		if peak > base+bound {
			t.Errorf("HeapInuse grew by %s while emitting %s; want under %s (2 x limit + 4 MiB)",
				relMiB(peak-base), relMiB(n*chunk), relMiB(bound))
		}
		// A packet that may not be dropped, and does not fit, ends it.
		if err := sock.Emit("blob", relBlob(0, chunk)); err == nil {
			t.Fatal("non-volatile emit to a full queue succeeded")
		}
		if got := rs.closeReason(t, sid); got != ReasonSlowClient {
			t.Fatalf("close reason %q; want %q", got, ReasonSlowClient)
		}
	})

	t.Run("disconnected at the bound", func(t *testing.T) {
		_, sid, sockID := relDialSlow(t, rs)
		sock := rs.srv.main.Socket(sockID)
		base := relHeapInuse()
		emitted := 0
		var err error
		for err == nil {
			if err = sock.Emit("blob", relBlob(emitted/chunk, chunk)); err == nil {
				emitted += chunk
			}
			if emitted > 1<<30 {
				t.Fatal("1 GiB emitted to a client that does not read, and it is still connected")
			}
		}
		if got := rs.closeReason(t, sid); got != ReasonSlowClient {
			t.Fatalf("close reason %q; want %q", got, ReasonSlowClient)
		}
		if d := rs.discs(t, sid, 1); d[0].reason != ReasonSlowClient {
			t.Fatalf("OnDisconnect reason %q; want %q", d[0].reason, ReasonSlowClient)
		}
		if err := sock.Emit("blob", "x"); !errors.Is(err, ErrClosed) {
			t.Errorf("emit after the disconnection: %v; want ErrClosed", err)
		}
		after := relHeapInuse()
		t.Logf("non-volatile: %s accepted before the slow client was disconnected (limit %s; the rest sat in TCP buffers); HeapInuse %s before, %s after",
			relMiB(uint64(emitted)), relMiB(limit), relMiB(base), relMiB(after))
		if after > base+2*limit+4<<20 {
			t.Errorf("HeapInuse grew by %s; want under 2 x limit + 4 MiB", relMiB(after-base))
		}
	})

	t.Run("room broadcast", func(t *testing.T) {
		// Broadcasts go through the same queue: a volatile one to a
		// full queue is dropped, and the first other one ends the client.
		_, sid, sockID := relDialSlow(t, rs)
		sock := rs.srv.main.Socket(sockID)
		sock.Join("slow")
		conn := rs.conn(sid)
		full := func() bool {
			conn.mu.Lock()
			defer conn.mu.Unlock()
			return conn.queuedBytes+chunk+queueOverhead > limit
		}
		room := rs.srv.To("slow")
		emitted, whileFull := 0, 0
		for whileFull < 64 {
			if full() {
				whileFull++
			}
			if err := room.Volatile().Emit("blob", relBlob(emitted/chunk, chunk)); err != nil {
				t.Fatalf("volatile broadcast: %v", err)
			}
			if emitted += chunk; emitted > 1<<30 {
				t.Fatal("1 GiB broadcast to a client that does not read, and its queue is not full")
			}
		}
		if !sock.Connected() {
			t.Fatal("the slow client was disconnected by volatile broadcasts; want them dropped")
		}
		rs.expectOpen(t, sid)
		n := 0
		for conn.isOpen() {
			if err := room.Emit("blob", relBlob(n, chunk)); err != nil {
				t.Fatalf("broadcast: %v", err)
			}
			if n++; n > 16 {
				t.Fatal("16 broadcasts to a full queue, and the client is still connected")
			}
		}
		if n != 1 {
			t.Errorf("%d broadcasts to a full queue before the client was disconnected; want the first", n)
		}
		if got := rs.closeReason(t, sid); got != ReasonSlowClient {
			t.Fatalf("close reason %q; want %q", got, ReasonSlowClient)
		}
		if d := rs.discs(t, sid, 1); d[0].reason != ReasonSlowClient {
			t.Fatalf("OnDisconnect reason %q; want %q", d[0].reason, ReasonSlowClient)
		}
		if got := len(rs.srv.To("slow").Sockets()); got != 0 {
			t.Errorf("%d sockets left in the room; want none", got)
		}
	})

	t.Run("polling client that stops polling", func(t *testing.T) {
		c := rs.dial(t, "polling")
		sock := rs.srv.main.Sockets()
		var s *Socket
		for _, x := range sock {
			if x.Conn().ID() == c.sid {
				s = x
			}
		}
		emitted := 0
		for s.Emit("blob", relBlob(emitted/chunk, chunk)) == nil {
			emitted += chunk
			if emitted > 64*limit {
				t.Fatal("the queue of a client that does not poll grew past 64 x its limit")
			}
		}
		if got := rs.closeReason(t, c.sid); got != ReasonSlowClient {
			t.Fatalf("close reason %q; want %q", got, ReasonSlowClient)
		}
		if emitted > limit {
			t.Errorf("%d bytes accepted for a client that does not poll; want at most the limit, %d", emitted, limit)
		}
	})

	if err := fast.echo("/", `"end"`); err != nil {
		t.Fatalf("the fast client stopped working: %v", err)
	}
	rs.expectOpen(t, fast.sid)
}

// --- Panicking handlers ---

// TestRelHandlerPanic checks that a panic in any kind of handler is
// recovered and logged with its stack, and ends only the socket it
// happened on: the connection's other socket, and other clients, go on.
func TestRelHandlerPanic(t *testing.T) {
	rs := relStart(t, WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
	rs.ns("/other")
	On(rs.srv, "boom", func(ctx context.Context, s *Socket, v string) { panic("rel-on: " + v) })
	OnAck(rs.srv, "boomack", func(ctx context.Context, s *Socket, v string) (string, error) { panic("rel-onack: " + v) })
	rs.ns("/onconnect").OnConnect(func(ctx context.Context, s *Socket) { panic("rel-onconnect") })
	rs.ns("/middleware").Use(func(ctx context.Context, s *Socket) error { panic("rel-middleware") })
	rs.ns("/eventmw").UseEvent(func(ctx context.Context, s *Socket, event string, args Args) error {
		if event == "boom" {
			panic("rel-eventmw")
		}
		return nil
	})
	rs.ns("/onany").OnAny(func(ctx context.Context, s *Socket, event string, args Args) {
		if event == "boom" {
			panic("rel-onany")
		}
	})
	rs.ns("/ondisconnect").OnDisconnect(func(s *Socket, reason Reason) { panic("rel-ondisconnect") })
	bystander := rs.dial(t, "websocket")

	cases := []struct {
		name  string
		nsp   string // the namespace the panic happens in
		send  string // what triggers it, after the CONNECT to nsp
		want  string // the message the client gets then
		value string // the panic value
		// disc is the reason of nsp's socket's OnDisconnect; empty when
		// the socket never connected or its handler is the one panicking.
		disc Reason
	}{
		{"On", "/", `42["boom","x"]`, `41`, "rel-on: x", ReasonHandlerPanic},
		{"OnAck", "/", `421["boomack","y"]`, `41`, "rel-onack: y", ReasonHandlerPanic},
		{"OnConnect", "/onconnect", "", `41/onconnect,`, "rel-onconnect", ReasonHandlerPanic},
		{"middleware", "/middleware", "", `44/middleware,{"message":"server error"}`, "rel-middleware", ""},
		{"event middleware", "/eventmw", `42/eventmw,["boom"]`, `41/eventmw,`, "rel-eventmw", ReasonHandlerPanic},
		{"OnAny", "/onany", `42/onany,["boom"]`, `41/onany,`, "rel-onany", ReasonHandlerPanic},
		{"OnDisconnect", "/ondisconnect", `41/ondisconnect,`, "", "rel-ondisconnect", ""},
	}
	for i, tc := range cases {
		mode := transportModes[i%len(transportModes)]
		t.Run(tc.name+"/"+mode, func(t *testing.T) {
			c := rs.dial(t, mode)
			if _, err := c.connect("/other"); err != nil {
				t.Fatal(err)
			}
			if tc.nsp != "/" {
				if err := c.sendOK(relText("40" + relNsp(tc.nsp))); err != nil {
					t.Fatal(err)
				}
				if tc.name != "middleware" {
					if f, err := c.nextMsg(); err != nil || !strings.HasPrefix(f.text, "40"+relNsp(tc.nsp)+"{") {
						t.Fatalf("CONNECT %s: %v, %v", tc.nsp, f, err)
					}
				}
			}
			if tc.send != "" {
				if err := c.sendOK(relText(tc.send)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.want != "" {
				if f, err := c.nextMsg(); err != nil || f.text != tc.want {
					t.Fatalf("after the panic the client got %v, %v; want %q", f, err, tc.want)
				}
			}
			relCheckPanicLogged(t, rs.log, tc.value)
			if tc.disc != "" {
				found := false
				for _, d := range rs.discs(t, c.sid, 1) {
					if d.nsp == tc.nsp {
						found = true
						if d.reason != tc.disc {
							t.Errorf("socket of %s disconnected with %q; want %q", d.nsp, d.reason, tc.disc)
						}
					} else {
						t.Errorf("socket of %s disconnected too (%q); want only %s's", d.nsp, d.reason, tc.nsp)
					}
				}
				if !found {
					t.Errorf("no disconnection of the socket of %s", tc.nsp)
				}
			}
			// The connection's other socket works; so does the main
			// namespace unless the panic ended it; so do other clients.
			if err := c.echo("/other", strconv.Quote(tc.name)); err != nil {
				t.Fatalf("the connection's other socket: %v", err)
			}
			if tc.nsp != "/" {
				if err := c.echo("/", strconv.Quote(tc.name)); err != nil {
					t.Fatalf("the connection's main socket: %v", err)
				}
			}
			if err := bystander.echo("/", strconv.Quote(tc.name)); err != nil {
				t.Fatalf("another client: %v", err)
			}
			rs.expectOpen(t, c.sid)
		})
	}
}

// relCheckPanicLogged finds the log record of the recovered panic whose
// value is value: at Error, with a stack that shows the handler's frame.
func relCheckPanicLogged(t *testing.T, log *relLog, value string) {
	t.Helper()
	var line string
	relWaitUntil(t, "the panic "+value+" is logged", func() bool {
		for _, l := range strings.Split(log.String(), "\n") {
			if strings.Contains(l, `"panic":`+strconv.Quote(value)) {
				line = l
				return true
			}
		}
		return false
	})
	var rec struct {
		Level, Msg, Panic, Stack string
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	if rec.Level != "ERROR" || !strings.Contains(rec.Msg, "panic") || !strings.HasPrefix(rec.Stack, "goroutine ") ||
		!strings.Contains(rec.Stack, "reliability_test.go:") || !strings.Contains(rec.Stack, "TestRelHandlerPanic") {
		t.Fatalf("panic log record: level %q, msg %q, stack:\n%s\nwant ERROR, a message about the panic, and a stack through the handler", rec.Level, rec.Msg, rec.Stack)
	}
}

// --- Shutdown ---

// TestRelShutdown checks Server.Shutdown: queued data and then a close
// packet reach every client, server-side handlers see ReasonServerShutdown,
// new sessions are refused, every goroutine ends, and the context bounds
// the wait.
func TestRelShutdown(t *testing.T) {
	// By default every socket is sent a DISCONNECT (socket.io-client
	// reports "io server disconnect" and stays disconnected); with
	// WithDisconnectOnShutdown(false) only the close packet, as Node's
	// io.close() does (the client reconnects).
	for _, notify := range []bool{true, false} {
		t.Run(fmt.Sprintf("clients told after queued data, disconnect=%v", notify), func(t *testing.T) {
			testRelShutdownTold(t, notify)
		})
	}

	t.Run("deadline with a handler that never returns", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		rs := relStart(t, WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
		entered, release := make(chan struct{}, 1), make(chan struct{})
		On(rs.srv, "block", func(ctx context.Context, s *Socket, v int) {
			entered <- struct{}{}
			<-release // ignores ctx: stuck until the test lets it go
		})
		c := rs.dial(t, "websocket")
		if err := c.sendOK(relText(`42["block",1]`)); err != nil {
			t.Fatal(err)
		}
		<-entered
		const deadline = 500 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		err := rs.srv.Shutdown(ctx)
		took := time.Since(start)
		close(release)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v; want context.DeadlineExceeded", err)
		}
		if took < deadline-50*time.Millisecond || took > deadline+5*time.Second {
			t.Errorf("Shutdown returned after %v; want at the %v deadline", took, deadline)
		}
		for _, want := range []string{"41", "1"} { // DISCONNECT, close
			if f, err := c.next(); err != nil || f.text != want {
				t.Errorf("client: got %v, %v; want %q", f, err, want)
			}
		}
		if d := rs.discs(t, c.sid, 1); d[0].reason != ReasonServerShutdown {
			t.Errorf("OnDisconnect reason %q; want %q", d[0].reason, ReasonServerShutdown)
		}
		relWaitUntil(t, "the handler's goroutine ends", func() bool {
			rs.srv.running.mu.Lock()
			defer rs.srv.running.mu.Unlock()
			return rs.srv.running.n == 0
		})
		rs.hs.Close()
		rs.hc.CloseIdleConnections()
		relNoLeaks(t, before)
	})

	t.Run("http.Server wiring", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		var mu sync.Mutex
		reasons := map[string]Reason{}
		srv := New(WithPingInterval(time.Minute), WithPingTimeout(time.Minute), WithLogger(slog.New(slog.DiscardHandler)))
		OnAck(srv, "echo", func(ctx context.Context, s *Socket, v any) (any, error) { return v, nil })
		srv.OnDisconnect(func(s *Socket, r Reason) { mu.Lock(); reasons[s.Conn().ID()] = r; mu.Unlock() })
		mux := http.NewServeMux()
		mux.Handle("/socket.io/", srv)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		httpSrv := &http.Server{Handler: mux}
		served := make(chan error, 1)
		go func() { served <- httpSrv.Serve(ln) }()

		// As the package documentation shows it, and waiting for
		// srv.Shutdown, which http.Server.Shutdown runs in a goroutine of
		// its own and does not wait for.
		ctx, cancel := context.WithTimeout(context.Background(), relWait)
		defer cancel()
		srvDone := make(chan error, 1)
		httpSrv.RegisterOnShutdown(func() { srvDone <- srv.Shutdown(ctx) })

		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		base := "http://" + ln.Addr().String() + "/socket.io/"
		poll := &relClient{base: base, hc: &http.Client{Transport: tr}, wait: relWait}
		ws := &relClient{base: base, hc: poll.hc, wait: relWait}
		if err := poll.openMode("polling"); err != nil {
			t.Fatal(err)
		}
		if err := ws.openMode("websocket"); err != nil {
			t.Fatal(err)
		}
		defer ws.close()
		for _, c := range []*relClient{poll, ws} {
			if err := c.echo("/", `"before"`); err != nil {
				t.Fatal(err)
			}
		}
		pending := make(chan relFrame, 1)
		go func() { f, _ := poll.next(); pending <- f }()
		relWaitUntil(t, "the polling client waits for data", func() bool {
			srv.engine.mu.Lock()
			c := srv.engine.conns[poll.sid]
			srv.engine.mu.Unlock()
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.polling
		})

		if err := httpSrv.Shutdown(ctx); err != nil {
			t.Fatalf("http.Server.Shutdown = %v; want nil", err)
		}
		if err := <-srvDone; err != nil {
			t.Fatalf("Server.Shutdown = %v; want nil", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve = %v; want http.ErrServerClosed", err)
		}
		if f := <-pending; f.text != "41" {
			t.Errorf("waiting GET answered %v; want a DISCONNECT", f)
		}
		// The close packet follows on the same response, or on a next GET
		// that the closed http.Server no longer takes: the DISCONNECT has
		// told the client already.
		if len(poll.in) > 0 && (len(poll.in) > 1 || poll.in[0].text != "1") {
			t.Errorf("polling client: after the DISCONNECT got %v; want only a close packet", poll.in)
		}
		for _, want := range []string{"41", "1"} {
			if f, err := ws.next(); err != nil || f.text != want {
				t.Errorf("websocket client: got %v, %v; want %q", f, err, want)
			}
		}
		mu.Lock()
		for _, sid := range []string{poll.sid, ws.sid} {
			if reasons[sid] != ReasonServerShutdown {
				t.Errorf("session %s: OnDisconnect reason %q; want %q", sid, reasons[sid], ReasonServerShutdown)
			}
		}
		mu.Unlock()
		ws.close()
		tr.CloseIdleConnections()
		relNoLeaks(t, before)
	})
}

// TestRelShutdownRefusesConnect checks that a namespace CONNECT that arrives
// once the server has said goodbye to a connection, but before the
// connection has closed, is refused with a CONNECT_ERROR rather than given
// a socket the shutdown would not tell.
func TestRelShutdownRefusesConnect(t *testing.T) {
	rs := relStart(t, WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
	c := rs.dial(t, "websocket")
	socks := rs.srv.main.Sockets()
	if len(socks) != 1 {
		t.Fatalf("%d sockets; want 1", len(socks))
	}
	socks[0].client.shutdown() // what Engine.Shutdown runs first for each connection
	if f, err := c.nextMsg(); err != nil || f.text != "41" {
		t.Fatalf("got %v, %v; want a DISCONNECT", f, err)
	}
	if err := c.sendOK(relText("40")); err != nil {
		t.Fatal(err)
	}
	if f, err := c.nextMsg(); err != nil || f.text != `44{"message":"Server is shutting down"}` {
		t.Fatalf("CONNECT during the shutdown answered %v, %v; want a CONNECT_ERROR", f, err)
	}
	if n := len(rs.srv.main.Sockets()); n != 0 {
		t.Errorf("%d sockets after the refused CONNECT; want 0", n)
	}
}

// testRelShutdownTold shuts down a server with a client of each transport
// mode connected and events queued for each: every client gets its events,
// then a DISCONNECT when notify is set, then the close packet.
func testRelShutdownTold(t *testing.T, notify bool) {
	before := goleak.IgnoreCurrent()
	rs := relStart(t, WithPingInterval(time.Minute), WithPingTimeout(time.Minute), WithDisconnectOnShutdown(notify))
	clients := map[string]*relClient{}
	for _, mode := range transportModes {
		clients[mode] = rs.dial(t, mode)
	}
	for _, s := range rs.srv.main.Sockets() {
		for i := range 3 {
			s.Emit("queued", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), relWait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rs.srv.Shutdown(ctx) }()
	for mode, c := range clients {
		for i := range 3 {
			if f, err := c.nextMsg(); err != nil || f.text != fmt.Sprintf(`42["queued",%d]`, i) {
				t.Fatalf("%s client: got %v, %v; want queued event %d", mode, f, err, i)
			}
		}
		if notify {
			if f, err := c.next(); err != nil || f.text != "41" {
				t.Fatalf("%s client: got %v, %v; want a DISCONNECT", mode, f, err)
			}
		}
		if f, err := c.next(); err != nil || f.text != "1" {
			t.Fatalf("%s client: got %v, %v; want a close packet", mode, f, err)
		}
		if c.mode == TransportWebSocket {
			if err := c.waitClosed(); err != nil {
				t.Fatalf("%s client: %v", mode, err)
			}
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown = %v; want nil", err)
		}
	case <-time.After(relWait):
		t.Fatal("Shutdown did not return after every client was told")
	}
	for mode, c := range clients {
		if got := rs.closeReason(t, c.sid); got != ReasonServerShutdown {
			t.Errorf("%s session ended with %q; want %q", mode, got, ReasonServerShutdown)
		}
		if d := rs.discs(t, c.sid, 1); d[0].reason != ReasonServerShutdown {
			t.Errorf("%s socket: OnDisconnect reason %q; want %q", mode, d[0].reason, ReasonServerShutdown)
		}
	}
	c := rs.client()
	r, err := c.do(http.MethodGet, "EIO=4&transport=polling", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	relExpectHTTPError(t, "polling handshake after Shutdown", r, 403, 4, "Server is shutting down")
	if _, resp, err := c.dialer().Dial(c.wsURL("EIO=4&transport=websocket"), nil); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("websocket handshake after Shutdown: %v (%s); want 403", err, relStatus(resp))
	}
	rs.hs.Close()
	rs.hc.CloseIdleConnections()
	relNoLeaks(t, before)
}

// --- Limits ---

// TestRelLimitDefaults checks that every limit is an option whose
// documentation states its default, that the default is what it states,
// and that a value out of range is refused.
func TestRelLimitDefaults(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "options.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Doc != nil {
			docs[fd.Name.Name] = strings.Join(strings.Fields(fd.Doc.Text()), " ")
		}
	}
	c := defaultConfig()
	for _, l := range []struct {
		option, doc string
		got, want   any
		bad         Option
	}{
		{"WithMaxPayload", "Default 1,000,000.", c.maxPayload, 1_000_000, WithMaxPayload(1023)},
		{"WithSendQueueLimit", "Default 8 MiB.", c.sendQueueLimit, 8 << 20, WithSendQueueLimit(1023)},
		{"WithMaxAttachments", "Default 64.", c.maxAttachments, 64, WithMaxAttachments(-1)},
		{"WithMaxPendingEvents", "Default 256.", c.maxPendingEvents, 256, WithMaxPendingEvents(0)},
		{"WithMaxNamespaces", "Default 64.", c.maxNamespaces, 64, WithMaxNamespaces(0)},
		{"WithMaxPendingAcks", "Default 1024.", c.maxPendingAcks, 1024, WithMaxPendingAcks(0)},
		{"WithMaxConcurrentHandshakes", "Default 1024.", c.maxHandshakes, 1024, WithMaxConcurrentHandshakes(0)},
		{"WithWriteTimeout", "Default 10s.", c.writeTimeout, 10 * time.Second, WithWriteTimeout(0)},
		{"WithPingInterval", "Default 25s.", c.pingInterval, 25 * time.Second, WithPingInterval(0)},
		{"WithPingTimeout", "Default 20s.", c.pingTimeout, 20 * time.Second, WithPingTimeout(-time.Second)},
		{"WithUpgradeTimeout", "Default 10s.", c.upgradeTimeout, 10 * time.Second, WithUpgradeTimeout(0)},
		{"WithConnectTimeout", "Default 45s.", c.connectTimeout, 45 * time.Second, WithConnectTimeout(0)},
	} {
		doc, ok := docs[l.option]
		if !ok {
			t.Errorf("%s: no such documented option", l.option)
			continue
		}
		if !strings.Contains(doc, l.doc) {
			t.Errorf("%s: documentation does not say %q:\n%s", l.option, l.doc, doc)
		}
		if l.got != l.want {
			t.Errorf("%s: default %v; want %v", l.option, l.got, l.want)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: New accepted an out-of-range value", l.option)
				}
			}()
			New(l.bad)
		}()
	}
}

// TestRelMaxConcurrentHandshakes checks WithMaxConcurrentHandshakes: with
// its handshakes stuck in a slow WithAllowRequest hook, a server refuses
// more with HTTP 503 on both transports, without calling the hook, while
// open sessions go on; once the hook returns, the slots are free again.
func TestRelMaxConcurrentHandshakes(t *testing.T) {
	entered, release := make(chan struct{}, 2), make(chan struct{})
	var hookCalls relCounter
	rs := relStart(t, WithMaxConcurrentHandshakes(2), WithAllowRequest(func(r *http.Request) error {
		hookCalls.add()
		if r.URL.Query().Get("slow") != "" {
			entered <- struct{}{}
			<-release
		}
		if r.URL.Query().Get("deny") != "" {
			return errors.New("denied")
		}
		return nil
	}))
	open := rs.dial(t, "polling")

	c := rs.client()
	slowPoll := make(chan relResp, 1)
	go func() {
		r, err := c.do(http.MethodGet, "EIO=4&transport=polling&slow=1", nil, nil)
		if err != nil {
			r.body = err.Error()
		}
		slowPoll <- r
	}()
	slowWS := make(chan error, 1)
	go func() {
		ws, resp, err := c.dialer().Dial(c.wsURL("EIO=4&transport=websocket&slow=1"), nil)
		if err == nil {
			ws.SetReadDeadline(time.Now().Add(relWait))
			_, data, rerr := ws.ReadMessage()
			if rerr == nil && !bytes.HasPrefix(data, []byte("0{")) {
				rerr = fmt.Errorf("first frame %q", data)
			}
			err = rerr
			ws.Close()
		} else {
			err = fmt.Errorf("%v (%s)", err, relStatus(resp))
		}
		slowWS <- err
	}()
	<-entered
	<-entered
	calls := hookCalls.get()

	r, err := c.do(http.MethodGet, "EIO=4&transport=polling", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	relExpectHTTPError(t, "polling handshake beyond the limit", r, 503, 6, "Too many concurrent handshakes")
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q; want 1", got)
	}
	_, resp, err := c.dialer().Dial(c.wsURL("EIO=4&transport=websocket"), nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("websocket handshake beyond the limit: %v (%s); want 503", err, relStatus(resp))
	}
	if got := hookCalls.get(); got != calls {
		t.Errorf("the hook was called %d more times for refused handshakes; want 0", got-calls)
	}
	if err := open.echo("/", `"open sessions are not counted"`); err != nil {
		t.Fatal(err)
	}

	close(release)
	if r := <-slowPoll; r.status != 200 || !strings.HasPrefix(r.body, "0{") {
		t.Fatalf("slow polling handshake: %d %q; want an open packet", r.status, r.body)
	}
	if err := <-slowWS; err != nil {
		t.Fatalf("slow websocket handshake: %v", err)
	}
	// Every way out of a handshake gives its slot back.
	for range 5 {
		r, err := c.do(http.MethodGet, "EIO=4&transport=polling&deny=1", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		relExpectHTTPError(t, "denied handshake", r, 403, 4, "denied")
	}
	for _, mode := range transportModes {
		rs.dial(t, mode)
	}
	// A handshake gives its slot back as its handler returns, which may
	// be a moment after the client has connected.
	relWaitUntil(t, "every handshake slot given back", func() bool { return rs.srv.engine.handshakes.Load() == 0 })
}

// relCounter is a counter safe for concurrent use.
type relCounter struct {
	mu sync.Mutex
	n  int
}

func (c *relCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *relCounter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestRelPendingAcks checks WithMaxPendingAcks: beyond it EmitWithAck
// fails at once with ErrTooManyAcks, and an answer frees a slot.
func TestRelPendingAcks(t *testing.T) {
	rs := relStart(t, WithMaxPendingAcks(2), WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
	c := rs.dial(t, "websocket")
	sock := rs.srv.main.Sockets()[0]
	ctx, cancel := context.WithTimeout(context.Background(), relWait)
	defer cancel()
	results := make(chan error, 3)
	for range 2 {
		go func() { _, err := sock.EmitWithAck(ctx, "ask"); results <- err }()
	}
	var ids []string
	for range 2 {
		f, err := c.nextMsg()
		if err != nil {
			t.Fatal(err)
		}
		id, ok := strings.CutSuffix(strings.TrimPrefix(f.text, "42"), `["ask"]`)
		if !ok {
			t.Fatalf("got %v; want an ask with an ack id", f)
		}
		ids = append(ids, id)
	}
	if _, err := sock.EmitWithAck(ctx, "ask"); !errors.Is(err, ErrTooManyAcks) {
		t.Fatalf("third EmitWithAck = %v; want ErrTooManyAcks", err)
	}
	if err := c.sendOK(relText("43" + ids[0] + `["ok"]`)); err != nil {
		t.Fatal(err)
	}
	if err := <-results; err != nil {
		t.Fatalf("answered EmitWithAck = %v", err)
	}
	go func() { _, err := sock.EmitWithAck(ctx, "ask"); results <- err }()
	f, err := c.nextMsg()
	if err != nil || !strings.HasSuffix(f.text, `["ask"]`) {
		t.Fatalf("after an answer, EmitWithAck sent %v, %v; want an ask", f, err)
	}
	cancel()
	for range 2 {
		if err := <-results; !errors.Is(err, context.Canceled) {
			t.Errorf("unanswered EmitWithAck = %v; want context.Canceled", err)
		}
	}
}

// TestRelPendingEvents checks WithMaxPendingEvents: when a socket's
// handler is stuck, the server stops reading from the client once the
// bound is reached (its other namespace waits too), and nothing is lost
// or reordered when the handler resumes.
func TestRelPendingEvents(t *testing.T) {
	rs := relStart(t, WithMaxPendingEvents(2), WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
	rs.ns("/other")
	release := make(chan struct{})
	var mu sync.Mutex
	var got []int
	On(rs.srv, "slow", func(ctx context.Context, s *Socket, v int) {
		<-release
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
	})
	c := rs.dial(t, "websocket")
	if _, err := c.connect("/other"); err != nil {
		t.Fatal(err)
	}
	const n = 6
	for i := range n {
		if err := c.sendOK(relText(fmt.Sprintf(`42["slow",%d]`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.sendOK(relText(`42/other,0["echo",1]`)); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		f, err := c.nextMsg()
		if err == nil && f.text != `43/other,0[1]` {
			err = fmt.Errorf("got %v", f)
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("the other namespace answered (%v) while the reader should be paused", err)
	case <-time.After(300 * time.Millisecond):
	}
	sock := rs.srv.main.Sockets()[0]
	if w := len(sock.exec.slots); w != 2 {
		t.Errorf("%d events waiting; want the bound, 2", w)
	}
	close(release)
	if err := <-answered; err != nil {
		t.Fatalf("the other namespace after the handler resumed: %v", err)
	}
	relWaitUntil(t, "every event is handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == n })
	for i, v := range got {
		if v != i {
			t.Fatalf("events handled in order %v; want 0..%d", got, n-1)
		}
	}
}

// TestRelConnectTimeout checks WithConnectTimeout: a session that joins no
// namespace in time is closed, on either transport, and a client that
// joined one is not.
func TestRelConnectTimeout(t *testing.T) {
	rs := relStart(t, WithConnectTimeout(300*time.Millisecond), WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
	idlePoll, idleWS := rs.client(), rs.client()
	if err := idlePoll.open(TransportPolling); err != nil {
		t.Fatal(err)
	}
	if err := idleWS.open(TransportWebSocket); err != nil {
		t.Fatal(err)
	}
	defer idleWS.close()
	joined := rs.dial(t, "websocket")
	for _, c := range []*relClient{idlePoll, idleWS} {
		if got := rs.closeReason(t, c.sid); got != ReasonForcedClose {
			t.Errorf("%s session without a namespace: closed with %q; want %q", c.mode, got, ReasonForcedClose)
		}
	}
	if f, err := idlePoll.next(); err == nil && f.text != "1" {
		t.Errorf("polling client: got %v; want a close packet or an error", f)
	}
	if err := idleWS.waitClosed(); err != nil {
		t.Error(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := joined.echo("/", `"joined in time"`); err != nil {
		t.Fatal(err)
	}
	rs.expectOpen(t, joined.sid)
}

// TestRelWriteTimeout checks WithWriteTimeout: a WebSocket write that a
// client does not take in time ends the session with
// ReasonTransportError, even below the send queue limit.
func TestRelWriteTimeout(t *testing.T) {
	rs := relStart(t, WithWriteTimeout(300*time.Millisecond), WithSendQueueLimit(256<<20),
		WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
	_, sid, sockID := relDialSlow(t, rs)
	sock := rs.srv.main.Socket(sockID)
	for i := 0; i < 1024 && sock.Emit("blob", relBlob(i, 64<<10)) == nil; i++ {
	}
	if got := rs.closeReason(t, sid); got != ReasonTransportError {
		t.Fatalf("close reason %q; want %q", got, ReasonTransportError)
	}
	if d := rs.discs(t, sid, 1); d[0].reason != ReasonTransportError {
		t.Errorf("OnDisconnect reason %q; want %q", d[0].reason, ReasonTransportError)
	}
}
