package sio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Reason says why a connection or a socket ended. The values are the ones
// the Node.js reference server gives, plus a few of sio's own.
type Reason string

// Reasons for the end of a connection or a socket.
const (
	// ReasonTransportClose: the client closed the connection, or it went
	// away (a closed WebSocket, an aborted long-polling request).
	ReasonTransportClose Reason = "transport close"
	// ReasonTransportError: the connection failed, or the client broke the
	// transport's rules (an oversized payload, overlapping requests).
	ReasonTransportError Reason = "transport error"
	// ReasonPingTimeout: the client did not answer a ping in time.
	ReasonPingTimeout Reason = "ping timeout"
	// ReasonParseError: the client sent a packet that does not decode.
	ReasonParseError Reason = "parse error"
	// ReasonForcedClose: the server closed the connection.
	ReasonForcedClose Reason = "forced close"
	// ReasonServerShutdown: the server is shutting down.
	ReasonServerShutdown Reason = "server shutting down"
	// ReasonServerNamespaceDisconnect: the server disconnected the socket.
	ReasonServerNamespaceDisconnect Reason = "server namespace disconnect"
	// ReasonClientNamespaceDisconnect: the client disconnected the socket.
	ReasonClientNamespaceDisconnect Reason = "client namespace disconnect"
	// ReasonSlowClient: the client read too slowly and its send queue
	// reached the limit set by [WithSendQueueLimit]. (sio only.)
	ReasonSlowClient Reason = "slow client"
	// ReasonHandlerPanic: an application handler panicked while handling
	// this client's input; the panic was recovered and logged. (sio only.)
	ReasonHandlerPanic Reason = "handler panic"
)

// ErrClosed is returned when sending on a connection or socket that has
// ended. It wraps [net.ErrClosed].
var ErrClosed = fmt.Errorf("sio: connection closed: %w", net.ErrClosed)

// Message is one Engine.IO message: text (UTF-8) or binary.
type Message struct {
	Data   []byte
	Binary bool
}

// queueOverhead is what each queued packet counts for beyond its data, so
// that a flood of empty packets is bounded too.
const queueOverhead = 16

type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // a close packet is queued, waiting to be written
	stateClosed
)

type upgradeState uint8

const (
	upgradeNone    upgradeState = iota
	upgradeStarted              // a WebSocket is open beside the polling session
	upgradeProbed               // the probe was answered: release pending polls
)

// Conn is one Engine.IO session: one client, over long-polling, WebSocket,
// or long-polling upgraded to WebSocket.
//
// Its methods are safe to call from any goroutine. Messages from the client
// are handed to the [Conn.OnMessage] handler one at a time, in the order the
// client sent them.
type Conn struct {
	e         *Engine
	id        string
	handshake Handshake
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{} // closed when the session has ended

	recvMu   sync.Mutex // serialises dispatch across transports
	inlining bool       // the WebSocket reader dispatches (under recvMu)
	deferred func()     // a handler the reader is to run (under recvMu)

	mu           sync.Mutex
	onMessage    func(Message)
	onClose      func(Reason)
	onShutdown   func() // called by Engine.Shutdown before the close packet
	state        connState
	upgrade      upgradeState
	dispatching  bool // the message handler is running
	closePending bool // the close handler waits for it to return
	polling      bool // a long-polling GET is waiting
	posting      bool // a long-polling POST is being read
	awaitPong    bool // a ping is out (the flags sit together: no padding between them)
	reason       Reason
	transport    Transport
	queue        []packet
	spare        []packet // the other half of a double buffer
	queuedBytes  int
	ws           net.Conn    // the WebSocket's connection, once on WebSocket
	pingDue      time.Time   // when the next ping is due
	pongDue      time.Time   // when an awaited pong is late
	heartbeat    *time.Timer // due at pingDue, or at pongDue while a pong is awaited
	closeTimer   *time.Timer

	pollWake chan struct{}   // wakes a waiting long-polling GET; nil on a WebSocket-only session
	writing  bool            // a WebSocket writer is running (under mu)
	writers  sync.WaitGroup  // the WebSocket writers running
	wsRaw    syscall.RawConn // ws's file descriptor, for writeNow; nil if it has none
	fl       *flusher        // writes the queue when it has something; nil: a writer goroutine does
	wsMu     sync.Mutex      // held while frames are written to ws
	wsDue    time.Time       // ws's write deadline (under wsMu)

	rd     *wsReader     // the WebSocket reader's source, set before it starts
	inline atomic.Uint64 // odd while the reader runs a handler; see runInline
	watch  *time.Timer   // releases a reader held by a handler; only the current reader touches it
}

