package sio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Engine is a bare Engine.IO v4 server: sessions, the long-polling and
// WebSocket transports, upgrades and heartbeats, with no Socket.IO on top.
// A [Server] is built on one. Use an Engine directly to exchange plain
// messages with engine.io-client, as with Node's engine.io package:
//
//	eng := sio.NewEngine(func(c *sio.Conn) {
//		c.OnMessage(func(m sio.Message) { c.Send(m) }) // echo
//	})
//	mux.Handle("/engine.io/", eng)
//
// An Engine is an [http.Handler]; it owns no listener and starts no
// goroutine until a client connects.
type Engine struct {
	cfg    config
	onConn func(*Conn)

	handshakes atomic.Int64 // handshakes in progress, see WithMaxConcurrentHandshakes

	mu       sync.Mutex
	conns    map[string]*Conn
	closing  bool
	handlers sync.WaitGroup // WebSocket handlers still running
	drained  chan struct{}  // closed when closing and conns is empty

	flushers     []flusher     // one per core; see flusher
	next         atomic.Uint32 // the flusher the next WebSocket is given
	writerStarts atomic.Int64  // writer goroutines started, for tests to see which path wrote
}

var _ http.Handler = (*Engine)(nil)

// NewEngine returns an Engine that calls onConnection, in the goroutine of
// the handshake request, for every new session. Set the connection's
// handlers there: no message is dispatched before onConnection returns. It
// panics if onConnection is nil or an option is invalid.
func NewEngine(onConnection func(*Conn), opts ...Option) *Engine {
	if onConnection == nil {
		panic("sio: NewEngine with a nil connection handler")
	}
	return newEngine(newConfig(opts), onConnection)
}

func newEngine(cfg config, onConn func(*Conn)) *Engine {
	return &Engine{cfg: cfg, onConn: onConn, conns: make(map[string]*Conn),
		flushers: make([]flusher, runtime.GOMAXPROCS(0))}
}

// Error codes of the HTTP 400 and 403 answers, as Node's engine.io numbers
// them, and sio's own 503 answer.
const (
	codeUnknownTransport    = 0
	codeUnknownSID          = 1
	codeBadHandshakeMethod  = 2
	codeBadRequest          = 3
	codeForbidden           = 4
	codeUnsupportedProtocol = 5
	codeTooManyHandshakes   = 6 // sio only: WithMaxConcurrentHandshakes
)

var codeMessages = [...]string{
	codeUnknownTransport:    "Transport unknown",
	codeUnknownSID:          "Session ID unknown",
	codeBadHandshakeMethod:  "Bad handshake method",
	codeBadRequest:          "Bad request",
	codeForbidden:           "Forbidden",
	codeUnsupportedProtocol: "Unsupported protocol version",
	codeTooManyHandshakes:   "Too many concurrent handshakes",
}

// httpError answers a refused request the way Node does: 400 (403 for
// Forbidden, 503 for too many handshakes) with a small JSON body.
func httpError(w http.ResponseWriter, code int, message string) {
	if message == "" {
		message = codeMessages[code]
	}
	status := http.StatusBadRequest
	switch code {
	case codeForbidden:
		status = http.StatusForbidden
	case codeTooManyHandshakes:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// ServeHTTP serves every Engine.IO request: handshakes, long-polling GETs
// and POSTs, and WebSocket connections and upgrades.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !e.checkCORS(w, r) {
		return
	}
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		httpError(w, codeUnsupportedProtocol, "")
		return
	}
	transport := Transport(q.Get("transport"))
	if !slices.Contains(e.cfg.transports, transport) {
		httpError(w, codeUnknownTransport, "")
		return
	}
	isWS := websocket.IsWebSocketUpgrade(r)
	if transport == TransportWebSocket && !isWS {
		httpError(w, codeBadRequest, "")
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		e.handshake(w, r, transport)
		return
	}
	e.mu.Lock()
	c := e.conns[sid]
	e.mu.Unlock()
	if c == nil || c.expired() {
		httpError(w, codeUnknownSID, "")
		return
	}
	if transport == TransportWebSocket {
		e.serveUpgrade(w, r, c)
		return
	}
	switch r.Method {
	case http.MethodGet:
		c.servePoll(w, r)
	case http.MethodPost:
		c.servePost(w, r)
	default:
		httpError(w, codeBadRequest, "")
	}
}

