package sio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// client is the Socket.IO side of one Engine.IO connection: it decodes
// packets, reassembles binary ones, and routes them to the connection's
// sockets, one per namespace joined.
type client struct {
	srv  *Server
	conn *Conn

	mu           sync.Mutex
	sockets      []*Socket   // one per namespace joined: few, so a slice
	connectTimer *time.Timer // nil once stopped
	shuttingDown bool        // the server said goodbye: no new sockets

	// Owned by the connection's dispatch (one call at a time).
	partial     *sioPacket // a binary packet waiting for attachments
	attachments [][]byte
}

// onConn is the Engine's connection handler.
func (s *Server) onConn(c *Conn) {
	cl := &client{srv: s, conn: c}
	cl.connectTimer = time.AfterFunc(s.cfg.connectTimeout, cl.connectTimedOut)
	c.OnMessage(cl.onMessage)
	c.OnClose(cl.onClose)
	if s.cfg.shutdownNotify {
		c.setOnShutdown(cl.shutdown)
	}
}

// shutdown sends every socket of the connection a DISCONNECT, after what
// is already queued, and ends them with [ReasonServerShutdown]; the Engine
// closes the connection next.
func (cl *client) shutdown() {
	cl.mu.Lock()
	cl.shuttingDown = true
	cl.mu.Unlock()
	for _, s := range cl.socketList() {
		s.close(ReasonServerShutdown, true)
	}
}

// connectTimedOut closes a connection that joined no namespace in time.
func (cl *client) connectTimedOut() {
	cl.mu.Lock()
	n := len(cl.sockets)
	cl.mu.Unlock()
	if n == 0 {
		cl.conn.log().Debug("no namespace joined within the connect timeout")
		cl.conn.Close()
	}
}

// fail closes the connection because the client broke the protocol.
func (cl *client) fail(err error) {
	cl.conn.log().Debug("socket.io protocol error", "err", err)
	cl.conn.closeWith(ReasonParseError, 0)
}

func (cl *client) send(enc encoded) error {
	return cl.conn.sendMessages(enc, false)
}

// onMessage decodes one Engine.IO message.
func (cl *client) onMessage(m Message) {
	if cl.partial != nil {
		if !m.Binary {
			cl.fail(fmt.Errorf("%w: text while attachments were expected", errBadSIOPacket))
			return
		}
		cl.attachments = append(cl.attachments, m.Data)
		if len(cl.attachments) < cl.partial.attachments {
			return
		}
		p, atts := *cl.partial, cl.attachments
		cl.partial, cl.attachments = nil, nil
		cl.handle(p, atts)
		return
	}
	if m.Binary {
		cl.fail(fmt.Errorf("%w: unexpected binary message", errBadSIOPacket))
		return
	}
	p, err := decodeSIOPacket(m.Data, cl.srv.cfg.maxAttachments)
	if err != nil {
		cl.fail(err)
		return
	}
	if p.attachments > 0 {
		partial := p // a copy, so that p itself stays off the heap
		cl.partial = &partial
		cl.attachments = make([][]byte, 0, p.attachments)
		return
	}
	cl.handle(p, nil)
}

// handle acts on a complete packet.
func (cl *client) handle(p sioPacket, attachments [][]byte) {
	if p.typ == sioConnect {
		cl.connect(p)
		return
	}
	cl.mu.Lock()
	s := cl.socketLocked(p.nsp)
	cl.mu.Unlock()
	if s == nil {
		// As Node does: a packet for a namespace the client has not
		// joined ends the connection.
		cl.fail(fmt.Errorf("%w: packet for namespace %q, which the client has not joined", errBadSIOPacket, p.nsp))
		return
	}
	switch p.typ {
	case sioDisconnect:
		s.close(ReasonClientNamespaceDisconnect, false)
	case sioEvent, sioBinaryEvent:
		args, err := parseValidArgs(p.data, attachments) // p.check validated it
		if err != nil {
			cl.fail(err)
			return
		}
		event, args, err := args.shiftEvent()
		if err != nil {
			cl.fail(err)
			return
		}
		s.receive(event, args, p.id, p.hasID)
	case sioAck, sioBinaryAck:
		args, err := parseValidArgs(p.data, attachments) // p.check validated it
		if err != nil {
			cl.fail(err)
			return
		}
		s.resolveAck(p.id, args)
	}
}

