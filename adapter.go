package sio

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// An Adapter connects one namespace of this server to the same namespace
// on the other servers of a cluster, so that a broadcast, a room operation
// or a query reaches every server's sockets. Each namespace keeps its own
// sockets and rooms; the adapter carries only what must cross to the other
// servers, and applies what they send through the namespace's local
// targets ([Broadcast.Local]).
//
// Without an adapter ([WithAdapter] not given) a server stands alone: every
// target is local, and server-side emits reach no one.
//
// Every method is called after the local part of the operation is done, and
// must be safe for concurrent use. The Redis adapter (module
// github.com/sio-go/sio/adapter/redis) implements it, wire-compatible with
// Node's @socket.io/redis-adapter.
type Adapter interface {
	// Broadcast forwards an event to the sockets of the target on the
	// other servers.
	Broadcast(ctx context.Context, t Target, event string, args []any) error

	// BroadcastWithAck forwards an event whose receivers each acknowledge
	// it. For every other server, count is called once with the number of
	// its sockets that were sent the event, then ack once per reply. It
	// returns when every other server has given its count and every socket
	// counted has replied, or when ctx is done.
	BroadcastWithAck(ctx context.Context, t Target, event string, args []any,
		count func(n int), ack func(socketID string, reply Args)) error

	// FetchSockets returns the sockets of the target on the other servers.
	FetchSockets(ctx context.Context, t Target) ([]RemoteSocket, error)

	// AddSockets makes the sockets of the target on the other servers join
	// rooms; DelSockets makes them leave rooms.
	AddSockets(ctx context.Context, t Target, rooms []string) error
	DelSockets(ctx context.Context, t Target, rooms []string) error

	// DisconnectSockets disconnects the sockets of the target on the other
	// servers, and with closeConn closes their connections too.
	DisconnectSockets(ctx context.Context, t Target, closeConn bool) error

	// ServerSideEmit sends an event to the other servers' handlers
	// ([Namespace.OnServerSideEmit]). With wantReplies, it waits until every
	// server has replied or ctx is done, and returns the replies received.
	ServerSideEmit(ctx context.Context, event string, args []any, wantReplies bool) ([]Args, error)

	// Close stops the adapter when the server closes.
	Close() error
}

// NewArgs returns the [Args] that a receiver of values would get: each
// value is encoded as [Socket.Emit] encodes an argument, with
// encoding/json, every []byte in it (at any depth) staying binary; an
// [encoding/json.RawMessage] is taken as it is. Adapters use it to hand
// what other servers send to [Namespace.HandleServerSideEmit] and to the
// callbacks of [Adapter.BroadcastWithAck]; tests can use it to call
// handlers.
func NewArgs(values ...any) (Args, error) {
	var enc binaryEncoder
	body := []byte{'['}
	for i, v := range values {
		if i > 0 {
			body = append(body, ',')
		}
		var err error
		if body, err = enc.append(body, v); err != nil {
			return Args{}, err
		}
	}
	body = append(body, ']')
	return parseArgs(body, enc.attachments)
}

// Target is an audience as it travels between servers: the sockets in any
// of Rooms (every socket when Rooms is empty) and in none of Except.
type Target struct {
	Rooms    []string
	Except   []string
	Volatile bool
}

// WithAdapter gives every namespace an [Adapter] made by newAdapter, which
// is called once per namespace when the namespace is created (for dynamic
// namespaces, when the first client asks for one). Default: none; the
// server stands alone.
func WithAdapter(newAdapter func(ns *Namespace) (Adapter, error)) Option {
	return func(c *config) error {
		if newAdapter == nil {
			return errors.New("nil adapter constructor")
		}
		c.newAdapter = newAdapter
		return nil
	}
}

// RemoteSocket describes a socket of the namespace, on this server or
// another, as [Broadcast.FetchSockets] returns it. Its methods act on the
// socket wherever it is.
type RemoteSocket struct {
	ID        string
	Rooms     []string
	Handshake Handshake
	// Data is what the socket's server stored with [Socket.SetData]: the
	// value itself for a local socket, its JSON decoded into plain values
	// (maps, slices, json.Number) for a remote one.
	Data any

	ns *Namespace
}

func (r RemoteSocket) target() Broadcast { return r.ns.To(r.ID) }

// Emit sends an event to the socket.
func (r RemoteSocket) Emit(event string, args ...any) error { return r.target().Emit(event, args...) }

// Join makes the socket join rooms.
func (r RemoteSocket) Join(rooms ...string) error { return r.target().SocketsJoin(rooms...) }

// Leave makes the socket leave rooms.
func (r RemoteSocket) Leave(rooms ...string) error { return r.target().SocketsLeave(rooms...) }

// Disconnect disconnects the socket from its namespace.
func (r RemoteSocket) Disconnect() error { return r.target().DisconnectSockets() }