// handshake opens a new session.
func (e *Engine) handshake(w http.ResponseWriter, r *http.Request, transport Transport) {
	if r.Method != http.MethodGet {
		httpError(w, codeBadHandshakeMethod, "")
		return
	}
	// A slot for the whole setup, hook included, released once the session
	// is open (or refused): before its first poll is answered, before its
	// WebSocket starts being served.
	if e.handshakes.Add(1) > int64(e.cfg.maxHandshakes) {
		e.handshakes.Add(-1)
		e.cfg.logger.Debug("handshake refused: too many in progress", "max", e.cfg.maxHandshakes)
		httpError(w, codeTooManyHandshakes, "")
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			e.handshakes.Add(-1)
		}
	}
	defer release()
	if e.cfg.allowRequest != nil {
		if err := e.cfg.allowRequest(r); err != nil {
			httpError(w, codeForbidden, err.Error())
			return
		}
	}
	e.mu.Lock()
	closing := e.closing
	e.mu.Unlock()
	if closing {
		httpError(w, codeForbidden, "Server is shutting down")
		return
	}
	id := newSessionID()
	header := http.Header{}
	if e.cfg.cookie != nil {
		ck := *e.cfg.cookie
		ck.Value = id
		header.Add("Set-Cookie", ck.String())
	}
	if transport == TransportWebSocket {
		ws, err := e.upgrader().Upgrade(w, r, header)
		if err != nil {
			return // the upgrader has answered
		}
		nc := ws.NetConn() // sio reads and writes frames itself from now on
		c := e.newConn(id, r, TransportWebSocket)
		c.useWSLocked(nc) // c is not shared yet
		if !e.open(c) {
			nc.Close()
			return
		}
		release()
		e.runWebSocket(c, c.newWSReader(nc))
		return
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	c := e.newConn(id, r, TransportPolling)
	if !e.open(c) {
		httpError(w, codeForbidden, "Server is shutting down")
		return
	}
	release()
	c.servePoll(w, r)
}

// open registers c, queues its open packet, starts its heartbeat and hands
// it to the application. It reports false if the engine is shutting down.
func (e *Engine) open(c *Conn) bool {
	upgrades := []Transport{}
	if c.transport == TransportPolling && e.cfg.allowUpgrades && slices.Contains(e.cfg.transports, TransportWebSocket) {
		upgrades = append(upgrades, TransportWebSocket)
	}
	// The open packet holds exactly these keys, in Node's order.
	open, _ := json.Marshal(struct {
		SID          string      `json:"sid"`
		Upgrades     []Transport `json:"upgrades"`
		PingInterval int64       `json:"pingInterval"`
		PingTimeout  int64       `json:"pingTimeout"`
		MaxPayload   int         `json:"maxPayload"`
	}{c.id, upgrades, e.cfg.pingInterval.Milliseconds(), e.cfg.pingTimeout.Milliseconds(), e.cfg.maxPayload})

	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return false
	}
	e.conns[c.id] = c
	if c.transport == TransportWebSocket {
		e.handlers.Add(1) // done when its reader returns
	}
	e.mu.Unlock()

	c.mu.Lock()
	c.queue = append(c.queue, packet{typ: packetOpen, data: open})
	c.wakeLocked()
	c.mu.Unlock()
	c.startHeartbeat()
	c.log().Debug("engine.io session opened")
	e.onConn(c)
	return true
}

// track counts one more WebSocket handler in e.handlers, unless the engine
// is closing.
func (e *Engine) track() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return false
	}
	e.handlers.Add(1)
	return true
}

// remove forgets a finished session.
func (e *Engine) remove(c *Conn) {
	e.mu.Lock()
	delete(e.conns, c.id)
	if e.closing && len(e.conns) == 0 && e.drained != nil {
		close(e.drained)
		e.drained = nil
	}
	e.mu.Unlock()
}

// Close closes every connection at once, without waiting for anything to
// be written, and refuses new ones. It may be called any number of times.
func (e *Engine) Close() error {
	for _, c := range e.beginShutdown() {
		c.closeWith(ReasonForcedClose, 0)
	}
	e.handlers.Wait()
	return nil
}