// connect starts a socket for the namespace a CONNECT packet asks for.
func (cl *client) connect(p sioPacket) {
	cl.mu.Lock()
	dup := cl.socketLocked(p.nsp) != nil
	closing := cl.shuttingDown
	cl.mu.Unlock()
	if closing {
		cl.send(encodeConnectError(p.nsp, "Server is shutting down", nil))
		return
	}
	if dup {
		cl.fail(fmt.Errorf("%w: second CONNECT to %q", errBadSIOPacket, p.nsp))
		return
	}
	ns := cl.srv.lookup(p.nsp)
	if ns == nil {
		cl.send(encodeConnectError(p.nsp, "Invalid namespace", nil))
		return
	}
	cl.mu.Lock()
	full := len(cl.sockets) >= cl.srv.cfg.maxNamespaces
	cl.mu.Unlock()
	if full {
		cl.send(encodeConnectError(p.nsp, "Too many namespaces", nil))
		return
	}
	auth := p.data
	if len(auth) == 0 {
		auth = []byte("{}")
	}
	s := newSocket(cl, ns, auth)
	cl.mu.Lock()
	cl.sockets = append(cl.sockets, s)
	cl.mu.Unlock()
	s.exec.pushControl(s.runConnect)
}

// onClose ends every socket when the connection ends.
func (cl *client) onClose(reason Reason) {
	cl.stopConnectTimer()
	for _, s := range cl.socketList() {
		s.close(reason, false)
	}
}

// socketLocked returns the client's socket in namespace nsp, or nil. It
// needs cl.mu.
func (cl *client) socketLocked(nsp string) *Socket {
	for _, s := range cl.sockets {
		if s.ns.name == nsp {
			return s
		}
	}
	return nil
}

// stopConnectTimer stops the connect timeout, for good.
func (cl *client) stopConnectTimer() {
	cl.mu.Lock()
	t := cl.connectTimer
	cl.connectTimer = nil
	cl.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}

// socketList returns the client's sockets, one per namespace joined.
func (cl *client) socketList() []*Socket {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return slices.Clone(cl.sockets)
}

func (cl *client) remove(s *Socket) {
	cl.mu.Lock()
	if i := slices.Index(cl.sockets, s); i >= 0 {
		cl.sockets = slices.Delete(cl.sockets, i, i+1)
	}
	cl.mu.Unlock()
}

type socketState uint8

const (
	socketConnecting socketState = iota
	socketConnected
	socketDisconnected
)

// Socket is one client's membership of one [Namespace].
//
// Its methods are safe to call from any goroutine. The handlers of one
// socket run one at a time, in the order the client sent the events, on a
// goroutine of their own (not the connection's reader): a handler may
// block, even on [Socket.EmitWithAck] to the same client, and only delays
// the later events of its own socket.
type Socket struct {
	id        string
	ns        *Namespace
	client    *client
	handshake Handshake
	ctx       context.Context
	cancel    context.CancelFunc
	exec      *serial

	mu        sync.Mutex
	state     socketState
	connected bool     // has been connected, so its events may run
	rooms     []string // joined, its own id aside: a slice, as a socket is in few rooms
	// leftOwnRoom: the socket left the room of its own id. Written under
	// ns.mu and mu, read under either.
	leftOwnRoom bool
	acks        map[uint64]func(Args, bool) // pending acknowledgements by id
	data        any
}

