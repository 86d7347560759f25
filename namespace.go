package sio

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Namespace is a communication channel of a [Server]: each client joins the
// namespaces it asks for, over one connection, and gets one [Socket] in
// each. Handlers and middleware are registered per namespace; register them
// before clients connect.
type Namespace struct {
	srv     *Server
	name    string
	h       *handlerTable
	match   func(string) bool // templates of dynamic namespaces only
	parent  *Namespace        // the template of a dynamic namespace
	adapter Adapter           // nil for a server on its own
	ackIDs  atomic.Uint64     // acknowledgement ids, unique in the namespace as in Node
	sseTable

	mu       sync.RWMutex
	sockets  map[string]*Socket
	rooms    map[string]map[*Socket]struct{}
	children []*Namespace // of a template
}

func newNamespace(s *Server, name string, h *handlerTable) *Namespace {
	return &Namespace{
		srv:     s,
		name:    name,
		h:       h,
		sockets: map[string]*Socket{},
		rooms:   map[string]map[*Socket]struct{}{},
	}
}

// Name returns the namespace's name, such as "/" or "/chat". A template
// made by [Server.OfFunc] has the empty name.
func (ns *Namespace) Name() string { return ns.name }

func (ns *Namespace) addChild(c *Namespace) {
	ns.mu.Lock()
	ns.children = append(ns.children, c)
	ns.mu.Unlock()
}

// Use adds connection middleware. Before a socket joins the namespace, each
// middleware runs in turn with the socket (its handshake, auth payload and
// context are ready; it is in no room yet); an error refuses the socket,
// and the client's connect_error event gets the error's text as its message
// (and, for a [*ClientError], its Data as data).
func (ns *Namespace) Use(mw func(ctx context.Context, s *Socket) error) {
	if mw == nil {
		panic("sio: Use with a nil middleware")
	}
	ns.h.update(func(t *handlers) { t.middleware = append(t.middleware, mw) })
}

// UseEvent adds event middleware, run for every event a socket of the
// namespace receives, before its handler. An error stops the event there:
// its handler does not run and, if the client asked for an
// acknowledgement, it gets the error as described at [OnAck].
func (ns *Namespace) UseEvent(mw func(ctx context.Context, s *Socket, event string, args Args) error) {
	if mw == nil {
		panic("sio: UseEvent with a nil middleware")
	}
	ns.h.update(func(t *handlers) { t.eventMiddleware = append(t.eventMiddleware, mw) })
}

// OnConnect adds a handler run when a socket has joined the namespace,
// after the client has been told so; emits from it reach the client after
// the connection.
func (ns *Namespace) OnConnect(f func(ctx context.Context, s *Socket)) {
	if f == nil {
		panic("sio: OnConnect with a nil handler")
	}
	ns.h.update(func(t *handlers) { t.onConnect = append(t.onConnect, f) })
}

// OnDisconnecting adds a handler run when a socket is about to leave the
// namespace, while it is still in its rooms.
func (ns *Namespace) OnDisconnecting(f func(s *Socket, reason Reason)) {
	if f == nil {
		panic("sio: OnDisconnecting with a nil handler")
	}
	ns.h.update(func(t *handlers) { t.onDisconnecting = append(t.onDisconnecting, f) })
}

// OnDisconnect adds a handler run when a socket has left the namespace and
// all its rooms. The socket's context is already cancelled.
func (ns *Namespace) OnDisconnect(f func(s *Socket, reason Reason)) {
	if f == nil {
		panic("sio: OnDisconnect with a nil handler")
	}
	ns.h.update(func(t *handlers) { t.onDisconnect = append(t.onDisconnect, f) })
}

// OnAny adds a catch-all handler, called for every event a socket of the
// namespace receives, with or without a handler of its own, before that
// handler.
func (ns *Namespace) OnAny(f func(ctx context.Context, s *Socket, event string, args Args)) {
	if f == nil {
		panic("sio: OnAny with a nil handler")
	}
	ns.h.update(func(t *handlers) { t.onAny = append(t.onAny, f) })
}

// OnAnyOutgoing adds a catch-all hook, called for every event emitted to
// one socket of the namespace ([Socket.Emit], [Socket.EmitWithAck]), before
// it is queued.
func (ns *Namespace) OnAnyOutgoing(f func(s *Socket, event string, args []any)) {
	if f == nil {
		panic("sio: OnAnyOutgoing with a nil handler")
	}
	ns.h.update(func(t *handlers) { t.onAnyOutgoing = append(t.onAnyOutgoing, f) })
}

// Sockets returns the sockets connected to the namespace on this server.
// A socket that has disconnected is not among them, even while its
// disconnection handlers have yet to run.
func (ns *Namespace) Sockets() []*Socket {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	out := make([]*Socket, 0, len(ns.sockets))
	for _, s := range ns.sockets {
		if s.Connected() {
			out = append(out, s)
		}
	}
	return out
}

// Socket returns the connected socket of the given id, or nil.
func (ns *Namespace) Socket(id string) *Socket {
	ns.mu.RLock()
	s := ns.sockets[id]
	ns.mu.RUnlock()
	if s == nil || !s.Connected() {
		return nil
	}
	return s
}