// Shutdown closes the engine gracefully: it refuses new sessions, sends each
// connected client a close packet after what was already queued for it, and
// waits until every session has ended and every goroutine it started has
// returned, or ctx is done. In the latter case it closes what remains at
// once and returns ctx's error. A long-polling client whose next request
// does not come is let go after the ping timeout.
//
// [http.Server.Shutdown] does not wait for WebSocket connections, which it
// no longer owns: call this method beside it.
func (e *Engine) Shutdown(ctx context.Context) error {
	conns := e.beginShutdown()
	e.mu.Lock()
	var drained chan struct{}
	if len(e.conns) > 0 {
		if e.drained == nil {
			e.drained = make(chan struct{})
		}
		drained = e.drained
	}
	e.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		farewell := c.onShutdown
		c.mu.Unlock()
		if farewell != nil {
			farewell()
		}
		c.closeWith(ReasonServerShutdown, packetClose)
	}
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			e.Close()
			return ctx.Err()
		}
	}
	done := make(chan struct{})
	go func() { e.handlers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		e.Close()
		<-done
		return ctx.Err()
	}
}

func (e *Engine) beginShutdown() []*Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closing = true
	conns := make([]*Conn, 0, len(e.conns))
	for _, c := range e.conns {
		conns = append(conns, c)
	}
	return conns
}

// newSessionID returns 15 random bytes in URL-safe base64: 20 characters,
// the size and alphabet of Node's session ids.
func newSessionID() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.URLEncoding.EncodeToString(b[:])
}

// checkCORS applies the origin policy. It answers the request itself, and
// reports false, when the origin is refused or the request is a preflight.
func (e *Engine) checkCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if !e.originAllowed(r) {
		httpError(w, codeForbidden, "Origin not allowed")
		return false
	}
	if !sameOrigin(r, origin) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET,POST")
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
				h.Set("Access-Control-Allow-Headers", rh)
				h.Add("Vary", "Access-Control-Request-Headers")
			}
			h.Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			return false
		}
	}
	return true
}

// originAllowed reports whether r's Origin header, if any, is the server's
// own or in the allowlist.
func (e *Engine) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || sameOrigin(r, origin) {
		return true
	}
	for _, o := range e.cfg.origins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func (e *Engine) upgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		HandshakeTimeout: e.cfg.upgradeTimeout,
		CheckOrigin:      e.originAllowed,
		// gorilla/websocket does the handshake only; sio reads and writes
		// the frames itself (wsread.go, transport_ws.go). With no sizes set,
		// the handshake reuses net/http's buffers rather than allocating
		// its own.
	}
}

// remoteAddr is the client's address as the handshake request saw it.
func remoteAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// Handshake describes the HTTP request that opened a connection. Of the
// request itself only its header map and its context's values are kept.
type Handshake struct {
	// Header holds the request's headers: the request's own map, which
	// nothing changes once the handshake is over (copying it cost each
	// connection half a kilobyte). Read it; do not modify it.
	Header http.Header
	// RawQuery is the URL's query string, without the '?', EIO and
	// transport included; [Handshake.Query] parses it. The string rather
	// than the parsed map is kept: a map cost each connection 400 bytes.
	RawQuery string
	// RemoteAddr is the client's IP address, without the port.
	RemoteAddr string
	// Secure reports whether the request came over TLS.
	Secure bool
	// Time is when the connection was opened.
	Time time.Time
	// Auth is the raw JSON of the auth payload the client sent with its
	// Socket.IO CONNECT packet ({} when it sent none). It is nil for a bare
	// Engine.IO connection.
	Auth json.RawMessage
}

// Query returns the URL's query parameters, parsed from RawQuery: a new
// map on each call, as [url.URL.Query] returns. Malformed pairs are
// skipped.
func (h Handshake) Query() url.Values {
	v, _ := url.ParseQuery(h.RawQuery)
	return v
}

func newHandshake(r *http.Request) Handshake {
	return Handshake{
		Header:     r.Header,
		RawQuery:   strings.Clone(r.URL.RawQuery), // not the request line it is cut from
		RemoteAddr: remoteAddr(r),
		Secure:     r.TLS != nil,
		Time:       time.Now(),
	}
}

// errorsIsClosed reports whether err is a normal end of a network
// connection rather than something worth a warning.
func errorsIsClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, errWSClosed) || errors.Is(err, io.EOF)
}