func newSocket(cl *client, ns *Namespace, auth []byte) *Socket {
	// The connection's context without its cancellation: close cancels
	// this one, and the connection closes every socket as it ends, so the
	// connection's context need not keep a list of its sockets' contexts.
	ctx, cancel := context.WithCancel(context.WithoutCancel(cl.conn.ctx))
	hs := cl.conn.handshake
	hs.Auth = append([]byte(nil), auth...)
	return &Socket{
		id:        newSessionID(),
		ns:        ns,
		client:    cl,
		handshake: hs,
		ctx:       ctx,
		cancel:    cancel,
		exec:      newSerial(cl.srv.cfg.maxPendingEvents, &cl.srv.running),
	}
}

// ID returns the socket's id, unique to this socket (not the connection's
// session id).
func (s *Socket) ID() string { return s.id }

// Namespace returns the namespace the socket belongs to.
func (s *Socket) Namespace() *Namespace { return s.ns }

// Handshake returns the details of the connection's handshake and the
// auth payload the client sent for this namespace.
func (s *Socket) Handshake() Handshake { return s.handshake }

// Context returns the socket's context: it carries the values of the
// handshake request's context (what the application's HTTP middleware put
// there) and is cancelled when the socket disconnects.
func (s *Socket) Context() context.Context { return s.ctx }

// Conn returns the underlying Engine.IO connection, which the client's
// sockets in other namespaces share.
func (s *Socket) Conn() *Conn { return s.client.conn }

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == socketConnected
}

// Data returns the value stored with [Socket.SetData].
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData stores an application value with the socket, such as the user
// it belongs to.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// runConnect runs the middleware and, if none refuses, connects the
// socket. It is the first task of the socket's serial executor.
func (s *Socket) runConnect() {
	h := s.ns.h.load()
	for _, mw := range h.middleware {
		var err error
		if s.client.conn.call(func() { err = mw(s.ctx, s) }) {
			err = errors.New("server error")
		}
		if err != nil {
			var data any
			var ce *ClientError
			if errors.As(err, &ce) {
				data = ce.Data
			}
			s.client.remove(s)
			s.mu.Lock()
			s.state = socketDisconnected
			s.mu.Unlock()
			s.cancel()
			s.client.send(encodeConnectError(s.ns.name, err.Error(), data))
			return
		}
	}
	s.mu.Lock()
	if s.state != socketConnecting {
		s.mu.Unlock()
		return
	}
	s.state = socketConnected
	s.connected = true
	s.mu.Unlock()
	s.client.stopConnectTimer() // as in Node, only a successful connection stops it
	s.ns.add(s)
	s.client.send(encodeConnect(s.ns.name, s.id))
	for _, f := range h.onConnect {
		if s.client.conn.call(func() { f(s.ctx, s) }) {
			s.close(ReasonHandlerPanic, true)
			return
		}
	}
}

// receive queues an event for the socket's handlers.
func (s *Socket) receive(event string, args Args, id uint64, hasID bool) {
	if c := s.client.conn; c.mayDefer() && s.exec.tryInline() {
		c.deferToReader(func() {
			s.runEvent(event, args, id, hasID)
			s.exec.inlineDone()
		})
		return
	}
	s.exec.push(func() { s.runEvent(event, args, id, hasID) }, s.ctx.Done())
}

func (s *Socket) runEvent(event string, args Args, id uint64, hasID bool) {
	s.mu.Lock()
	ok := s.connected
	s.mu.Unlock()
	if !ok {
		return
	}
	h := s.ns.h.load()
	var (
		reply []any
		err   error
	)
	panicked := s.client.conn.call(func() {
		for _, mw := range h.eventMiddleware {
			if err = mw(s.ctx, s, event, args); err != nil {
				return
			}
		}
		for _, f := range h.onAny {
			f(s.ctx, s, event, args)
		}
		if f := h.events[event]; f != nil {
			reply, err = f(s.ctx, s, args)
		} else {
			s.client.conn.log().Debug("no handler for event", "nsp", s.ns.name, "event", event)
		}
	})
	if panicked {
		s.close(ReasonHandlerPanic, true)
		return
	}
	if !hasID || (reply == nil && err == nil) {
		return
	}
	if err != nil {
		reply = []any{ackError(err)}
	}
	enc, encErr := encodeAck(s.ns.name, id, reply)
	if encErr != nil {
		s.client.conn.log().Warn("sio: cannot encode acknowledgement", "event", event, "err", encErr)
		enc, _ = encodeAck(s.ns.name, id, []any{ackError(encErr)})
	}
	s.client.send(enc)
}

