package sio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// End-to-end tests of the Engine.IO layer: an echo Engine behind
// httptest.Server, driven by a raw long-polling client (net/http) and a raw
// WebSocket client (gorilla/websocket), as the official conformance suite
// drives a server.

// eioWait bounds every wait for something that should happen promptly. It
// is generous: the machine running the tests may be slow and shared.
const eioWait = 10 * time.Second

// eioQuiet keeps heartbeats out of the way of tests that check exact
// payloads.
var eioQuiet = []Option{WithPingInterval(10 * time.Second), WithPingTimeout(10 * time.Second)}

// eioSetup describes a test server.
type eioSetup struct {
	opts []Option
	// onConn, if set, runs in the connection handler after the echo
	// handler and the close recorder are installed.
	onConn func(*Conn)
	// http, if set, adjusts the http.Server before it starts.
	http func(*http.Server)
}

// eioTestServer is an echo Engine served by an httptest.Server. It records
// every session and the reason each one ended.
type eioTestServer struct {
	eng    *Engine
	srv    *httptest.Server
	client *http.Client

	mu     sync.Mutex
	conns  map[string]*Conn
	closed map[string]chan Reason
}

func newEIOServer(t *testing.T, opts ...Option) *eioTestServer {
	t.Helper()
	return startEIOServer(t, eioSetup{opts: opts})
}

func startEIOServer(t *testing.T, setup eioSetup) *eioTestServer {
	t.Helper()
	s := &eioTestServer{conns: make(map[string]*Conn), closed: make(map[string]chan Reason)}
	s.eng = NewEngine(func(c *Conn) {
		ch := make(chan Reason, 1)
		s.mu.Lock()
		s.conns[c.ID()] = c
		s.closed[c.ID()] = ch
		s.mu.Unlock()
		c.OnMessage(func(m Message) { c.Send(m) })
		c.OnClose(func(r Reason) { ch <- r })
		if setup.onConn != nil {
			setup.onConn(c)
		}
	}, setup.opts...)
	s.srv = httptest.NewUnstartedServer(s.eng)
	if setup.http != nil {
		setup.http(s.srv.Config)
	}
	s.srv.Start()
	s.client = s.srv.Client()
	// Cleanups run last-in first-out: the engine releases its long polls
	// and WebSockets first, then the HTTP server waits for its requests.
	t.Cleanup(s.srv.Close)
	t.Cleanup(func() { s.eng.Close() })
	return s
}

func (s *eioTestServer) url(query string) string {
	return s.srv.URL + "/engine.io/?" + query
}

func (s *eioTestServer) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/engine.io/?" + query
}

// conn returns the server side of session sid, waiting for the connection
// handler to have run: the client may read the open packet just before.
func (s *eioTestServer) conn(t *testing.T, sid string) *Conn {
	t.Helper()
	deadline := time.Now().Add(eioWait)
	for {
		s.mu.Lock()
		c := s.conns[sid]
		s.mu.Unlock()
		if c != nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection handler call for session %q within %v", sid, eioWait)
		}
		time.Sleep(time.Millisecond)
	}
}

// closeReason waits for session sid to end and returns the reason its close
// handler got.
func (s *eioTestServer) closeReason(t *testing.T, sid string) Reason {
	t.Helper()
	s.conn(t, sid) // the handler has run, and recorded the channel
	s.mu.Lock()
	ch := s.closed[sid]
	s.mu.Unlock()
	if ch == nil {
		t.Fatalf("no connection handler call for session %q", sid)
	}
	select {
	case r := <-ch:
		ch <- r // keep it for a later call
		return r
	case <-time.After(eioWait):
		t.Fatalf("session %q: close handler not called within %v", sid, eioWait)
		return ""
	}
}

// expectOpen fails if session sid has ended.
func (s *eioTestServer) expectOpen(t *testing.T, sid string) {
	t.Helper()
	s.mu.Lock()
	ch := s.closed[sid]
	s.mu.Unlock()
	select {
	case r := <-ch:
		ch <- r
		t.Fatalf("session %q ended with reason %q; want it still open", sid, r)
	default:
	}
	if c := s.conn(t, sid); !c.isOpen() {
		t.Fatalf("session %q is not open; want it still open", sid)
	}
}

// eioResp is a finished HTTP response.
type eioResp struct {
	status int
	header http.Header
	body   string
}

// request does one HTTP request and reads its whole answer. It does not
// touch t, so that it can run in any goroutine.
func (s *eioTestServer) request(ctx context.Context, method, query string, body io.Reader, header http.Header) (eioResp, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url(query), body)
	if err != nil {
		return eioResp{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return eioResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return eioResp{}, fmt.Errorf("%s %s: reading the body: %w", method, query, err)
	}
	return eioResp{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

func (s *eioTestServer) mustRequest(t *testing.T, method, query, body string, header http.Header) eioResp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eioWait)
	defer cancel()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp, err := s.request(ctx, method, query, r, header)
	if err != nil {
		t.Fatalf("%s ?%s: %v", method, query, err)
	}
	return resp
}

func pollQuery(sid string) string { return "EIO=4&transport=polling&sid=" + sid }

// get does one long-polling GET.
func (s *eioTestServer) get(t *testing.T, sid string) eioResp {
	t.Helper()
	return s.mustRequest(t, http.MethodGet, pollQuery(sid), "", nil)
}

// post does one long-polling POST.
func (s *eioTestServer) post(t *testing.T, sid, body string) eioResp {
	t.Helper()
	return s.mustRequest(t, http.MethodPost, pollQuery(sid), body, nil)
}

// goGet starts a long-polling GET in a goroutine; the channel gets its
// result. The caller must receive from it before the test ends.
func (s *eioTestServer) goGet(ctx context.Context, sid string) <-chan eioResult {
	ch := make(chan eioResult, 1)
	go func() {
		r, err := s.request(ctx, http.MethodGet, pollQuery(sid), nil, nil)
		ch <- eioResult{r, err, time.Now()}
	}()
	return ch
}

type eioResult struct {
	resp eioResp
	err  error
	at   time.Time
}

func awaitResult(t *testing.T, what string, ch <-chan eioResult) eioResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r
	case <-time.After(eioWait):
		t.Fatalf("%s: no answer within %v", what, eioWait)
		return eioResult{}
	}
}

// expectResp fails unless r has the wanted status and, if body is not
// empty, body.
func expectResp(t *testing.T, what string, r eioResp, status int, body string) {
	t.Helper()
	if r.status != status || (body != "" && r.body != body) {
		t.Fatalf("%s: got %d %q; want %d %q", what, r.status, r.body, status, body)
	}
}

// openPolling opens a long-polling session and returns its id, the fields
// of its open packet and any packet that came after it in the same payload.
func (s *eioTestServer) openPolling(t *testing.T) (string, map[string]json.RawMessage, []packet) {
	t.Helper()
	r := s.mustRequest(t, http.MethodGet, "EIO=4&transport=polling", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("polling handshake: got %d %q; want 200", r.status, r.body)
	}
	packets, err := decodePayload([]byte(r.body))
	if err != nil || packets[0].typ != packetOpen {
		t.Fatalf("polling handshake: body %q (%v); want an open packet first", r.body, err)
	}
	open := parseOpen(t, packets[0].data)
	return eioSID(t, open), open, packets[1:]
}

func parseOpen(t *testing.T, data []byte) map[string]json.RawMessage {
	t.Helper()
	var open map[string]json.RawMessage
	if err := json.Unmarshal(data, &open); err != nil {
		t.Fatalf("open packet data %q: %v", data, err)
	}
	return open
}

func eioSID(t *testing.T, open map[string]json.RawMessage) string {
	t.Helper()
	var sid string
	if err := json.Unmarshal(open["sid"], &sid); err != nil || sid == "" {
		t.Fatalf("open packet sid = %s (%v); want a non-empty string", open["sid"], err)
	}
	return sid
}

// dialWS opens a WebSocket; the caller owns the connection, which the test's
// cleanup closes too.
func (s *eioTestServer) dialWS(t *testing.T, query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: eioWait}
	ws, resp, err := d.Dial(s.wsURL(query), header)
	if ws != nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

// openWS opens a session over WebSocket and returns the socket, the session
// id and the fields of the open packet.
func (s *eioTestServer) openWS(t *testing.T) (*websocket.Conn, string, map[string]json.RawMessage) {
	t.Helper()
	ws, _, err := s.dialWS(t, "EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatalf("websocket handshake: %v", err)
	}
	mt, data := readWS(t, ws)
	if mt != websocket.TextMessage || !strings.HasPrefix(data, "0") {
		t.Fatalf("first websocket frame: type %d %q; want a text open packet", mt, data)
	}
	open := parseOpen(t, []byte(data[1:]))
	return ws, eioSID(t, open), open
}

