package sio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
)

// Server is a Socket.IO v5 server. It is an [http.Handler]: mount it where
// the clients look for it, by default under /socket.io/:
//
//	srv := sio.New()
//	mux.Handle("/socket.io/", srv)
//
// A Server owns no listener and starts no goroutine of its own; the
// application's [http.Server] drives it.
type Server struct {
	cfg     config
	engine  *Engine
	main    *Namespace
	running tracker // the sockets' executors running handlers

	mu      sync.RWMutex
	nsps    map[string]*Namespace
	parents []*Namespace // dynamic namespace templates, in registration order
}

var _ http.Handler = (*Server)(nil)

// New returns a Server configured by opts. With no options it is complete
// and safe: same-origin only, Node's timings and limits. It panics if an
// option is invalid.
func New(opts ...Option) *Server {
	s := &Server{cfg: newConfig(opts), nsps: map[string]*Namespace{}}
	s.engine = newEngine(s.cfg, s.onConn)
	s.main = s.Of("/")
	return s
}

// ServeHTTP serves the Engine.IO requests beneath Socket.IO.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.engine.ServeHTTP(w, r)
}

// Of returns the namespace called name, creating it if needed. Names start
// with "/"; one without is given one. The main namespace is "/".
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ns, ok := s.nsps[name]; ok {
		return ns
	}
	ns := newNamespace(s, name, newHandlerTable())
	if err := s.attachAdapter(ns); err != nil {
		panic(err)
	}
	s.nsps[name] = ns
	return ns
}

// attachAdapter gives ns its adapter, if the server has one.
func (s *Server) attachAdapter(ns *Namespace) error {
	if s.cfg.newAdapter == nil {
		return nil
	}
	a, err := s.cfg.newAdapter(ns)
	if err != nil {
		return fmt.Errorf("sio: adapter for namespace %q: %w", ns.name, err)
	}
	ns.adapter = a
	return nil
}

// OfFunc declares dynamic namespaces: the first time a client asks for a
// namespace that does not exist and match reports true for its name, the
// namespace is created. Every namespace created so shares the handlers and
// middleware registered on the returned template, which has no sockets of
// its own: a broadcast on it ([Namespace.Emit], [Namespace.To]) reaches the
// sockets of every namespace created from it. Templates are tried in the
// order they were declared.
func (s *Server) OfFunc(match func(name string) bool) *Namespace {
	if match == nil {
		panic("sio: OfFunc with a nil match function")
	}
	t := newNamespace(s, "", newHandlerTable())
	t.match = match
	s.mu.Lock()
	s.parents = append(s.parents, t)
	s.mu.Unlock()
	return t
}

// OfRegexp is [Server.OfFunc] with re.MatchString as the match function.
func (s *Server) OfRegexp(re *regexp.Regexp) *Namespace {
	return s.OfFunc(re.MatchString)
}

// lookup finds or, for a dynamic name, creates the namespace a client asks
// for.
func (s *Server) lookup(name string) *Namespace {
	s.mu.RLock()
	ns, ok := s.nsps[name]
	parents := s.parents
	s.mu.RUnlock()
	if ok {
		return ns
	}
	for _, t := range parents {
		if !t.match(name) {
			continue
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if ns, ok := s.nsps[name]; ok {
			return ns
		}
		ns := newNamespace(s, name, t.h)
		ns.parent = t
		if err := s.attachAdapter(ns); err != nil {
			s.cfg.logger.Error("sio: cannot create dynamic namespace", "nsp", name, "err", err)
			return nil
		}
		s.nsps[name] = ns
		t.addChild(ns)
		return ns
	}
	return nil
}

// Use adds connection middleware to the main namespace; see
// [Namespace.Use].
func (s *Server) Use(mw func(ctx context.Context, sock *Socket) error) { s.main.Use(mw) }

// OnConnect adds a connection handler to the main namespace; see
// [Namespace.OnConnect].
func (s *Server) OnConnect(f func(ctx context.Context, sock *Socket)) { s.main.OnConnect(f) }

// OnDisconnect adds a disconnection handler to the main namespace; see
// [Namespace.OnDisconnect].
func (s *Server) OnDisconnect(f func(sock *Socket, reason Reason)) { s.main.OnDisconnect(f) }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.main.Emit(event, args...) }

// To returns the broadcast target of the sockets in the given rooms of the
// main namespace; see [Namespace.To].
func (s *Server) To(rooms ...string) Broadcast { return s.main.To(rooms...) }

// Except returns the broadcast target of the sockets of the main namespace
// outside the given rooms.
func (s *Server) Except(rooms ...string) Broadcast { return s.main.Except(rooms...) }

// EmitWithAck sends an event to every socket of the main namespace and
// gathers their acknowledgements; see [Broadcast.EmitWithAck].
func (s *Server) EmitWithAck(ctx context.Context, event string, args ...any) ([]AckReply, error) {
	return s.main.EmitWithAck(ctx, event, args...)
}

// FetchSockets returns every socket of the main namespace, on every server.
func (s *Server) FetchSockets(ctx context.Context) ([]RemoteSocket, error) {
	return s.main.FetchSockets(ctx)
}

// Close closes every connection at once and refuses new ones. The sockets'
// contexts are cancelled and their disconnection handlers are started, but
// Close does not wait for handlers to return; [Server.Shutdown] does. It may
// be called any number of times.
func (s *Server) Close() error {
	err := s.engine.Close()
	s.closeAdapters()
	return err
}

func (s *Server) closeAdapters() {
	for _, ns := range s.namespaces() {
		if ns.adapter != nil {
			ns.adapter.Close()
		}
	}
}

// Shutdown stops the server gracefully. No new connections are accepted
// (HTTP 403, "Server is shutting down"), nor new namespace connections on
// the open ones. Every client is told, after what was already queued for
// it: each of its sockets is sent a Socket.IO DISCONNECT packet, which
// socket.io-client reports as the reason "io server disconnect" and after
// which it does not reconnect by itself; then its connection is closed.
// With [WithDisconnectOnShutdown](false), the DISCONNECT packets are left
// out and the client sees only its connection close ("transport close"),
// after which it reconnects, to this server's successor in a rolling
// restart, as it does after Node's io.close(). Either way every socket ends
// with [ReasonServerShutdown], and Shutdown waits until every connection has
// ended and every goroutine it started has returned, or ctx is done, when it
// closes what remains at once and returns ctx's error.
//
// Wire it beside [http.Server.Shutdown], which does not wait for
// WebSocket connections (they were hijacked), nor for the functions given
// to [http.Server.RegisterOnShutdown], which it starts in goroutines of
// their own; wait for this one before the program exits:
//
//	done := make(chan error, 1)
//	httpSrv.RegisterOnShutdown(func() { done <- srv.Shutdown(ctx) })
//	err := httpSrv.Shutdown(ctx)
//	<-done
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.engine.Shutdown(ctx)
	s.closeAdapters()
	if !s.running.wait(ctx.Done()) && err == nil {
		err = ctx.Err()
	}
	return err
}

// namespaces returns every namespace with sockets, templates excluded.
func (s *Server) namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		out = append(out, ns)
	}
	return out
}

// DecodeAuth decodes the auth payload the client sent with its CONNECT
// packet into v, with encoding/json.
func (h Handshake) DecodeAuth(v any) error {
	if len(h.Auth) == 0 {
		return errors.New("sio: no auth payload")
	}
	return json.Unmarshal(h.Auth, v)
}