func (e *Engine) newConn(id string, r *http.Request, t Transport) *Conn {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &Conn{
		e:         e,
		id:        id,
		handshake: newHandshake(r),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		transport: t,
	}
	if t == TransportPolling { // sends to a nil pollWake fall to their default case
		c.pollWake = make(chan struct{}, 1)
	}
	return c
}

// ID returns the session id: 20 URL-safe characters from crypto/rand.
func (c *Conn) ID() string { return c.id }

// Handshake returns what the handshake request carried.
func (c *Conn) Handshake() Handshake { return c.handshake }

// Context returns a context that carries the values of the handshake
// request's context and is cancelled when the connection ends.
func (c *Conn) Context() context.Context { return c.ctx }

// Transport returns the transport in use now.
func (c *Conn) Transport() Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// OnMessage sets the function that receives the client's messages. Calls
// never overlap, and come in the order the client sent the messages. The
// message's Data belongs to the function. A panic in it is recovered,
// logged, and closes the connection with [ReasonHandlerPanic].
func (c *Conn) OnMessage(f func(Message)) {
	c.mu.Lock()
	c.onMessage = f
	c.mu.Unlock()
}

// OnClose sets the function called once when the connection ends, with the
// reason. It never overlaps a call of the message handler: if the
// connection ends while one runs, it is called when that one returns.
func (c *Conn) OnClose(f func(Reason)) {
	c.mu.Lock()
	c.onClose = f
	c.mu.Unlock()
}

// setOnShutdown sets a function that [Engine.Shutdown] calls before it
// queues the close packet: the Socket.IO layer's chance to say goodbye.
func (c *Conn) setOnShutdown(f func()) {
	c.mu.Lock()
	c.onShutdown = f
	c.mu.Unlock()
}

// Send queues m for the client and returns at once; it never waits for the
// network. Messages reach the client in the order of the Send calls. The
// connection keeps m.Data until it is written: do not change it afterwards.
// Send returns [ErrClosed] once the connection has ended, and closes the
// connection with [ReasonSlowClient] when its send queue is full.
func (c *Conn) Send(m Message) error {
	return c.send(packet{typ: packetMessage, data: m.Data, binary: m.Binary}, false)
}

var errQueueFull = errors.New("sio: send queue full")

// sendMessages queues msgs as one unit: no other packet comes between them,
// as a Socket.IO packet and its attachments require. A volatile unit is
// dropped, rather than the connection closed, when the queue is full.
func (c *Conn) sendMessages(msgs []Message, volatile bool) error {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	size := 0
	for _, m := range msgs {
		size += len(m.Data) + queueOverhead
	}
	if c.queuedBytes+size > c.e.cfg.sendQueueLimit {
		c.mu.Unlock()
		if !volatile {
			c.closeWith(ReasonSlowClient, 0)
		}
		return errQueueFull
	}
	for _, m := range msgs {
		c.queue = append(c.queue, packet{typ: packetMessage, data: m.Data, binary: m.Binary})
	}
	c.queuedBytes += size
	c.wakeLocked()
	c.mu.Unlock()
	return nil
}

func (c *Conn) send(p packet, volatile bool) error {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	size := len(p.data) + queueOverhead
	if c.queuedBytes+size > c.e.cfg.sendQueueLimit {
		c.mu.Unlock()
		if volatile {
			return errQueueFull
		}
		c.closeWith(ReasonSlowClient, 0)
		return errQueueFull
	}
	c.enqueueLocked(p)
	c.mu.Unlock()
	return nil
}

func (c *Conn) enqueueLocked(p packet) {
	c.queue = append(c.queue, p)
	c.queuedBytes += len(p.data) + queueOverhead
	c.wakeLocked()
}

// wakeLocked wakes whoever drains the queue on the current transport.
func (c *Conn) wakeLocked() {
	if c.transport == TransportWebSocket {
		c.startWriterLocked()
		return
	}
	select {
	case c.pollWake <- struct{}{}:
	default:
	}
}

// takeLocked removes and returns everything queued. The returned slice is
// valid until the next call.
func (c *Conn) takeLocked() []packet {
	batch := c.queue
	clear(c.spare)
	c.queue, c.spare = c.spare[:0], batch
	c.queuedBytes = 0
	return batch
}