// target returns the broadcast's audience as it travels to other servers.
func (b Broadcast) target() Target {
	return Target{Rooms: b.rooms, Except: b.except, Volatile: b.volatile}
}

// remote reports the adapter to forward to, if the broadcast is not local.
func (b Broadcast) remote() Adapter {
	if b.local {
		return nil
	}
	return b.ns.adapter
}

// Local returns the same target restricted to this server's sockets.
func (b Broadcast) Local() Broadcast {
	b.local = true
	return b
}

// FetchSockets returns the sockets of the target, on every server.
func (b Broadcast) FetchSockets(ctx context.Context) ([]RemoteSocket, error) {
	var out []RemoteSocket
	for _, s := range b.Sockets() {
		out = append(out, RemoteSocket{ID: s.id, Rooms: s.Rooms(), Handshake: s.handshake.clone(), Data: s.Data(), ns: s.ns})
	}
	if a := b.remote(); a != nil {
		more, err := a.FetchSockets(ctx, b.target())
		if err != nil {
			return out, err
		}
		for i := range more {
			more[i].ns = b.ns
		}
		out = append(out, more...)
	}
	return out, nil
}

// SocketsJoin makes the sockets of the target, on every server, join
// rooms.
func (b Broadcast) SocketsJoin(rooms ...string) error {
	for _, s := range b.Sockets() {
		s.Join(rooms...)
	}
	if a := b.remote(); a != nil {
		return a.AddSockets(context.Background(), b.target(), rooms)
	}
	return nil
}

// SocketsLeave makes the sockets of the target, on every server, leave
// rooms.
func (b Broadcast) SocketsLeave(rooms ...string) error {
	for _, s := range b.Sockets() {
		s.Leave(rooms...)
	}
	if a := b.remote(); a != nil {
		return a.DelSockets(context.Background(), b.target(), rooms)
	}
	return nil
}

// DisconnectSockets disconnects the sockets of the target, on every
// server, as [Socket.Disconnect] does.
func (b Broadcast) DisconnectSockets() error {
	for _, s := range b.Sockets() {
		s.Disconnect()
	}
	if a := b.remote(); a != nil {
		return a.DisconnectSockets(context.Background(), b.target(), false)
	}
	return nil
}

// CloseConns disconnects the sockets of the target, on every server, and
// closes their connections, as [Socket.DisconnectAll] does.
func (b Broadcast) CloseConns() error {
	for _, s := range b.Sockets() {
		s.DisconnectAll()
	}
	if a := b.remote(); a != nil {
		return a.DisconnectSockets(context.Background(), b.target(), true)
	}
	return nil
}

// ServerSideEmit sends an event to the handlers that the other servers of
// the cluster registered with [Namespace.OnServerSideEmit] (this server's
// own are not called). A server without an adapter has no one to send to:
// it returns nil at once.
func (ns *Namespace) ServerSideEmit(event string, args ...any) error {
	if ns.adapter == nil {
		return nil
	}
	_, err := ns.adapter.ServerSideEmit(context.Background(), event, args, false)
	return err
}

// ServerSideEmitWithAck is [Namespace.ServerSideEmit] waiting for every
// other server's reply until ctx is done. Alone, a server has no other
// server to wait for: it returns no replies and no error.
func (ns *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	if ns.adapter == nil {
		return nil, nil
	}
	return ns.adapter.ServerSideEmit(ctx, event, args, true)
}

// OnServerSideEmit registers the handler of an event that other servers
// send with [Namespace.ServerSideEmit]. What it returns is the reply when
// the sender waits for one.
func (ns *Namespace) OnServerSideEmit(event string, f func(ctx context.Context, args Args) ([]any, error)) {
	if f == nil {
		panic("sio: OnServerSideEmit with a nil handler")
	}
	ns.sseMu.Lock()
	defer ns.sseMu.Unlock()
	if ns.sse == nil {
		ns.sse = map[string]func(context.Context, Args) ([]any, error){}
	}
	ns.sse[event] = f
}

// HandleServerSideEmit runs the handler of a server-side event received by
// an adapter from another server. It reports false when no handler is
// registered, in which case, as in Node, no reply is due.
func (ns *Namespace) HandleServerSideEmit(ctx context.Context, event string, args Args) ([]any, bool, error) {
	ns.sseMu.Lock()
	f := ns.sse[event]
	ns.sseMu.Unlock()
	if f == nil {
		return nil, false, nil
	}
	reply, err := f(ctx, args)
	return reply, true, err
}

// sseTable holds the server-side emit handlers of a namespace.
type sseTable struct {
	sseMu sync.Mutex
	sse   map[string]func(context.Context, Args) ([]any, error)
}

// clone copies h deeply enough that changing the copy leaves h alone.
func (h Handshake) clone() Handshake {
	h.Header = h.Header.Clone()
	h.Auth = slices.Clone(h.Auth)
	return h
}