// readWS reads one frame.
func readWS(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(eioWait))
	mt, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("reading a websocket frame: %v", err)
	}
	return mt, string(data)
}

func writeWS(t *testing.T, ws *websocket.Conn, mt int, data string) {
	t.Helper()
	ws.SetWriteDeadline(time.Now().Add(eioWait))
	if err := ws.WriteMessage(mt, []byte(data)); err != nil {
		t.Fatalf("writing websocket frame %q: %v", data, err)
	}
}

// expectWSClosed reads until the server ends the connection and returns the
// frames that came before the end, and the error that ended it.
func expectWSClosed(t *testing.T, ws *websocket.Conn) ([]string, error) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(eioWait))
	var frames []string
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("websocket not closed by the server within %v (frames before: %q)", eioWait, frames)
			}
			return frames, err
		}
		frames = append(frames, string(data))
	}
}

// waitUntil polls cond until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eioWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", eioWait, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// connFlag reads one of c's fields under its lock.
func connFlag(c *Conn, f func(*Conn) bool) func() bool {
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return f(c)
	}
}

func isPolling(c *Conn) bool { return c.polling }
func isPosting(c *Conn) bool { return c.posting }

// expectHTTPError checks an error answer: status, JSON content type, and a
// body of exactly {"code":code,"message":message}.
func expectHTTPError(t *testing.T, what string, r eioResp, status, code int, message string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d (body %q); want %d", what, r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q; want application/json", what, ct)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("%s: body %q is not a JSON object: %v", what, r.body, err)
	}
	if keys := slices.Sorted(maps.Keys(body)); !slices.Equal(keys, []string{"code", "message"}) {
		t.Errorf("%s: body %q has keys %q; want exactly code and message", what, r.body, keys)
	}
	var gotCode int
	var gotMessage string
	json.Unmarshal(body["code"], &gotCode)
	json.Unmarshal(body["message"], &gotMessage)
	if gotCode != code || gotMessage != message {
		t.Errorf("%s: body %q; want code %d, message %q", what, r.body, code, message)
	}
}

// --- Handshake ---

var sidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)