// Close closes the connection. The client sees its transport close and, if
// it is a Socket.IO client, reconnects. A WebSocket is closed at once; a
// long-polling client is answered a close packet, after what was already
// queued, on its waiting or next GET (for at most a ping timeout), since
// that is the only way to tell it. The close handler gets
// [ReasonForcedClose] at once. Close may be called any number of times.
func (c *Conn) Close() error {
	final := packetType(0)
	if c.Transport() == TransportPolling {
		final = packetClose
	}
	c.closeWith(ReasonForcedClose, final)
	return nil
}

// closeGracefully sends the client a close packet after everything already
// queued, then ends the connection.
func (c *Conn) closeGracefully(reason Reason) {
	c.closeWith(reason, packetClose)
}

// nextPollWait is how long a closing long-polling session waits for a GET
// that is already on its way: the client polls again as soon as it has read
// a response, so one that does not come within it is not coming.
const nextPollWait = time.Second

// closeWith ends the connection. With a final packet, the session lingers
// until that packet has been written after what is queued (on long-polling,
// for at most a ping timeout): packetClose tells the client the server
// closed; packetNoop, after the client closed a polling session itself,
// answers a GET that raced with the client's close, as Node does. With 0
// the session ends at once.
func (c *Conn) closeWith(reason Reason, final packetType) {
	c.mu.Lock()
	if c.state != stateOpen {
		// A session that is already closing gracefully ends at once when
		// closed without a final packet (Close, Engine.Close after a
		// Shutdown deadline, a failed transport); its reason stays.
		cut := c.state == stateClosing && final == 0
		c.mu.Unlock()
		if cut {
			c.finish()
		}
		return
	}
	c.reason = reason
	c.stopTimersLocked()
	if final != 0 {
		c.state = stateClosing
		if final == packetNoop {
			c.queue = c.queue[:0]
		}
		c.queue = append(c.queue, packet{typ: final})
		c.wakeLocked()
		grace := c.e.cfg.pingTimeout
		if final == packetNoop {
			// Only a GET already on its way is worth waiting for.
			grace = min(grace, nextPollWait)
		}
		c.closeTimer = time.AfterFunc(grace, c.finish)
		c.mu.Unlock()
	} else {
		c.mu.Unlock()
		c.finish()
	}
	c.log().Debug("engine.io session closing", "reason", string(reason))
	c.mu.Lock()
	if c.dispatching {
		c.closePending = true
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.fireClose()
}

// fireClose calls the close handler, once.
func (c *Conn) fireClose() {
	c.mu.Lock()
	f := c.onClose
	c.onClose, c.onMessage = nil, nil
	reason := c.reason
	c.mu.Unlock()
	if f != nil {
		f(reason)
	}
}

// finish ends the session for good: the WebSocket, if any, is closed, a
// waiting GET is released, and the engine forgets the session.
func (c *Conn) finish() {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	c.state = stateClosed
	c.stopTimersLocked()
	if c.closeTimer != nil {
		c.closeTimer.Stop()
	}
	c.queue, c.spare, c.queuedBytes = nil, nil, 0
	ws := c.ws
	c.mu.Unlock()
	close(c.done)
	c.cancel()
	if ws != nil {
		// A close frame, unless a writer is busy with a client that does not
		// read: then closing the connection is all there is to do.
		if c.wsMu.TryLock() {
			frame := appendFrameHeader(nil, opClose, 2)
			c.wsDue = time.Now().Add(time.Second)
			ws.SetWriteDeadline(c.wsDue)
			ws.Write(append(frame, closeNormal...))
			c.wsMu.Unlock()
		}
		ws.Close()
	}
	c.e.remove(c)
}

func (c *Conn) stopTimersLocked() {
	if c.heartbeat != nil {
		c.heartbeat.Stop()
	}
}

// startHeartbeat arms the heartbeat. The server pings every ping interval
// and gives the client a ping timeout to answer; the next ping is scheduled
// when the pong arrives. One timer serves both deadlines, since only one is
// pending at a time: a timer is about a tenth of what an idle connection
// costs.
func (c *Conn) startHeartbeat() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pingDue = time.Now().Add(c.e.cfg.pingInterval)
	c.heartbeat = time.AfterFunc(c.e.cfg.pingInterval, c.beat)
}

// beat runs when the heartbeat timer fires: it sends the ping that is due,
// or ends the session whose pong is late. A run that finds nothing due yet
// (the timer fired as a pong moved the deadline) sets the timer again for
// what is due next.
func (c *Conn) beat() {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	if c.awaitPong {
		if !now.Before(c.pongDue) {
			c.mu.Unlock()
			c.closeWith(ReasonPingTimeout, 0)
			return
		}
		c.heartbeat.Reset(c.pongDue.Sub(now))
		c.mu.Unlock()
		return
	}
	if now.Before(c.pingDue) {
		c.heartbeat.Reset(c.pingDue.Sub(now))
		c.mu.Unlock()
		return
	}
	c.enqueueLocked(packet{typ: packetPing})
	c.awaitPong = true
	// Count from when the ping was due, not from when this timer ran: a
	// busy machine must not stretch the deadline.
	c.pongDue = c.pingDue.Add(c.e.cfg.pingTimeout)
	c.heartbeat.Reset(c.pongDue.Sub(now))
	c.mu.Unlock()
}