func errReservedEmit(event string) error {
	return fmt.Errorf("sio: %q is a reserved event name", event)
}

// ackError is the documented shape of an error reply.
func ackError(err error) any {
	var ce *ClientError
	if errors.As(err, &ce) && ce.Data != nil {
		return struct {
			Error string `json:"error"`
			Data  any    `json:"data"`
		}{ce.Message, ce.Data}
	}
	return struct {
		Error string `json:"error"`
	}{err.Error()}
}

// Emit sends an event with its arguments to the client. It returns as soon
// as the packet is queued, and never waits for the network. Arguments are
// encoded with encoding/json; every []byte among them, at any depth, is sent
// as a binary attachment. Emit returns [ErrClosed] if the socket is not
// connected, and an error if an argument cannot be encoded or the event's
// name is reserved ("connect", "connect_error", "disconnect",
// "disconnecting", "newListener", "removeListener"), as in Node.
func (s *Socket) Emit(event string, args ...any) error {
	if reservedEvents[event] {
		return errReservedEmit(event)
	}
	if !s.Connected() {
		return ErrClosed
	}
	s.notifyOutgoing(event, args)
	enc, err := encodeEvent(s.ns.name, 0, false, event, args)
	if err != nil {
		return err
	}
	return s.client.send(enc)
}

func (s *Socket) notifyOutgoing(event string, args []any) {
	for _, f := range s.ns.h.load().onAnyOutgoing {
		f(s, event, args)
	}
}

// Disconnect disconnects the socket from its namespace: the client is told
// (its socket reports "io server disconnect" and does not reconnect by
// itself), and the disconnection handlers run with
// [ReasonServerNamespaceDisconnect]. The connection and the client's
// sockets in other namespaces stay. It may be called any number of times.
func (s *Socket) Disconnect() {
	s.close(ReasonServerNamespaceDisconnect, true)
}

// DisconnectAll disconnects every socket of the client's connection, as
// [Socket.Disconnect] does, then closes the connection itself.
func (s *Socket) DisconnectAll() {
	cl := s.client
	for _, x := range cl.socketList() {
		x.close(ReasonServerNamespaceDisconnect, true)
	}
	cl.conn.closeGracefully(ReasonForcedClose)
}

// close ends the socket. With notify, the client is sent a DISCONNECT.
// The socket stops receiving at once; its disconnection handlers run on
// its executor, after the events already received.
func (s *Socket) close(reason Reason, notify bool) {
	s.mu.Lock()
	if s.state == socketDisconnected {
		s.mu.Unlock()
		return
	}
	was := s.state
	s.state = socketDisconnected
	acks := s.acks
	s.acks = nil
	s.mu.Unlock()
	for _, f := range acks {
		f(Args{}, false)
	}
	s.client.remove(s)
	if notify && was == socketConnected {
		s.client.send(encodeDisconnect(s.ns.name))
	}
	s.cancel()
	if was != socketConnected {
		return
	}
	s.exec.pushLast(func() {
		h := s.ns.h.load()
		for _, f := range h.onDisconnecting {
			s.client.conn.call(func() { f(s, reason) })
		}
		s.ns.remove(s)
		for _, f := range h.onDisconnect {
			s.client.conn.call(func() { f(s, reason) })
		}
	})
}