func (ns *Namespace) handlers() *handlerTable { return ns.h }
func (s *Server) handlers() *handlerTable     { return s.main.h }

// Registry is where event handlers are registered: a [*Namespace], or a
// [*Server] for its main namespace. It is implemented only by them.
type Registry interface {
	handlers() *handlerTable
}

// eventFunc is the untyped form every event handler is stored as. It
// returns the arguments of the acknowledgement, if any.
type eventFunc func(ctx context.Context, s *Socket, args Args) ([]any, error)

type handlers struct {
	middleware      []func(context.Context, *Socket) error
	eventMiddleware []func(context.Context, *Socket, string, Args) error
	onConnect       []func(context.Context, *Socket)
	onDisconnecting []func(*Socket, Reason)
	onDisconnect    []func(*Socket, Reason)
	onAny           []func(context.Context, *Socket, string, Args)
	onAnyOutgoing   []func(*Socket, string, []any)
	events          map[string]eventFunc
}

// handlerTable is copy-on-write: registration copies, dispatch reads
// without a lock.
type handlerTable struct {
	mu  sync.Mutex // serialises updates
	ptr atomic.Pointer[handlers]
}

func newHandlerTable() *handlerTable {
	t := &handlerTable{}
	t.ptr.Store(&handlers{events: map[string]eventFunc{}})
	return t
}

func (t *handlerTable) load() *handlers { return t.ptr.Load() }

func (t *handlerTable) update(f func(*handlers)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.ptr.Load()
	n := *old
	n.middleware = slices.Clone(old.middleware)
	n.eventMiddleware = slices.Clone(old.eventMiddleware)
	n.onConnect = slices.Clone(old.onConnect)
	n.onDisconnecting = slices.Clone(old.onDisconnecting)
	n.onDisconnect = slices.Clone(old.onDisconnect)
	n.onAny = slices.Clone(old.onAny)
	n.onAnyOutgoing = slices.Clone(old.onAnyOutgoing)
	n.events = maps.Clone(old.events)
	f(&n)
	t.ptr.Store(&n)
}

func (t *handlerTable) addEvent(event string, f eventFunc) {
	if reservedEvents[event] {
		panic(fmt.Sprintf("sio: %q is a reserved event name", event))
	}
	t.update(func(h *handlers) {
		if _, dup := h.events[event]; dup {
			panic(fmt.Sprintf("sio: a handler for event %q is already registered", event))
		}
		h.events[event] = f
	})
}

// On registers the handler of event: the first argument the client sends
// is decoded into a T with encoding/json ([]byte fields take binary
// attachments) and f is called with it. Extra arguments are ignored; for
// several or dynamic arguments use [OnRaw]. If the argument does not decode,
// f is not called and a client that asked for an acknowledgement gets an
// error (see [OnAck]). Registering a second handler for the same event, or
// one for a reserved name ("connect", "disconnect", ...), panics.
func On[T any](r Registry, event string, f func(ctx context.Context, s *Socket, v T)) {
	if f == nil {
		panic("sio: On with a nil handler")
	}
	r.handlers().addEvent(event, func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		var v T
		if err := args.Decode(0, &v); err != nil {
			return nil, payloadError(event, err)
		}
		f(ctx, s, v)
		return nil, nil
	})
}

// OnAck registers the handler of an event that the client emits with an
// acknowledgement: the argument is decoded as for [On], and what f returns
// is the client's reply. If f returns an error, or the argument does not
// decode, the reply is instead one object {"error": message}, with "data"
// beside it for a [*ClientError] with Data. A client that did not ask for
// an acknowledgement gets nothing.
func OnAck[T, R any](r Registry, event string, f func(ctx context.Context, s *Socket, v T) (R, error)) {
	if f == nil {
		panic("sio: OnAck with a nil handler")
	}
	r.handlers().addEvent(event, func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		var v T
		if err := args.Decode(0, &v); err != nil {
			return nil, payloadError(event, err)
		}
		res, err := f(ctx, s, v)
		if err != nil {
			return nil, err
		}
		return []any{res}, nil
	})
}

// OnRaw registers the handler of an event with any number of arguments, of
// any shape, which it gets undecoded. What f returns are the arguments of
// the acknowledgement, when the client asked for one; an error is replied as
// described at [OnAck].
func OnRaw(r Registry, event string, f func(ctx context.Context, s *Socket, args Args) ([]any, error)) {
	if f == nil {
		panic("sio: OnRaw with a nil handler")
	}
	r.handlers().addEvent(event, f)
}

// ClientError is an error meant for the client: a middleware returning it
// refuses the connection with its Message and Data (the client's
// connect_error event gets both), and a handler returning it replies with
// them to an acknowledgement.
type ClientError struct {
	Message string
	Data    any
}

// Error returns the message.
func (e *ClientError) Error() string { return e.Message }

func payloadError(event string, err error) error {
	return &ClientError{Message: fmt.Sprintf("sio: invalid payload for event %q: %v", event, err)}
}