func TestEngineHandshake(t *testing.T) {
	tests := []struct {
		name         string
		opts         []Option
		ws           bool
		wantUpgrades string // raw JSON
	}{
		{name: "polling", wantUpgrades: `["websocket"]`},
		{name: "websocket", ws: true, wantUpgrades: `[]`},
		{name: "polling with upgrades off", opts: []Option{WithAllowUpgrades(false)}, wantUpgrades: `[]`},
		{name: "polling only", opts: []Option{WithTransports(TransportPolling)}, wantUpgrades: `[]`},
		{name: "websocket only", opts: []Option{WithTransports(TransportWebSocket)}, ws: true, wantUpgrades: `[]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{
				WithPingInterval(300 * time.Millisecond), WithPingTimeout(200 * time.Millisecond), WithMaxPayload(1_000_000),
			}, tc.opts...)
			s := newEIOServer(t, opts...)
			var open map[string]json.RawMessage
			if tc.ws {
				_, _, open = s.openWS(t)
			} else {
				_, open, _ = s.openPolling(t)
			}
			keys := slices.Sorted(maps.Keys(open))
			if want := []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}; !slices.Equal(keys, want) {
				t.Errorf("open packet keys = %q; want exactly %q", keys, want)
			}
			sid := eioSID(t, open)
			if !sidPattern.MatchString(sid) {
				t.Errorf("sid = %q; want 20 characters of URL-safe base64", sid)
			}
			for key, want := range map[string]string{
				"upgrades": tc.wantUpgrades, "pingInterval": "300", "pingTimeout": "200", "maxPayload": "1000000",
			} {
				if got := string(open[key]); got != want {
					t.Errorf("open packet %s = %s; want %s", key, got, want)
				}
			}
		})
	}

	t.Run("session ids are unique", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		seen := make(map[string]bool)
		for i := range 20 {
			var sid string
			if i%2 == 0 {
				sid, _, _ = s.openPolling(t)
			} else {
				ws, id, _ := s.openWS(t)
				ws.Close()
				sid = id
			}
			if !sidPattern.MatchString(sid) {
				t.Errorf("handshake %d: sid %q; want 20 characters of URL-safe base64", i, sid)
			}
			if seen[sid] {
				t.Fatalf("handshake %d: sid %q was already given out", i, sid)
			}
			seen[sid] = true
		}
	})
}

func TestEnginePollingHeaders(t *testing.T) {
	s := newEIOServer(t, eioQuiet...)
	r := s.mustRequest(t, http.MethodGet, "EIO=4&transport=polling", "", nil)
	checkPollHeaders := func(what string, r eioResp, contentType string) {
		t.Helper()
		if got := r.header.Get("Content-Type"); got != contentType {
			t.Errorf("%s: Content-Type %q; want %q", what, got, contentType)
		}
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q; want no-store", what, got)
		}
		if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(r.body)) {
			t.Errorf("%s: Content-Length %q; want %d", what, got, len(r.body))
		}
	}
	expectResp(t, "handshake GET", r, http.StatusOK, "")
	checkPollHeaders("handshake GET", r, "text/plain; charset=UTF-8")
	packets, err := decodePayload([]byte(r.body))
	if err != nil || len(packets) != 1 {
		t.Fatalf("handshake body %q: %v; want a single open packet", r.body, err)
	}
	sid := eioSID(t, parseOpen(t, packets[0].data))

	r = s.post(t, sid, "4héllo")
	expectResp(t, "POST", r, http.StatusOK, "ok")
	if got := r.header.Get("Content-Type"); got != "text/html" {
		t.Errorf("POST: Content-Type %q; want text/html", got)
	}

	r = s.get(t, sid)
	expectResp(t, "GET", r, http.StatusOK, "4héllo")
	checkPollHeaders("GET", r, "text/plain; charset=UTF-8")
	if r.header.Get("Set-Cookie") != "" {
		t.Errorf("GET: Set-Cookie %q without WithCookie; want none", r.header.Get("Set-Cookie"))
	}
}

// --- HTTP errors ---

func TestEngineHTTPErrors(t *testing.T) {
	refuse := errors.New("no entry for you")
	tests := []struct {
		name        string
		opts        []Option
		method      string
		query       string // "SID" is replaced by a live session's id
		wantStatus  int
		wantCode    int
		wantMessage string
	}{
		{name: "missing EIO", query: "transport=polling", wantStatus: 400, wantCode: 5, wantMessage: "Unsupported protocol version"},
		{name: "EIO=3", query: "EIO=3&transport=polling", wantStatus: 400, wantCode: 5, wantMessage: "Unsupported protocol version"},
		{name: "EIO=abc", query: "EIO=abc&transport=polling", wantStatus: 400, wantCode: 5, wantMessage: "Unsupported protocol version"},
		{name: "missing transport", query: "EIO=4", wantStatus: 400, wantCode: 0, wantMessage: "Transport unknown"},
		{name: "bad transport", query: "EIO=4&transport=tobi", wantStatus: 400, wantCode: 0, wantMessage: "Transport unknown"},
		{name: "unknown sid GET", query: "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA", wantStatus: 400, wantCode: 1, wantMessage: "Session ID unknown"},
		{name: "unknown sid POST", method: http.MethodPost, query: "EIO=4&transport=polling&sid=nope", wantStatus: 400, wantCode: 1, wantMessage: "Session ID unknown"},
		{name: "POST handshake", method: http.MethodPost, query: "EIO=4&transport=polling", wantStatus: 400, wantCode: 2, wantMessage: "Bad handshake method"},
		{name: "PUT handshake", method: http.MethodPut, query: "EIO=4&transport=polling", wantStatus: 400, wantCode: 2, wantMessage: "Bad handshake method"},
		{name: "PUT on a session", method: http.MethodPut, query: "EIO=4&transport=polling&sid=SID", wantStatus: 400, wantCode: 3, wantMessage: "Bad request"},
		{name: "websocket transport without upgrade", query: "EIO=4&transport=websocket", wantStatus: 400, wantCode: 3, wantMessage: "Bad request"},
		{name: "websocket disabled", opts: []Option{WithTransports(TransportPolling)}, query: "EIO=4&transport=websocket", wantStatus: 400, wantCode: 0, wantMessage: "Transport unknown"},
		{name: "polling disabled", opts: []Option{WithTransports(TransportWebSocket)}, query: "EIO=4&transport=polling", wantStatus: 400, wantCode: 0, wantMessage: "Transport unknown"},
		{name: "allowRequest refuses", opts: []Option{WithAllowRequest(func(*http.Request) error { return refuse })}, query: "EIO=4&transport=polling", wantStatus: 403, wantCode: 4, wantMessage: refuse.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newEIOServer(t, append(slices.Clone(eioQuiet), tc.opts...)...)
			query := tc.query
			if strings.Contains(query, "SID") {
				sid, _, _ := s.openPolling(t)
				query = strings.Replace(query, "SID", sid, 1)
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			r := s.mustRequest(t, method, query, "", nil)
			expectHTTPError(t, method+" ?"+query, r, tc.wantStatus, tc.wantCode, tc.wantMessage)
		})
	}
}

func TestEngineWebSocketHandshakeRefused(t *testing.T) {
	tests := []struct {
		name       string
		opts       []Option
		query      string
		wantStatus int
	}{
		{name: "missing EIO", query: "transport=websocket", wantStatus: 400},
		{name: "bad EIO", query: "EIO=abc&transport=websocket", wantStatus: 400},
		{name: "EIO=3", query: "EIO=3&transport=websocket", wantStatus: 400},
		{name: "missing transport", query: "EIO=4", wantStatus: 400},
		{name: "bad transport", query: "EIO=4&transport=abc", wantStatus: 400},
		{name: "unknown sid", query: "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA", wantStatus: 400},
		{name: "websocket disabled", opts: []Option{WithTransports(TransportPolling)}, query: "EIO=4&transport=websocket", wantStatus: 400},
		{name: "allowRequest refuses", opts: []Option{WithAllowRequest(func(*http.Request) error { return errors.New("no") })}, query: "EIO=4&transport=websocket", wantStatus: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newEIOServer(t, append(slices.Clone(eioQuiet), tc.opts...)...)
			_, resp, err := s.dialWS(t, tc.query, nil)
			if !errors.Is(err, websocket.ErrBadHandshake) {
				t.Fatalf("dial ?%s: error %v; want a refused handshake", tc.query, err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("dial ?%s: status %d; want %d", tc.query, resp.StatusCode, tc.wantStatus)
			}
		})
	}
}

// --- Long-polling ---

func TestEnginePolling(t *testing.T) {
	t.Run("several packets echoed in one payload", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		expectResp(t, "POST", s.post(t, sid, "4test1\x1e4test2\x1e4test3"), 200, "ok")
		expectResp(t, "GET", s.get(t, sid), 200, "4test1\x1e4test2\x1e4test3")
	})

	t.Run("binary echoed as base64", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		expectResp(t, "POST", s.post(t, sid, "4hello\x1ebAQIDBA==\x1eb"), 200, "ok")
		expectResp(t, "GET", s.get(t, sid), 200, "4hello\x1ebAQIDBA==\x1eb")
	})

	t.Run("multi-byte UTF-8 round trip", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		payload := "4héllo wörld\x1e4✓ 🎉\x1e4日本語テキスト"
		expectResp(t, "POST", s.post(t, sid, payload), 200, "ok")
		r := s.get(t, sid)
		expectResp(t, "GET", r, 200, payload)
		if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(len(payload)) {
			t.Errorf("GET Content-Length %s; want %d, the length in bytes", cl, len(payload))
		}
	})

	t.Run("many packets in order", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		c := s.conn(t, sid)
		const n = 2000
		big := strings.Repeat("x", 100_000)
		for i := range n {
			data := strconv.Itoa(i)
			if i == n/2 {
				data += big
			}
			if err := c.Send(Message{Data: []byte(data)}); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		var got []string
		for len(got) < n {
			r := s.get(t, sid)
			expectResp(t, "GET", r, 200, "")
			packets, err := decodePayload([]byte(r.body))
			if err != nil {
				t.Fatalf("GET body does not decode: %v", err)
			}
			for _, p := range packets {
				got = append(got, string(p.data))
			}
		}
		for i, m := range got {
			want := strconv.Itoa(i)
			if i == n/2 {
				want += big
			}
			if m != want {
				t.Fatalf("message %d = %.20q (len %d); want %.20q (len %d)", i, m, len(m), want, len(want))
			}
		}
	})

	t.Run("second concurrent GET", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		first := s.goGet(context.Background(), sid)
		waitUntil(t, "the first GET waits", connFlag(s.conn(t, sid), isPolling))
		r := s.get(t, sid)
		if r.status != 400 && r.status != 500 {
			t.Errorf("second GET: got %d %q; want 400 or 500", r.status, r.body)
		}
		expectResp(t, "first GET", awaitResult(t, "first GET", first).resp, 200, "1")
		expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
		if got := s.closeReason(t, sid); got != ReasonTransportError {
			t.Errorf("close reason %q; want %q", got, ReasonTransportError)
		}
	})

	t.Run("aborted GET closes the session", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pending := s.goGet(ctx, sid)
		waitUntil(t, "the GET waits", connFlag(s.conn(t, sid), isPolling))
		cancel()
		if r := <-pending; r.err == nil {
			t.Errorf("aborted GET: got %d %q; want it aborted", r.resp.status, r.resp.body)
		}
		if got := s.closeReason(t, sid); got != ReasonTransportClose {
			t.Errorf("close reason %q; want %q", got, ReasonTransportClose)
		}
		expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
	})

	t.Run("overlapping POSTs", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		pr, pw := io.Pipe()
		slow := make(chan eioResult, 1)
		go func() {
			r, err := s.request(context.Background(), http.MethodPost, pollQuery(sid), pr, nil)
			slow <- eioResult{r, err, time.Now()}
		}()
		pw.Write([]byte("4par")) // returns once the client has taken it
		waitUntil(t, "the server reads the first POST", connFlag(s.conn(t, sid), isPosting))
		expectHTTPError(t, "second POST", s.post(t, sid, "4b"), 400, 3, "Bad request")
		if got := s.closeReason(t, sid); got != ReasonTransportError {
			t.Errorf("close reason %q; want %q", got, ReasonTransportError)
		}
		pw.Write([]byte("tial"))
		pw.Close()
		awaitResult(t, "first POST", slow) // whatever it answers, it must end
		expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
	})

	t.Run("octet-stream POST", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		r := s.mustRequest(t, http.MethodPost, pollQuery(sid), "4x", http.Header{"Content-Type": {"application/octet-stream"}})
		expectHTTPError(t, "octet-stream POST", r, 400, 3, "Bad request")
		if got := s.closeReason(t, sid); got != ReasonTransportError {
			t.Errorf("close reason %q; want %q", got, ReasonTransportError)
		}
		expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
	})

	t.Run("POST at the max payload", func(t *testing.T) {
		s := newEIOServer(t, append(slices.Clone(eioQuiet), WithMaxPayload(1024))...)
		sid, _, _ := s.openPolling(t)
		body := "4" + strings.Repeat("a", 1023)
		expectResp(t, "POST of 1024 bytes", s.post(t, sid, body), 200, "ok")
		expectResp(t, "GET", s.get(t, sid), 200, body)
	})

	t.Run("POST over the max payload", func(t *testing.T) {
		s := newEIOServer(t, append(slices.Clone(eioQuiet), WithMaxPayload(1024))...)
		sid, _, _ := s.openPolling(t)
		r := s.post(t, sid, "4"+strings.Repeat("a", 1024))
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("POST of 1025 bytes: got %d %q; want 413", r.status, r.body)
		}
		if got := s.closeReason(t, sid); got != ReasonTransportError {
			t.Errorf("close reason %q; want %q", got, ReasonTransportError)
		}
		expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
	})

	t.Run("bad payload", func(t *testing.T) {
		for _, body := range []string{"abc", "4ok\x1e\x1e4x", "b!!", "4\xff"} {
			t.Run(strconv.Quote(body), func(t *testing.T) {
				s := newEIOServer(t, eioQuiet...)
				sid, _, _ := s.openPolling(t)
				expectHTTPError(t, fmt.Sprintf("POST %q", body), s.post(t, sid, body), 400, 3, "Bad request")
				if got := s.closeReason(t, sid); got != ReasonParseError {
					t.Errorf("close reason %q; want %q", got, ReasonParseError)
				}
				expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
			})
		}
	})

	t.Run("bad payload while a GET waits", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		pending := s.goGet(context.Background(), sid)
		waitUntil(t, "the GET waits", connFlag(s.conn(t, sid), isPolling))
		expectHTTPError(t, "POST abc", s.post(t, sid, "abc"), 400, 3, "Bad request")
		expectResp(t, "waiting GET", awaitResult(t, "waiting GET", pending).resp, 200, "1")
		expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
	})

	t.Run("client close while a GET waits", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		pending := s.goGet(context.Background(), sid)
		waitUntil(t, "the GET waits", connFlag(s.conn(t, sid), isPolling))
		expectResp(t, "POST 1", s.post(t, sid, "1"), 200, "ok")
		expectResp(t, "waiting GET", awaitResult(t, "waiting GET", pending).resp, 200, "6")
		expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
		if got := s.closeReason(t, sid); got != ReasonTransportClose {
			t.Errorf("close reason %q; want %q", got, ReasonTransportClose)
		}
	})

	// socket.io-client acts on a close packet at once but on the messages
	// before it in the same payload a tick later, on a closed socket: the
	// close packet must come alone, on the next GET, as Node sends it.
	t.Run("server close after queued data: close packet alone", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		c := s.conn(t, sid)
		for _, m := range []string{"a", "b"} {
			if err := c.Send(Message{Data: []byte(m)}); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		expectResp(t, "first GET", s.get(t, sid), 200, "4a\x1e4b")
		expectResp(t, "second GET", s.get(t, sid), 200, "1")
		if got := s.closeReason(t, sid); got != ReasonForcedClose {
			t.Errorf("close reason %q; want %q", got, ReasonForcedClose)
		}
	})

	// After the data, the close packet waits for the client's next GET,
	// which comes at once if it comes at all: not for a ping timeout.
	t.Run("server close after queued data: no next GET", func(t *testing.T) {
		s := newEIOServer(t, WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
		sid, _, _ := s.openPolling(t)
		c := s.conn(t, sid)
		if err := c.Send(Message{Data: []byte("a")}); err != nil {
			t.Fatal(err)
		}
		c.Close()
		expectResp(t, "GET", s.get(t, sid), 200, "4a")
		start := time.Now()
		select {
		case <-c.done:
		case <-time.After(eioWait):
			t.Fatalf("session still lingers %v after its data was written", eioWait)
		}
		if took := time.Since(start); took < nextPollWait/2 {
			t.Errorf("session ended %v after its data was written; want about %v, for the client's next GET", took, nextPollWait)
		}
	})

	t.Run("long poll outlives the server's WriteTimeout", func(t *testing.T) {
		const writeTimeout = 100 * time.Millisecond
		s := startEIOServer(t, eioSetup{
			opts: []Option{WithPingInterval(500 * time.Millisecond), WithPingTimeout(5 * time.Second)},
			http: func(hs *http.Server) { hs.WriteTimeout = writeTimeout },
		})
		sid, _, _ := s.openPolling(t)
		start := time.Now()
		expectResp(t, "GET held until the ping", s.get(t, sid), 200, "2")
		if d := time.Since(start); d < 3*writeTimeout {
			t.Fatalf("GET answered after %v; want it held past the %v WriteTimeout until the ping", d, writeTimeout)
		}
		expectResp(t, "POST pong", s.post(t, sid, "3"), 200, "ok")
		pending := s.goGet(context.Background(), sid)
		time.Sleep(3 * writeTimeout)
		expectResp(t, "POST", s.post(t, sid, "4late"), 200, "ok")
		r := awaitResult(t, "held GET", pending).resp
		expectResp(t, "held GET", r, 200, "4late")
		s.expectOpen(t, sid)
	})
}

// --- Heartbeat ---

func TestEngineHeartbeat(t *testing.T) {
	const (
		interval = 100 * time.Millisecond
		timeout  = 150 * time.Millisecond
		// slack is how late a timeout may be noticed on a busy machine.
		slack = 1500 * time.Millisecond
	)

	t.Run("polling pongs keep the session", func(t *testing.T) {
		s := newEIOServer(t, WithPingInterval(interval), WithPingTimeout(2*time.Second))
		start := time.Now() // the first ping is due an interval after the handshake
		sid, _, _ := s.openPolling(t)
		for i := range 4 {
			expectResp(t, fmt.Sprintf("GET %d", i), s.get(t, sid), 200, "2")
			expectResp(t, fmt.Sprintf("POST pong %d", i), s.post(t, sid, "3"), 200, "ok")
		}
		if d := time.Since(start); d < 4*interval {
			t.Errorf("4 pings came in %v; want one per %v", d, interval)
		}
		s.expectOpen(t, sid)
	})

	t.Run("websocket pongs keep the session", func(t *testing.T) {
		s := newEIOServer(t, WithPingInterval(interval), WithPingTimeout(2*time.Second))
		start := time.Now() // the first ping is due an interval after the handshake
		ws, sid, _ := s.openWS(t)
		for i := range 4 {
			if mt, data := readWS(t, ws); mt != websocket.TextMessage || data != "2" {
				t.Fatalf("frame %d: type %d %q; want text ping 2", i, mt, data)
			}
			writeWS(t, ws, websocket.TextMessage, "3")
		}
		if d := time.Since(start); d < 4*interval {
			t.Errorf("4 pings came in %v; want one per %v", d, interval)
		}
		s.expectOpen(t, sid)
	})

	t.Run("silent polling client times out", func(t *testing.T) {
		s := newEIOServer(t, WithPingInterval(interval), WithPingTimeout(timeout))
		start := time.Now()
		sid, _, _ := s.openPolling(t)
		got := s.closeReason(t, sid)
		d := time.Since(start)
		if got != ReasonPingTimeout {
			t.Errorf("close reason %q; want %q", got, ReasonPingTimeout)
		}
		if d < interval+timeout || d > interval+timeout+slack {
			t.Errorf("closed after %v; want between %v and %v", d, interval+timeout, interval+timeout+slack)
		}
		expectHTTPError(t, "GET after", s.get(t, sid), 400, 1, "Session ID unknown")
	})

	t.Run("silent websocket client times out", func(t *testing.T) {
		s := newEIOServer(t, WithPingInterval(interval), WithPingTimeout(timeout))
		start := time.Now()
		ws, sid, _ := s.openWS(t)
		got := s.closeReason(t, sid)
		d := time.Since(start)
		if got != ReasonPingTimeout {
			t.Errorf("close reason %q; want %q", got, ReasonPingTimeout)
		}
		if d < interval+timeout || d > interval+timeout+slack {
			t.Errorf("closed after %v; want between %v and %v", d, interval+timeout, interval+timeout+slack)
		}
		frames, _ := expectWSClosed(t, ws)
		if !slices.Equal(frames, []string{"2"}) {
			t.Errorf("frames before the close: %q; want just the ping", frames)
		}
	})

	t.Run("conformance timing: 400 right after interval plus timeout", func(t *testing.T) {
		// The official suite sleeps exactly pingInterval+pingTimeout after
		// the handshake, then expects 400 at once: the session must be
		// gone even if the timer that ends it has not run yet.
		s := newEIOServer(t, WithPingInterval(300*time.Millisecond), WithPingTimeout(200*time.Millisecond))
		sid, _, _ := s.openPolling(t)
		time.Sleep(500 * time.Millisecond)
		expectHTTPError(t, "GET 500ms after the handshake", s.get(t, sid), 400, 1, "Session ID unknown")
		if got := s.closeReason(t, sid); got != ReasonPingTimeout {
			t.Errorf("close reason %q; want %q", got, ReasonPingTimeout)
		}
	})
}

// --- WebSocket ---

func TestEngineWebSocket(t *testing.T) {
	t.Run("echo", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		ws, sid, _ := s.openWS(t)
		for _, tc := range []struct {
			mt   int
			data string
		}{
			{websocket.TextMessage, "4hello"},
			{websocket.TextMessage, "4héllo wörld ✓ 🎉"},
			{websocket.TextMessage, "4"},
			{websocket.TextMessage, "4with\x1eseparator"},
			{websocket.BinaryMessage, "\x01\x02\x03\x04"},
			{websocket.BinaryMessage, "4 looks like text"},
			{websocket.BinaryMessage, ""},
		} {
			writeWS(t, ws, tc.mt, tc.data)
			if mt, data := readWS(t, ws); mt != tc.mt || data != tc.data {
				t.Errorf("echo of frame type %d %q: type %d %q; want the same", tc.mt, tc.data, mt, data)
			}
		}
		if got := s.conn(t, sid).Transport(); got != TransportWebSocket {
			t.Errorf("Transport() = %q; want websocket", got)
		}
	})

	t.Run("client ping gets a pong", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		ws, _, _ := s.openWS(t)
		writeWS(t, ws, websocket.TextMessage, "2")
		if _, data := readWS(t, ws); data != "3" {
			t.Errorf("answer to ping: %q; want 3", data)
		}
	})

	t.Run("frame at the max payload", func(t *testing.T) {
		s := newEIOServer(t, append(slices.Clone(eioQuiet), WithMaxPayload(1024))...)
		ws, _, _ := s.openWS(t)
		msg := "4" + strings.Repeat("a", 1023)
		writeWS(t, ws, websocket.TextMessage, msg)
		if _, data := readWS(t, ws); data != msg {
			t.Errorf("echo of a 1024-byte frame: %d bytes; want it back", len(data))
		}
	})

	t.Run("frame over the max payload", func(t *testing.T) {
		for _, mt := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			t.Run(strconv.Itoa(mt), func(t *testing.T) {
				s := newEIOServer(t, append(slices.Clone(eioQuiet), WithMaxPayload(1024))...)
				ws, sid, _ := s.openWS(t)
				writeWS(t, ws, mt, "4"+strings.Repeat("a", 2000))
				if frames, _ := expectWSClosed(t, ws); len(frames) > 0 {
					t.Errorf("frames before the close: %q; want none", frames)
				}
				if got := s.closeReason(t, sid); got != ReasonTransportError {
					t.Errorf("close reason %q; want %q", got, ReasonTransportError)
				}
			})
		}
	})

	t.Run("client close packet", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		ws, sid, _ := s.openWS(t)
		writeWS(t, ws, websocket.TextMessage, "1")
		expectWSClosed(t, ws)
		if got := s.closeReason(t, sid); got != ReasonTransportClose {
			t.Errorf("close reason %q; want %q", got, ReasonTransportClose)
		}
	})

	t.Run("client closes the socket", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		ws, sid, _ := s.openWS(t)
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(eioWait))
		ws.Close()
		if got := s.closeReason(t, sid); got != ReasonTransportClose {
			t.Errorf("close reason %q; want %q", got, ReasonTransportClose)
		}
	})

	t.Run("server Conn.Close", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		ws, sid, _ := s.openWS(t)
		c := s.conn(t, sid)
		if err := c.Close(); err != nil {
			t.Fatalf("Close() = %v; want nil", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close() = %v; want nil", err)
		}
		expectWSClosed(t, ws)
		if got := s.closeReason(t, sid); got != ReasonForcedClose {
			t.Errorf("close reason %q; want %q", got, ReasonForcedClose)
		}
		if err := c.Send(Message{Data: []byte("late")}); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("Send after Close = %v; want ErrClosed wrapping net.ErrClosed", err)
		}
	})

	t.Run("bad packet", func(t *testing.T) {
		for _, data := range []string{"x", "abc", "", "9", "4\xff"} {
			t.Run(strconv.Quote(data), func(t *testing.T) {
				s := newEIOServer(t, eioQuiet...)
				ws, sid, _ := s.openWS(t)
				writeWS(t, ws, websocket.TextMessage, data)
				if frames, _ := expectWSClosed(t, ws); len(frames) > 0 {
					t.Errorf("frames before the close: %q; want none", frames)
				}
				if got := s.closeReason(t, sid); got != ReasonParseError {
					t.Errorf("close reason %q; want %q", got, ReasonParseError)
				}
			})
		}
	})
}

// --- Upgrade ---

func TestEngineUpgrade(t *testing.T) {
	// probe runs the client's side of the probe on a new WebSocket for sid.
	probe := func(t *testing.T, s *eioTestServer, sid string) *websocket.Conn {
		t.Helper()
		ws, _, err := s.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
		if err != nil {
			t.Fatalf("upgrade dial: %v", err)
		}
		writeWS(t, ws, websocket.TextMessage, "2probe")
		if mt, data := readWS(t, ws); mt != websocket.TextMessage || data != "3probe" {
			t.Fatalf("answer to 2probe: type %d %q; want text 3probe", mt, data)
		}
		return ws
	}

	t.Run("probe and switch", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		c := s.conn(t, sid)
		pending := s.goGet(context.Background(), sid)
		waitUntil(t, "the GET waits", connFlag(c, isPolling))
		ws := probe(t, s, sid)
		probed := time.Now()
		res := awaitResult(t, "GET pending during the probe", pending)
		expectResp(t, "GET pending during the probe", res.resp, 200, "6")
		if d := res.at.Sub(probed); d > 500*time.Millisecond {
			t.Errorf("pending GET released %v after 3probe; want promptly (< 500ms)", d)
		}
		// A GET issued while the upgrade is pending is answered with a noop
		// too, so the client can pause polling.
		start := time.Now()
		expectResp(t, "GET during the upgrade", s.get(t, sid), 200, "6")
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("GET during the upgrade answered after %v; want promptly (< 500ms)", d)
		}
		writeWS(t, ws, websocket.TextMessage, "5")
		writeWS(t, ws, websocket.TextMessage, "4hello")
		if mt, data := readWS(t, ws); mt != websocket.TextMessage || data != "4hello" {
			t.Fatalf("echo after the upgrade: type %d %q; want text 4hello", mt, data)
		}
		if got := c.Transport(); got != TransportWebSocket {
			t.Errorf("Transport() = %q after the upgrade; want websocket", got)
		}

		expectHTTPError(t, "GET after the upgrade", s.get(t, sid), 400, 3, "Bad request")
		expectHTTPError(t, "POST after the upgrade", s.post(t, sid, "4x"), 400, 3, "Bad request")

		ws2, _, err := s.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
		if err != nil {
			t.Fatalf("second websocket dial: %v; want the handshake to succeed and then a close", err)
		}
		if frames, _ := expectWSClosed(t, ws2); len(frames) > 0 {
			t.Errorf("second websocket got %q; want nothing but a close", frames)
		}
		writeWS(t, ws, websocket.TextMessage, "4still here")
		if _, data := readWS(t, ws); data != "4still here" {
			t.Errorf("echo on the upgraded socket after a second one: %q; want 4still here", data)
		}
		s.expectOpen(t, sid)
	})

	t.Run("GET racing the upgrade packet is refused", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		ws := probe(t, s, sid)
		writeWS(t, ws, websocket.TextMessage, "5")
		r := s.get(t, sid)
		if r.status == 200 && r.body == "6" {
			// The GET won the race with the upgrade packet and was let
			// go; the next one must be refused.
			r = s.get(t, sid)
		}
		expectHTTPError(t, "GET after the upgrade packet", r, 400, 3, "Bad request")
		writeWS(t, ws, websocket.TextMessage, "4hello")
		if _, data := readWS(t, ws); data != "4hello" {
			t.Errorf("echo after the upgrade: %q; want 4hello", data)
		}
	})

	t.Run("server messages across the upgrade arrive once and in order", func(t *testing.T) {
		var (
			sent       atomic.Int64
			stop       = make(chan struct{})
			stopOnce   sync.Once
			senderDone = make(chan struct{})
		)
		stopSender := func() { stopOnce.Do(func() { close(stop) }) }
		s := startEIOServer(t, eioSetup{opts: eioQuiet, onConn: func(c *Conn) {
			go func() {
				defer close(senderDone)
				for i := 0; ; i++ {
					select {
					case <-stop:
						c.Send(Message{Data: []byte("end")})
						return
					default:
					}
					if c.Send(Message{Data: []byte(strconv.Itoa(i))}) != nil {
						return
					}
					sent.Add(1)
					time.Sleep(200 * time.Microsecond)
				}
			}()
		}})
		t.Cleanup(func() {
			stopSender()
			<-senderDone
		})

		sid, _, first := s.openPolling(t)
		var (
			polled      []string // owned by the poller until pollerDone
			polledCount atomic.Int64
			upgrading   atomic.Bool
			pollerDone  = make(chan error, 1)
		)
		for _, p := range first {
			polled = append(polled, string(p.data))
		}
		// The poller acts as engine.io-client: it polls until, once the
		// probe is answered, a poll comes back with a noop.
		go func() {
			for {
				r, err := s.request(context.Background(), http.MethodGet, pollQuery(sid), nil, nil)
				if err == nil && r.status != 200 {
					err = fmt.Errorf("GET: %d %q", r.status, r.body)
				}
				if err != nil {
					pollerDone <- err
					return
				}
				packets, err := decodePayload([]byte(r.body))
				if err != nil {
					pollerDone <- fmt.Errorf("GET body %q: %v", r.body, err)
					return
				}
				noop := false
				for _, p := range packets {
					switch {
					case p.typ == packetMessage && !p.binary:
						polled = append(polled, string(p.data))
						polledCount.Add(1)
					case p.typ == packetNoop:
						noop = true
					default:
						pollerDone <- fmt.Errorf("unexpected packet %s in poll %q", eioPacketString(p), r.body)
						return
					}
				}
				if noop && upgrading.Load() {
					pollerDone <- nil
					return
				}
			}
		}()

		waitUntil(t, "some messages arrive by polling", func() bool { return polledCount.Load() >= 50 })
		ws := probe(t, s, sid)
		upgrading.Store(true)
		atProbe := sent.Load()
		select {
		case err := <-pollerDone:
			if err != nil {
				t.Fatalf("poller: %v", err)
			}
		case <-time.After(eioWait):
			t.Fatalf("no noop poll within %v of the probe", eioWait)
		}
		// Messages sent now wait in the queue for the WebSocket.
		waitUntil(t, "messages are sent during the upgrade", func() bool { return sent.Load() >= atProbe+50 })
		writeWS(t, ws, websocket.TextMessage, "5")
		atUpgrade := sent.Load()

		var overWS []string
		for {
			mt, data := readWS(t, ws)
			if mt != websocket.TextMessage || !strings.HasPrefix(data, "4") {
				t.Fatalf("websocket frame: type %d %q; want a text message", mt, data)
			}
			if data == "4end" {
				break
			}
			overWS = append(overWS, data[1:])
			if int64(len(polled)+len(overWS)) >= atUpgrade+50 {
				stopSender()
			}
		}
		<-senderDone
		all := append(slices.Clone(polled), overWS...)
		if int64(len(all)) != sent.Load() {
			t.Errorf("received %d messages (%d polled, %d over websocket); server sent %d", len(all), len(polled), len(overWS), sent.Load())
		}
		for i, m := range all {
			if m != strconv.Itoa(i) {
				t.Fatalf("message %d is %q (%d polled, %d over websocket); want %d: lost, duplicated or reordered", i, m, len(polled), len(overWS), i)
			}
		}
		t.Logf("%d messages: %d polled before the upgrade, %d over websocket (%d queued during the upgrade)",
			len(all), len(polled), len(overWS), atUpgrade-int64(len(polled)))
	})

	t.Run("upgrade timeout keeps polling", func(t *testing.T) {
		const upgradeTimeout = 200 * time.Millisecond
		s := newEIOServer(t, append(slices.Clone(eioQuiet), WithUpgradeTimeout(upgradeTimeout))...)
		sid, _, _ := s.openPolling(t)
		ws := probe(t, s, sid)
		start := time.Now()
		expectWSClosed(t, ws) // no "5": the server gives up
		if d := time.Since(start); d < upgradeTimeout/2 {
			t.Errorf("probing websocket closed after %v; want about the %v upgrade timeout", d, upgradeTimeout)
		}
		expectResp(t, "POST after the timeout", s.post(t, sid, "4after"), 200, "ok")
		// A poll may still be answered with a noop while the server tidies
		// up the failed upgrade; a client polls again.
		var r eioResp
		for range 100 {
			if r = s.get(t, sid); r.body != "6" {
				break
			}
		}
		expectResp(t, "GET after the timeout", r, 200, "4after")
		if got := s.conn(t, sid).Transport(); got != TransportPolling {
			t.Errorf("Transport() = %q; want polling", got)
		}
		s.expectOpen(t, sid)
	})

	t.Run("bad probe keeps polling", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		ws, _, err := s.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
		if err != nil {
			t.Fatalf("upgrade dial: %v", err)
		}
		writeWS(t, ws, websocket.TextMessage, "4not a probe")
		if frames, _ := expectWSClosed(t, ws); len(frames) > 0 {
			t.Errorf("websocket got %q; want a close", frames)
		}
		expectResp(t, "POST", s.post(t, sid, "4x"), 200, "ok")
		expectResp(t, "GET", s.get(t, sid), 200, "4x")
		s.expectOpen(t, sid)
	})

	t.Run("probe on a websocket session", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		ws, sid, _ := s.openWS(t)
		ws2, _, err := s.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
		if err != nil {
			t.Fatalf("second websocket dial: %v; want the handshake to succeed and then a close", err)
		}
		ws2.WriteMessage(websocket.TextMessage, []byte("2probe")) // may fail: the server is closing it
		if frames, _ := expectWSClosed(t, ws2); len(frames) > 0 {
			t.Errorf("probe on a websocket session got %q; want a close", frames)
		}
		writeWS(t, ws, websocket.TextMessage, "4still here")
		if _, data := readWS(t, ws); data != "4still here" {
			t.Errorf("echo on the first socket: %q; want 4still here", data)
		}
		s.expectOpen(t, sid)
	})

	t.Run("upgrades off", func(t *testing.T) {
		s := newEIOServer(t, append(slices.Clone(eioQuiet), WithAllowUpgrades(false))...)
		sid, _, _ := s.openPolling(t)
		ws, _, err := s.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
		if err == nil {
			ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
			if frames, _ := expectWSClosed(t, ws); len(frames) > 0 {
				t.Errorf("probe with upgrades off got %q; want a close", frames)
			}
		}
		expectResp(t, "POST", s.post(t, sid, "4x"), 200, "ok")
		expectResp(t, "GET", s.get(t, sid), 200, "4x")
		s.expectOpen(t, sid)
	})
}

// --- Origins, CORS, cookies ---

func TestEngineOrigins(t *testing.T) {
	handshake := "EIO=4&transport=polling"

	t.Run("same origin", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		h := http.Header{"Origin": {s.srv.URL}}
		r := s.mustRequest(t, http.MethodGet, handshake, "", h)
		expectResp(t, "handshake from the same origin", r, 200, "")
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin %q on a same-origin request; want none", got)
		}
		if _, _, err := s.dialWS(t, "EIO=4&transport=websocket", h); err != nil {
			t.Errorf("websocket from the same origin: %v; want it accepted", err)
		}
	})

	t.Run("foreign origin", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		h := http.Header{"Origin": {"http://evil.example"}}
		expectHTTPError(t, "handshake from a foreign origin", s.mustRequest(t, http.MethodGet, handshake, "", h), 403, 4, "Origin not allowed")
		sid, _, _ := s.openPolling(t)
		expectHTTPError(t, "POST from a foreign origin", s.mustRequest(t, http.MethodPost, pollQuery(sid), "4x", h), 403, 4, "Origin not allowed")
		_, resp, err := s.dialWS(t, "EIO=4&transport=websocket", h)
		if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != 403 {
			t.Errorf("websocket from a foreign origin: %v; want the handshake refused with 403", err)
		}
		_, resp, err = s.dialWS(t, "EIO=4&transport=websocket&sid="+sid, h)
		if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != 403 {
			t.Errorf("upgrade from a foreign origin: %v; want the handshake refused with 403", err)
		}
		s.expectOpen(t, sid)
	})

	t.Run("allowed origin", func(t *testing.T) {
		s := newEIOServer(t, append(slices.Clone(eioQuiet), WithAllowedOrigins("http://a.example"))...)
		h := http.Header{"Origin": {"http://a.example"}}
		checkCORS := func(what string, r eioResp) {
			t.Helper()
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "http://a.example" {
				t.Errorf("%s: Access-Control-Allow-Origin %q; want http://a.example", what, got)
			}
			if got := r.header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("%s: Access-Control-Allow-Credentials %q; want true", what, got)
			}
		}
		r := s.mustRequest(t, http.MethodGet, handshake, "", h)
		expectResp(t, "handshake from an allowed origin", r, 200, "")
		checkCORS("handshake", r)

		pre := s.mustRequest(t, http.MethodOptions, handshake, "", http.Header{
			"Origin":                         {"http://a.example"},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"content-type"},
		})
		if pre.status != http.StatusNoContent {
			t.Fatalf("preflight: got %d %q; want 204", pre.status, pre.body)
		}
		checkCORS("preflight", pre)
		if got := pre.header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") || !strings.Contains(got, "GET") {
			t.Errorf("preflight: Access-Control-Allow-Methods %q; want GET and POST", got)
		}
		if got := pre.header.Get("Access-Control-Allow-Headers"); got != "content-type" {
			t.Errorf("preflight: Access-Control-Allow-Headers %q; want content-type", got)
		}

		other := s.mustRequest(t, http.MethodOptions, handshake, "", http.Header{"Origin": {"http://b.example"}})
		if other.status != 403 || other.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from an unlisted origin: %d, Access-Control-Allow-Origin %q; want 403 without it",
				other.status, other.header.Get("Access-Control-Allow-Origin"))
		}
		if _, _, err := s.dialWS(t, "EIO=4&transport=websocket", h); err != nil {
			t.Errorf("websocket from an allowed origin: %v; want it accepted", err)
		}
	})

	t.Run("cookie", func(t *testing.T) {
		s := newEIOServer(t, append(slices.Clone(eioQuiet), WithCookie(http.Cookie{HttpOnly: true, SameSite: http.SameSiteLaxMode}))...)
		r := s.mustRequest(t, http.MethodGet, handshake, "", nil)
		packets, err := decodePayload([]byte(r.body))
		if err != nil {
			t.Fatalf("handshake body %q: %v", r.body, err)
		}
		sid := eioSID(t, parseOpen(t, packets[0].data))
		if got, want := r.header.Values("Set-Cookie"), []string{"io=" + sid + "; Path=/; HttpOnly; SameSite=Lax"}; !slices.Equal(got, want) {
			t.Errorf("polling handshake Set-Cookie %q; want %q", got, want)
		}
		if got := s.post(t, sid, "4x").header.Get("Set-Cookie"); got != "" {
			t.Errorf("POST Set-Cookie %q; want the cookie only on the handshake", got)
		}

		ws, resp, err := s.dialWS(t, "EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatalf("websocket handshake: %v", err)
		}
		_, data := readWS(t, ws)
		wsSID := eioSID(t, parseOpen(t, []byte(data[1:])))
		if got, want := resp.Header.Values("Set-Cookie"), []string{"io=" + wsSID + "; Path=/; HttpOnly; SameSite=Lax"}; !slices.Equal(got, want) {
			t.Errorf("websocket handshake Set-Cookie %q; want %q", got, want)
		}
	})
}

// --- Shutdown ---

func TestEngineShutdown(t *testing.T) {
	t.Run("clients get a close packet", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		waiting, _, _ := s.openPolling(t)
		idle, _, _ := s.openPolling(t)
		ws, wsSID, _ := s.openWS(t)
		pending := s.goGet(context.Background(), waiting)
		waitUntil(t, "the GET waits", connFlag(s.conn(t, waiting), isPolling))

		ctx, cancel := context.WithTimeout(context.Background(), eioWait)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.eng.Shutdown(ctx) }()

		expectResp(t, "waiting GET", awaitResult(t, "waiting GET", pending).resp, 200, "1")
		if frames, _ := expectWSClosed(t, ws); !slices.Equal(frames, []string{"1"}) {
			t.Errorf("websocket frames before the close: %q; want [1]", frames)
		}
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while a polling client had yet to poll; want it to wait", err)
		default:
		}
		expectResp(t, "GET of the idle client", s.get(t, idle), 200, "1")
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Shutdown = %v; want nil", err)
			}
		case <-time.After(eioWait):
			t.Fatalf("Shutdown did not return within %v of the last client leaving", eioWait)
		}
		for _, sid := range []string{waiting, idle, wsSID} {
			if got := s.closeReason(t, sid); got != ReasonServerShutdown {
				t.Errorf("session %s: close reason %q; want %q", sid, got, ReasonServerShutdown)
			}
		}

		r := s.mustRequest(t, http.MethodGet, "EIO=4&transport=polling", "", nil)
		expectHTTPError(t, "handshake after Shutdown", r, 403, 4, "Server is shutting down")
		_, resp, err := s.dialWS(t, "EIO=4&transport=websocket", nil)
		if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != 403 {
			t.Errorf("websocket handshake after Shutdown: %v; want it refused with 403", err)
		}
		if err := s.eng.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown = %v; want nil", err)
		}
	})

	t.Run("no sessions", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		ctx, cancel := context.WithTimeout(context.Background(), eioWait)
		defer cancel()
		if err := s.eng.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown = %v; want nil", err)
		}
	})

	t.Run("deadline closes what remains", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := s.eng.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with a client that never polls = %v; want context.DeadlineExceeded", err)
		}
		if got := s.closeReason(t, sid); got != ReasonServerShutdown {
			t.Errorf("close reason %q; want %q", got, ReasonServerShutdown)
		}
		// Shutdown closed the session when it gave up: nothing is left.
		s.eng.mu.Lock()
		n := len(s.eng.conns)
		s.eng.mu.Unlock()
		if n != 0 {
			t.Errorf("%d sessions left after Shutdown returned; want 0", n)
		}
		expectHTTPError(t, "GET after Shutdown", s.get(t, sid), 400, 1, "Session ID unknown")
	})

	t.Run("Close is idempotent", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		ws, wsSID, _ := s.openWS(t)
		pending := s.goGet(context.Background(), sid)
		waitUntil(t, "the GET waits", connFlag(s.conn(t, sid), isPolling))
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.eng.Close()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Close = %v; want nil", err)
			}
		}
		if err := s.eng.Close(); err != nil {
			t.Errorf("Close again = %v; want nil", err)
		}
		awaitResult(t, "GET pending at Close", pending)
		expectWSClosed(t, ws)
		for _, id := range []string{sid, wsSID} {
			if got := s.closeReason(t, id); got != ReasonForcedClose {
				t.Errorf("session %s: close reason %q; want %q", id, got, ReasonForcedClose)
			}
		}
		expectHTTPError(t, "handshake after Close", s.mustRequest(t, http.MethodGet, "EIO=4&transport=polling", "", nil), 403, 4, "Server is shutting down")
		ctx, cancel := context.WithTimeout(context.Background(), eioWait)
		defer cancel()
		if err := s.eng.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown after Close = %v; want nil", err)
		}
	})
}

// TestEngineHandlerPanic checks that a panicking message handler closes
// only its own connection.
func TestEngineHandlerPanic(t *testing.T) {
	opts := append(slices.Clone(eioQuiet), WithLogger(slog.New(slog.DiscardHandler)))
	s := startEIOServer(t, eioSetup{opts: opts, onConn: func(c *Conn) {
		c.OnMessage(func(m Message) {
			if bytes.Equal(m.Data, []byte("panic")) {
				panic("test panic")
			}
			c.Send(m)
		})
	}})
	ws, sid, _ := s.openWS(t)
	other, otherSID, _ := s.openWS(t)
	writeWS(t, ws, websocket.TextMessage, "4panic")
	expectWSClosed(t, ws)
	if got := s.closeReason(t, sid); got != ReasonHandlerPanic {
		t.Errorf("close reason %q; want %q", got, ReasonHandlerPanic)
	}
	writeWS(t, other, websocket.TextMessage, "4fine")
	if _, data := readWS(t, other); data != "4fine" {
		t.Errorf("other connection echo: %q; want 4fine", data)
	}
	s.expectOpen(t, otherSID)
}

// --- Every scenario in every mode ---

// eioClient is a raw Engine.IO client on one transport mode.
type eioClient interface {
	sid() string
	// send sends one packet.
	send(t *testing.T, p packet)
	// recv returns the next packet from the server.
	recv(t *testing.T) packet
	// expectEnd checks that the server ended the session, after sending
	// nothing but, optionally, a close packet.
	expectEnd(t *testing.T)
}

type eioPollingClient struct {
	s       *eioTestServer
	id      string
	pending []packet
}

func (c *eioPollingClient) sid() string { return c.id }

func (c *eioPollingClient) send(t *testing.T, p packet) {
	t.Helper()
	expectResp(t, "POST "+eioPacketString(p), c.s.post(t, c.id, string(appendPayload(nil, []packet{p}))), 200, "ok")
}

func (c *eioPollingClient) recv(t *testing.T) packet {
	t.Helper()
	for len(c.pending) == 0 {
		r := c.s.get(t, c.id)
		expectResp(t, "GET", r, 200, "")
		packets, err := decodePayload([]byte(r.body))
		if err != nil {
			t.Fatalf("GET body %q: %v", r.body, err)
		}
		c.pending = packets
	}
	p := c.pending[0]
	c.pending = c.pending[1:]
	return p
}

func (c *eioPollingClient) expectEnd(t *testing.T) {
	t.Helper()
	if len(c.pending) > 0 {
		t.Fatalf("packets %s left unread; want the end of the session", eioPacketsString(c.pending))
	}
	r := c.s.get(t, c.id)
	if r.status == 200 && r.body == "1" {
		r = c.s.get(t, c.id)
	}
	expectHTTPError(t, "GET at the end of the session", r, 400, 1, "Session ID unknown")
}

type eioWSClient struct {
	id string
	ws *websocket.Conn
}

func (c *eioWSClient) sid() string { return c.id }

func (c *eioWSClient) send(t *testing.T, p packet) {
	t.Helper()
	if p.binary {
		writeWS(t, c.ws, websocket.BinaryMessage, string(p.data))
		return
	}
	writeWS(t, c.ws, websocket.TextMessage, string(byte(p.typ))+string(p.data))
}

func (c *eioWSClient) recv(t *testing.T) packet {
	t.Helper()
	mt, data := readWS(t, c.ws)
	if mt == websocket.BinaryMessage {
		return packet{typ: packetMessage, data: []byte(data), binary: true}
	}
	p, err := decodePacket([]byte(data))
	if err != nil {
		t.Fatalf("websocket frame %q: %v", data, err)
	}
	return p
}

func (c *eioWSClient) expectEnd(t *testing.T) {
	t.Helper()
	frames, _ := expectWSClosed(t, c.ws)
	if len(frames) > 1 || (len(frames) == 1 && frames[0] != "1") {
		t.Fatalf("frames before the close: %q; want at most a close packet", frames)
	}
}

// eioModes opens a session in each transport mode.
var eioModes = []struct {
	name string
	open func(t *testing.T, s *eioTestServer) eioClient
}{
	{"polling", func(t *testing.T, s *eioTestServer) eioClient {
		sid, _, _ := s.openPolling(t)
		return &eioPollingClient{s: s, id: sid}
	}},
	{"websocket", func(t *testing.T, s *eioTestServer) eioClient {
		ws, sid, _ := s.openWS(t)
		return &eioWSClient{id: sid, ws: ws}
	}},
	{"upgrade", func(t *testing.T, s *eioTestServer) eioClient {
		sid, _, _ := s.openPolling(t)
		ws, _, err := s.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
		if err != nil {
			t.Fatalf("upgrade dial: %v", err)
		}
		writeWS(t, ws, websocket.TextMessage, "2probe")
		if _, data := readWS(t, ws); data != "3probe" {
			t.Fatalf("answer to 2probe: %q; want 3probe", data)
		}
		writeWS(t, ws, websocket.TextMessage, "5")
		waitUntil(t, "the session is on websocket", func() bool { return s.conn(t, sid).Transport() == TransportWebSocket })
		return &eioWSClient{id: sid, ws: ws}
	}},
}

// runModes runs f once for each transport mode, as net/http's tests run
// each scenario over HTTP/1 and HTTP/2.
func runModes(t *testing.T, opts []Option, f func(t *testing.T, s *eioTestServer, c eioClient)) {
	t.Helper()
	for _, mode := range eioModes {
		t.Run(mode.name, func(t *testing.T) {
			s := newEIOServer(t, opts...)
			f(t, s, mode.open(t, s))
		})
	}
}

func TestEngineModes(t *testing.T) {
	t.Run("echo", func(t *testing.T) {
		runModes(t, eioQuiet, func(t *testing.T, s *eioTestServer, c eioClient) {
			for _, p := range []packet{
				eioPkt(packetMessage, "hello"), eioPkt(packetMessage, "héllo wörld ✓ 🎉"), eioPkt(packetMessage, ""),
				eioBin(1, 2, 3, 4), eioBin(), eioBin(0xff, 0, 0x1e),
			} {
				c.send(t, p)
				if got := c.recv(t); !eioPacketsEqual([]packet{got}, []packet{p}) {
					t.Errorf("echo of %s: %s; want the same", eioPacketString(p), eioPacketString(got))
				}
			}
		})
	})

	t.Run("server messages in order", func(t *testing.T) {
		runModes(t, eioQuiet, func(t *testing.T, s *eioTestServer, c eioClient) {
			conn := s.conn(t, c.sid())
			var want []packet
			for i := range 300 {
				m := Message{Data: []byte(strconv.Itoa(i)), Binary: i%3 == 0}
				if err := conn.Send(m); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
				want = append(want, packet{typ: packetMessage, data: m.Data, binary: m.Binary})
			}
			for i, w := range want {
				if got := c.recv(t); !eioPacketsEqual([]packet{got}, []packet{w}) {
					t.Fatalf("packet %d: %s; want %s", i, eioPacketString(got), eioPacketString(w))
				}
			}
		})
	})

	t.Run("client ping", func(t *testing.T) {
		runModes(t, eioQuiet, func(t *testing.T, s *eioTestServer, c eioClient) {
			c.send(t, eioPkt(packetPing, ""))
			if got := c.recv(t); got.typ != packetPong || len(got.data) != 0 {
				t.Errorf("answer to a ping: %s; want a pong", eioPacketString(got))
			}
		})
	})

	t.Run("heartbeat", func(t *testing.T) {
		opts := []Option{WithPingInterval(100 * time.Millisecond), WithPingTimeout(2 * time.Second)}
		runModes(t, opts, func(t *testing.T, s *eioTestServer, c eioClient) {
			for i := range 3 {
				if got := c.recv(t); got.typ != packetPing {
					t.Fatalf("packet %d: %s; want a ping", i, eioPacketString(got))
				}
				c.send(t, eioPkt(packetPong, ""))
			}
			s.expectOpen(t, c.sid())
		})
	})

	t.Run("ping timeout", func(t *testing.T) {
		opts := []Option{WithPingInterval(300 * time.Millisecond), WithPingTimeout(200 * time.Millisecond)}
		runModes(t, opts, func(t *testing.T, s *eioTestServer, c eioClient) {
			if got := s.closeReason(t, c.sid()); got != ReasonPingTimeout {
				t.Errorf("close reason %q; want %q", got, ReasonPingTimeout)
			}
			if ws, ok := c.(*eioWSClient); ok {
				expectWSClosed(t, ws.ws) // a ping, then the end
				return
			}
			expectHTTPError(t, "GET after the timeout", s.get(t, c.sid()), 400, 1, "Session ID unknown")
		})
	})

	t.Run("client close", func(t *testing.T) {
		runModes(t, eioQuiet, func(t *testing.T, s *eioTestServer, c eioClient) {
			c.send(t, eioPkt(packetClose, ""))
			if got := s.closeReason(t, c.sid()); got != ReasonTransportClose {
				t.Errorf("close reason %q; want %q", got, ReasonTransportClose)
			}
			if ws, ok := c.(*eioWSClient); ok {
				expectWSClosed(t, ws.ws)
				return
			}
			// A GET racing the client's close may get a noop; then the
			// session is gone.
			r := s.get(t, c.sid())
			if r.status == 200 && r.body == "6" {
				r = s.get(t, c.sid())
			}
			expectHTTPError(t, "GET after the client's close", r, 400, 1, "Session ID unknown")
		})
	})

	t.Run("server Conn.Close", func(t *testing.T) {
		runModes(t, eioQuiet, func(t *testing.T, s *eioTestServer, c eioClient) {
			s.conn(t, c.sid()).Close()
			c.expectEnd(t)
			if got := s.closeReason(t, c.sid()); got != ReasonForcedClose {
				t.Errorf("close reason %q; want %q", got, ReasonForcedClose)
			}
		})
	})

	t.Run("Shutdown", func(t *testing.T) {
		runModes(t, eioQuiet, func(t *testing.T, s *eioTestServer, c eioClient) {
			conn := s.conn(t, c.sid())
			conn.Send(Message{Data: []byte("before")})
			ctx, cancel := context.WithTimeout(context.Background(), eioWait)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.eng.Shutdown(ctx) }()
			if got := c.recv(t); string(got.data) != "before" {
				t.Errorf("first packet after Shutdown began: %s; want the message queued before it", eioPacketString(got))
			}
			if got := c.recv(t); got.typ != packetClose {
				t.Errorf("packet after the queued message: %s; want close", eioPacketString(got))
			}
			c.expectEnd(t)
			if err := <-done; err != nil {
				t.Errorf("Shutdown = %v; want nil", err)
			}
			if got := s.closeReason(t, c.sid()); got != ReasonServerShutdown {
				t.Errorf("close reason %q; want %q", got, ReasonServerShutdown)
			}
		})
	})
}
