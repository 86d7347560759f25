package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
)

// Emitter sends to the clients of a cluster from a process that is not a
// Socket.IO server (a worker, a cron job), by publishing on Redis what
// @socket.io/redis-emitter publishes. Every server of the cluster, Go or
// Node, that uses the Redis adapter with the same key delivers it.
//
// An Emitter is an immutable value, like [sio.Broadcast]: each method that
// refines it returns a new one, so it can be kept and shared freely.
//
//	e := redisadapter.NewEmitter(rdb)
//	err := e.Of("/chat").To("room1").Except("banned").Emit(ctx, "news", item)
//
// As with Node's emitter, there are no acknowledgements, and nothing says
// whether any server received what was published.
type Emitter struct {
	client   redis.UniversalClient
	key      string
	nsp      string
	rooms    []string
	except   []string
	volatile bool
	compress *bool
}

// NewEmitter returns an emitter to the main namespace ("/"). Of the
// options only [WithKey] applies. It panics if an option is invalid.
func NewEmitter(client redis.UniversalClient, opts ...Option) Emitter {
	if client == nil {
		panic("redisadapter: nil Redis client")
	}
	cfg := newConfig(opts)
	return Emitter{client: client, key: cfg.key, nsp: "/"}
}

// Of returns an emitter to the namespace nsp, with no rooms or flags. A
// name without a leading "/" is given one.
func (e Emitter) Of(nsp string) Emitter {
	if nsp == "" || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	return Emitter{client: e.client, key: e.key, nsp: nsp}
}

// To adds rooms to the target: the sockets in any of them.
func (e Emitter) To(rooms ...string) Emitter {
	e.rooms = appendNew(e.rooms, rooms)
	return e
}

// Except removes from the target the sockets in any of the rooms (a socket
// id is a room).
func (e Emitter) Except(rooms ...string) Emitter {
	e.except = appendNew(e.except, rooms)
	return e
}

// appendNew appends to a copy of l the names not in it yet, as Node's
// emitter keeps rooms in a Set.
func appendNew(l, names []string) []string {
	l = slices.Clip(l)
	for _, n := range names {
		if !slices.Contains(l, n) {
			l = append(l, n)
		}
	}
	return l
}

// Volatile returns the same target for packets that may be lost.
func (e Emitter) Volatile() Emitter {
	e.volatile = true
	return e
}

// Compress returns the same target with the compress flag set to on.
// Node servers honour it when they compress WebSocket frames.
func (e Emitter) Compress(on bool) Emitter {
	e.compress = &on
	return e
}

// reservedEvents are the names Socket.IO keeps for itself.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

// Emit publishes an event to the sockets of the target, with its arguments
// encoded as [sio.Socket.Emit] encodes them ([]byte values as binary).
func (e Emitter) Emit(ctx context.Context, event string, args ...any) error {
	if reservedEvents[event] {
		return fmt.Errorf("redisadapter: %q is a reserved event name", event)
	}
	msg, err := encodeBroadcast(emitterUID, e.nsp, event, args, e.rooms, e.except,
		flags{volatile: e.volatile, compress: e.compress})
	if err != nil {
		return err
	}
	return e.publish(ctx, broadcastChannel(e.key+"#"+e.nsp+"#", e.rooms), msg)
}

func (e Emitter) requestChannel() string { return e.key + "-request#" + e.nsp + "#" }

// SocketsJoin makes the sockets of the target join rooms, on every server.
func (e Emitter) SocketsJoin(ctx context.Context, rooms ...string) error {
	return e.publishRequest(ctx, roomsRequest{Type: typeRemoteJoin, Opts: e.opts(), Rooms: rooms})
}

// SocketsLeave makes the sockets of the target leave rooms, on every
// server.
func (e Emitter) SocketsLeave(ctx context.Context, rooms ...string) error {
	return e.publishRequest(ctx, roomsRequest{Type: typeRemoteLeave, Opts: e.opts(), Rooms: rooms})
}

// DisconnectSockets disconnects the sockets of the target, on every
// server, and with closeConn closes their connections too.
func (e Emitter) DisconnectSockets(ctx context.Context, closeConn bool) error {
	return e.publishRequest(ctx, disconnectRequest{Type: typeRemoteDisconnect, Opts: e.opts(), Close: closeConn})
}

// ServerSideEmit sends an event to the handlers every server of the
// namespace registered with [sio.Namespace.OnServerSideEmit] (and to
// Node's namespace listeners). The arguments travel as JSON; no server
// replies to an emitter.
func (e Emitter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if reservedEvents[event] {
		return fmt.Errorf("redisadapter: %q is a reserved event name", event)
	}
	data, err := jsonArgs(event, args)
	if err != nil {
		return err
	}
	return e.publishRequest(ctx, sseRequest{UID: emitterUID, Type: typeServerSideEmit, Data: data})
}

func (e Emitter) opts() targetOpts {
	return targetOpts{Rooms: e.rooms, Except: e.except}
}

func (e Emitter) publishRequest(ctx context.Context, req any) error {
	b, err := marshalJSON(req)
	if err != nil {
		return err
	}
	return e.publish(ctx, e.requestChannel(), b)
}

func (e Emitter) publish(ctx context.Context, channel string, msg []byte) error {
	if e.client == nil {
		return errors.New("redisadapter: zero Emitter; use NewEmitter")
	}
	return e.client.Publish(ctx, channel, msg).Err()
}