// expired reports whether the client's pong is overdue, even if the timer
// that notices it has not run yet, and if so closes the session.
func (c *Conn) expired() bool {
	c.mu.Lock()
	late := c.state == stateOpen && c.awaitPong && !time.Now().Before(c.pongDue)
	c.mu.Unlock()
	if late {
		c.closeWith(ReasonPingTimeout, 0)
	}
	return late
}

func (c *Conn) pong() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.awaitPong || c.state != stateOpen {
		return
	}
	c.awaitPong = false
	c.pingDue = time.Now().Add(c.e.cfg.pingInterval)
	c.heartbeat.Reset(c.e.cfg.pingInterval)
}

// handlePacket acts on one packet from the client, on any transport.
func (c *Conn) handlePacket(p packet) {
	switch p.typ {
	case packetMessage:
		c.dispatch(Message{Data: p.data, Binary: p.binary})
	case packetPong:
		c.pong()
	case packetPing:
		c.send(packet{typ: packetPong, data: p.data}, true)
	case packetClose:
		final := packetType(0)
		if c.Transport() == TransportPolling {
			final = packetNoop
		}
		c.closeWith(ReasonTransportClose, final)
	case packetNoop, packetUpgrade, packetOpen:
		// Nothing to do: noops keep a transport busy, and an upgrade
		// packet means something only on a probing WebSocket.
	}
}

// dispatch hands m to the message handler, recovering a panic.
func (c *Conn) dispatch(m Message) {
	c.dispatchFrom(m, false)
}

// dispatchFrom hands m to the message handler. From the WebSocket reader,
// the handler may leave work for the reader to run once the dispatch is
// over (see deferToReader), which it returns.
func (c *Conn) dispatchFrom(m Message, reader bool) (deferred func()) {
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	c.mu.Lock()
	f := c.onMessage
	if c.state != stateOpen || f == nil {
		c.mu.Unlock()
		return
	}
	c.dispatching = true
	c.mu.Unlock()

	c.inlining = reader
	panicked := c.call(func() { f(m) })
	c.inlining = false
	deferred, c.deferred = c.deferred, nil

	c.mu.Lock()
	c.dispatching = false
	pending := c.closePending
	c.closePending = false
	c.mu.Unlock()
	if panicked {
		c.closeWith(ReasonHandlerPanic, 0)
	}
	if pending {
		c.fireClose()
	}
	return deferred
}

// call runs f, recovering and logging a panic, which it reports.
func (c *Conn) call(f func()) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			c.log().Error("sio: handler panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	f()
	return false
}

// isOpen reports whether the session still takes input.
func (c *Conn) isOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateOpen
}

// log returns the connection's logger: the server's, with the session id
// added to each record. It costs nothing until a record is enabled, so a
// connection keeps no logger of its own.
func (c *Conn) log() connLog { return connLog{c.e.cfg.logger, c.id} }

type connLog struct {
	l   *slog.Logger
	sid string
}

func (l connLog) Debug(msg string, args ...any) {
	if l.l.Enabled(context.Background(), slog.LevelDebug) {
		l.log(slog.LevelDebug, msg, args)
	}
}

func (l connLog) Warn(msg string, args ...any) {
	if l.l.Enabled(context.Background(), slog.LevelWarn) {
		l.log(slog.LevelWarn, msg, args)
	}
}

func (l connLog) Error(msg string, args ...any) {
	if l.l.Enabled(context.Background(), slog.LevelError) {
		l.log(slog.LevelError, msg, args)
	}
}

// log writes an enabled record. It is kept apart from the level checks:
// a slog.Record makes a large stack frame, which a goroutine should not
// have to grow its stack for when the record is not even enabled.
//
//go:noinline
func (l connLog) log(level slog.Level, msg string, args []any) {
	var pc [1]uintptr
	runtime.Callers(3, pc[:]) // the caller of Debug, Warn or Error
	r := slog.NewRecord(time.Now(), level, msg, pc[0])
	r.AddAttrs(slog.String("sid", l.sid))
	r.Add(args...)
	l.l.Handler().Handle(context.Background(), r)
}
