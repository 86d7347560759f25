package redisadapter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio"
)

// New returns the constructor of the adapters that connect the namespaces
// of a server to the rest of its cluster over Redis, to pass to
// [sio.WithAdapter]:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	srv := sio.New(sio.WithAdapter(redisadapter.New(rdb)))
//
// The client publishes and counts the servers; the adapters open one more
// connection of their own, from the client's options, to subscribe. A
// [*redis.Client], a [*redis.ClusterClient] or a failover client will do;
// closing it is the caller's business, after the server is closed. It
// panics if an option is invalid.
func New(client redis.UniversalClient, opts ...Option) func(*sio.Namespace) (sio.Adapter, error) {
	if client == nil {
		panic("redisadapter: nil Redis client")
	}
	f := &factory{client: client, cfg: newConfig(opts)}
	return f.newAdapter
}

// factory makes adapters, and the hubs they share.
type factory struct {
	client redis.UniversalClient
	cfg    config

	mu   sync.Mutex
	hubs []*hub
}

func (f *factory) newAdapter(ns *sio.Namespace) (sio.Adapter, error) {
	name := ns.Name()
	f.mu.Lock()
	var h *hub
	for _, x := range f.hubs {
		if !x.names[name] {
			h = x
			break
		}
	}
	if h == nil {
		h = newHub(f.client, &f.cfg)
		f.hubs = append(f.hubs, h)
	}
	h.names[name] = true
	f.mu.Unlock()

	a := newAdapter(f, h, ns)
	h.add(a)
	return a, nil
}

// release forgets a closed adapter's namespace, and shuts its hub down when
// it was the hub's last.
func (f *factory) release(h *hub, name string) {
	f.mu.Lock()
	delete(h.names, name)
	empty := len(h.names) == 0
	if empty {
		for i, x := range f.hubs {
			if x == h {
				f.hubs = append(f.hubs[:i], f.hubs[i+1:]...)
				break
			}
		}
	}
	f.mu.Unlock()
	if empty {
		h.shutdown()
	}
}

// adapter is the [sio.Adapter] of one namespace.
type adapter struct {
	f   *factory
	h   *hub
	ns  *sio.Namespace
	cfg *config
	uid string

	channel                 string // K#N#, broadcasts (K#N#room# for one room)
	requestChannel          string // K-request#N#
	responseChannel         string // K-response#N#
	specificResponseChannel string // K-response#N#uid#

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	sse    serial // runs server-side event handlers in order

	mu      sync.Mutex
	closed  bool
	wg      sync.WaitGroup // goroutines answering requests
	pending map[string]func(*wireMsg)
}

var _ sio.Adapter = (*adapter)(nil)

func newAdapter(f *factory, h *hub, ns *sio.Namespace) *adapter {
	key, name := f.cfg.key, ns.Name()
	a := &adapter{
		f:               f,
		h:               h,
		ns:              ns,
		cfg:             &f.cfg,
		uid:             randomID(6),
		channel:         key + "#" + name + "#",
		requestChannel:  key + "-request#" + name + "#",
		responseChannel: key + "-response#" + name + "#",
		pending:         map[string]func(*wireMsg){},
	}
	a.specificResponseChannel = a.responseChannel + a.uid + "#"
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomID returns n random alphanumeric characters, as Node's uid2 does.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b)
}

// Close unsubscribes the namespace, stops answering, and waits for the
// answers under way. It is called by the server when it closes.
func (a *adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.h.remove(a)
	a.wg.Wait()
	a.f.release(a.h, a.ns.Name())
	return nil
}

// spawn runs f on a goroutine that Close waits for, unless a is closed.
func (a *adapter) spawn(f func()) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
	return true
}

// otherServers is the number of servers of the cluster besides this one.
func (a *adapter) otherServers(ctx context.Context) (int, error) {
	n, err := a.serverCount(ctx)
	return n - 1, err
}

// serverCount is the number of servers in the cluster with this namespace,
// this one included: the connections subscribed to its request channel,
// added up over the masters of a Redis Cluster.
func (a *adapter) serverCount(ctx context.Context) (int, error) {
	if c, ok := a.h.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		n := 0
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			r, err := m.PubSubNumSub(ctx, a.requestChannel).Result()
			mu.Lock()
			n += int(r[a.requestChannel])
			mu.Unlock()
			return err
		})
		return n, err
	}
	r, err := a.h.client.PubSubNumSub(ctx, a.requestChannel).Result()
	if err != nil {
		return 0, fmt.Errorf("redisadapter: counting servers: %w", err)
	}
	return int(r[a.requestChannel]), nil
}

func (a *adapter) addPending(id string, f func(*wireMsg)) {
	a.mu.Lock()
	a.pending[id] = f
	a.mu.Unlock()
}

func (a *adapter) removePending(id string) {
	a.mu.Lock()
	delete(a.pending, id)
	a.mu.Unlock()
}

// requestContext bounds a request by the requests timeout as well as ctx.
func (a *adapter) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.cfg.requestsTimeout)
}

// ---- Requests from this server ----

// Broadcast publishes the event on the namespace's channel, or on the
// room's when the target is exactly one room. It returns once the message
// is queued for Redis.
func (a *adapter) Broadcast(ctx context.Context, t sio.Target, event string, args []any) error {
	msg, err := encodeBroadcast(a.uid, a.ns.Name(), event, args, t.Rooms, t.Except, flags{volatile: t.Volatile})
	if err != nil {
		return err
	}
	return a.h.publish(broadcastChannel(a.channel, t.Rooms), msg)
}

// broadcastChannel is where a broadcast to rooms goes.
func broadcastChannel(channel string, rooms []string) string {
	if len(rooms) == 1 {
		return channel + rooms[0] + "#"
	}
	return channel
}

// BroadcastWithAck publishes a broadcast with acknowledgements as a
// request, and relays the other servers' client counts and their clients'
// replies. The acknowledgement timeout it announces is what is left of
// ctx's deadline or, without one, the requests timeout, after which it
// gives up.
func (a *adapter) BroadcastWithAck(ctx context.Context, t sio.Target, event string, args []any,
	count func(n int), ack func(socketID string, reply sio.Args)) error {
	timeout := a.cfg.requestsTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	others, err := a.otherServers(ctx)
	if err != nil {
		return err
	}
	if others <= 0 {
		return nil
	}
	id := randomID(12)
	msg, err := encodeAckRequest(a.uid, id, a.ns.Name(), event, args, t.Rooms, t.Except,
		flags{volatile: t.Volatile, timeout: max(timeout.Milliseconds(), 1)})
	if err != nil {
		return err
	}
	var (
		mu                       sync.Mutex
		counted, expected, acked int
		done                     = make(chan struct{})
		finished                 bool
	)
	a.addPending(id, func(m *wireMsg) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case m.is(typeBroadcastClientCount):
			counted++
			expected += m.ClientCount
			count(m.ClientCount)
		case m.is(typeBroadcastAck):
			acked++
			ack("", packetArgs(m))
		default:
			return
		}
		if !finished && counted >= others && acked >= expected {
			finished = true
			close(done)
		}
	})
	defer a.removePending(id)
	if err := a.h.publish(a.requestChannel, msg); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		if counted < others {
			return fmt.Errorf("redisadapter: broadcast with acknowledgements: %d of %d servers counted their clients: %w",
				counted, others, ctx.Err())
		}
		return ctx.Err()
	case <-a.ctx.Done():
		return errClosed
	}
}

// packetArgs is the acknowledgement a type 9 response relays.
func packetArgs(m *wireMsg) sio.Args {
	var a sio.Args
	var err error
	if m.hasPacket {
		a, err = sio.NewArgs(m.packet)
	} else {
		a, err = sio.NewArgs()
	}
	if err != nil {
		a, _ = sio.NewArgs()
	}
	return a
}

// FetchSockets asks every other server for the sockets of the target, and
// waits for all of them, up to the requests timeout.
func (a *adapter) FetchSockets(ctx context.Context, t sio.Target) ([]sio.RemoteSocket, error) {
	ctx, cancel := a.requestContext(ctx)
	defer cancel()
	others, err := a.otherServers(ctx)
	if err != nil {
		return nil, err
	}
	if others <= 0 {
		return nil, nil
	}
	id := randomID(12)
	req, err := marshalJSON(fetchRequest{UID: a.uid, RequestID: id, Type: typeRemoteFetch,
		Opts: targetOpts{Rooms: t.Rooms, Except: t.Except}})
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		got   int
		out   []sio.RemoteSocket
		done  = make(chan struct{})
		ended bool
	)
	a.addPending(id, func(m *wireMsg) {
		socks, err := decodeSockets(m.Sockets)
		if err != nil {
			a.h.log.Debug("redisadapter: bad fetchSockets response", "err", err)
		}
		mu.Lock()
		defer mu.Unlock()
		got++
		out = append(out, socks...)
		if !ended && got >= others {
			ended = true
			close(done)
		}
	})
	defer a.removePending(id)
	if err := a.h.publish(a.requestChannel, req); err != nil {
		return nil, err
	}
	select {
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		return out, nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("redisadapter: fetchSockets: %d of %d servers answered: %w", got, others, ctx.Err())
	case <-a.ctx.Done():
		return nil, errClosed
	}
}

func decodeSockets(raw json.RawMessage) ([]sio.RemoteSocket, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var ws []struct {
		ID        string          `json:"id"`
		Handshake nodeHandshake   `json:"handshake"`
		Rooms     roomList        `json:"rooms"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &ws); err != nil {
		return nil, err
	}
	out := make([]sio.RemoteSocket, 0, len(ws))
	for _, w := range ws {
		var data any
		if len(w.Data) > 0 {
			d := json.NewDecoder(bytes.NewReader(w.Data))
			d.UseNumber()
			d.Decode(&data)
		}
		out = append(out, sio.RemoteSocket{
			ID:        w.ID,
			Rooms:     w.Rooms,
			Handshake: fromNodeHandshake(w.Handshake),
			Data:      data,
		})
	}
	return out, nil
}

// AddSockets publishes a remote join. As in Node, every server applies it
// when it arrives; this one already has, before the call.
func (a *adapter) AddSockets(ctx context.Context, t sio.Target, rooms []string) error {
	return a.publishRooms(typeRemoteJoin, t, rooms)
}

// DelSockets publishes a remote leave.
func (a *adapter) DelSockets(ctx context.Context, t sio.Target, rooms []string) error {
	return a.publishRooms(typeRemoteLeave, t, rooms)
}

func (a *adapter) publishRooms(typ int, t sio.Target, rooms []string) error {
	req, err := marshalJSON(roomsRequest{UID: a.uid, Type: typ,
		Opts: targetOpts{Rooms: t.Rooms, Except: t.Except}, Rooms: rooms})
	if err != nil {
		return err
	}
	return a.h.publish(a.requestChannel, req)
}

// DisconnectSockets publishes a remote disconnection.
func (a *adapter) DisconnectSockets(ctx context.Context, t sio.Target, closeConn bool) error {
	req, err := marshalJSON(disconnectRequest{UID: a.uid, Type: typeRemoteDisconnect,
		Opts: targetOpts{Rooms: t.Rooms, Except: t.Except}, Close: closeConn})
	if err != nil {
		return err
	}
	return a.h.publish(a.requestChannel, req)
}

// ServerSideEmit publishes a server-side event. With wantReplies it waits
// for one reply from each other server, up to the requests timeout, and
// on timeout returns the replies received with an error that wraps
// [context.DeadlineExceeded]. A server with no handler for the event never
// replies, as in Node. Arguments travel as JSON: a []byte arrives as a
// base64 string.
func (a *adapter) ServerSideEmit(ctx context.Context, event string, args []any, wantReplies bool) ([]sio.Args, error) {
	data, err := jsonArgs(event, args)
	if err != nil {
		return nil, err
	}
	if !wantReplies {
		req, err := marshalJSON(sseRequest{UID: a.uid, Type: typeServerSideEmit, Data: data})
		if err != nil {
			return nil, err
		}
		return nil, a.h.publish(a.requestChannel, req)
	}
	ctx, cancel := a.requestContext(ctx)
	defer cancel()
	others, err := a.otherServers(ctx)
	if err != nil {
		return nil, err
	}
	if others <= 0 {
		return nil, nil
	}
	id := randomID(12)
	req, err := marshalJSON(sseRequest{UID: a.uid, RequestID: id, Type: typeServerSideEmit, Data: data})
	if err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		replies []sio.Args
		done    = make(chan struct{})
		ended   bool
	)
	a.addPending(id, func(m *wireMsg) {
		var r sio.Args
		var err error
		if len(m.Data) > 0 {
			r, err = sio.NewArgs(m.Data)
		} else {
			r, err = sio.NewArgs()
		}
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		replies = append(replies, r)
		if !ended && len(replies) >= others {
			ended = true
			close(done)
		}
	})
	defer a.removePending(id)
	if err := a.h.publish(a.requestChannel, req); err != nil {
		return nil, err
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-a.ctx.Done():
		return nil, errClosed
	}
	mu.Lock()
	defer mu.Unlock()
	if !ended {
		return replies, fmt.Errorf("redisadapter: serverSideEmit %q: only %d replies of %d: %w",
			event, len(replies), others, ctx.Err())
	}
	return replies, nil
}

// ---- What other servers send ----

// onBroadcast applies a broadcast from another server or an emitter to
// this server's sockets.
func (a *adapter) onBroadcast(channel string, payload []byte) {
	if a.ctx.Err() != nil || !strings.HasPrefix(channel, a.channel) {
		return
	}
	if room := strings.TrimSuffix(channel[len(a.channel):], "#"); room != "" && len(a.ns.To(room).Local().Sockets()) == 0 {
		return // no socket here is in the room
	}
	m, own, err := decodeBroadcast(payload, a.uid)
	if err != nil {
		a.h.log.Debug("redisadapter: dropping malformed broadcast", "channel", channel, "err", err)
		return
	}
	if own || m.nsp != a.ns.Name() || (m.typ != packetEvent && m.typ != packetBinaryEvent) {
		return
	}
	b := a.ns.To(m.rooms...).Except(m.except...).Local()
	if m.volatile {
		b = b.Volatile()
	}
	if err := b.Emit(m.event, m.args...); err != nil {
		a.h.log.Debug("redisadapter: cannot deliver broadcast", "event", m.event, "err", err)
	}
}

// onResponse hands a response to the request of this server it answers.
func (a *adapter) onResponse(payload []byte) {
	m, err := decodeWire(payload)
	if err != nil || m.RequestID == "" {
		return
	}
	a.mu.Lock()
	f := a.pending[m.RequestID]
	a.mu.Unlock()
	if f != nil {
		f(m)
	}
}

// respond publishes the answer to a request, on the requester's own
// response channel when so configured.
func (a *adapter) respond(req *wireMsg, v any) {
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = marshalJSON(v); err != nil {
			a.h.log.Warn("redisadapter: cannot encode a response", "err", err)
			return
		}
	}
	channel := a.responseChannel
	if a.cfg.specificChannel && req.UID != "" {
		channel += req.UID + "#"
	}
	if err := a.h.publish(channel, b); err != nil {
		a.h.log.Debug("redisadapter: cannot publish a response", "err", err)
	}
}

// onRequest answers or applies a request from another server, an emitter,
// or this server (whose own requests it skips).
func (a *adapter) onRequest(payload []byte) {
	if a.ctx.Err() != nil {
		return
	}
	m, err := decodeWire(payload)
	if err != nil || m.Type == nil {
		a.h.log.Debug("redisadapter: dropping malformed request", "err", err)
		return
	}
	own := m.UID == a.uid
	ns := a.ns
	target := func() sio.Broadcast {
		var o wireOpts
		if m.Opts != nil {
			o = *m.Opts
		}
		return ns.To(o.Rooms...).Except(o.Except...).Local()
	}
	switch *m.Type {
	case typeSockets:
		if own {
			return
		}
		ids := roomList{}
		for _, s := range ns.To(m.Rooms...).Local().Sockets() {
			ids = append(ids, s.ID())
		}
		a.respond(m, socketsResponse{RequestID: m.RequestID, Sockets: ids})

	case typeAllRooms:
		if own {
			return
		}
		a.respond(m, allRoomsResponse{RequestID: m.RequestID, Rooms: localRooms(ns)})

	case typeRemoteJoin, typeRemoteLeave, typeRemoteDisconnect:
		if own {
			return // applied locally before it was published
		}
		if m.Opts == nil {
			a.legacyRemote(m)
			return
		}
		switch *m.Type {
		case typeRemoteJoin:
			target().SocketsJoin(m.Rooms...)
		case typeRemoteLeave:
			target().SocketsLeave(m.Rooms...)
		case typeRemoteDisconnect:
			if m.Close {
				target().CloseConns()
			} else {
				target().DisconnectSockets()
			}
		}

	case typeRemoteFetch:
		if own {
			return
		}
		socks, _ := target().FetchSockets(a.ctx)
		resp := fetchResponse{RequestID: m.RequestID, Sockets: make([]wireSocket, 0, len(socks))}
		for _, s := range socks {
			data, err := marshalJSON(s.Data)
			if err != nil {
				data = nil
			}
			resp.Sockets = append(resp.Sockets, wireSocket{ID: s.ID, Handshake: toNodeHandshake(s.Handshake),
				Rooms: s.Rooms, Data: data})
		}
		a.respond(m, resp)

	case typeServerSideEmit:
		if own {
			return
		}
		a.onServerSideEmit(m)

	case typeBroadcast:
		if own {
			return
		}
		a.onBroadcastWithAck(m)
	}
}

// localRooms lists the rooms of this server's sockets, their own ids
// included, as Node's adapter keeps them.
func localRooms(ns *sio.Namespace) roomList {
	seen := map[string]struct{}{}
	out := roomList{}
	for _, s := range ns.Sockets() {
		for _, r := range s.Rooms() {
			if _, ok := seen[r]; !ok {
				seen[r] = struct{}{}
				out = append(out, r)
			}
		}
	}
	return out
}

// legacyRemote answers the form of remote join, leave and disconnect that
// names one socket, {requestId, sid, room}, which adapters before 7 sent.
func (a *adapter) legacyRemote(m *wireMsg) {
	s := a.ns.Socket(m.Sid)
	if s == nil || !s.Connected() {
		return
	}
	switch *m.Type {
	case typeRemoteJoin:
		s.Join(m.Room)
	case typeRemoteLeave:
		s.Leave(m.Room)
	case typeRemoteDisconnect:
		if m.Close {
			s.DisconnectAll()
		} else {
			s.Disconnect()
		}
	}
	a.respond(m, legacyResponse{RequestID: m.RequestID})
}

// onServerSideEmit runs this server's handler of a server-side event, in
// the order the events came, and replies when the sender waits for it and
// a handler exists.
func (a *adapter) onServerSideEmit(m *wireMsg) {
	var data []json.RawMessage
	if json.Unmarshal(m.Data, &data) != nil || len(data) == 0 {
		return
	}
	var event string
	if json.Unmarshal(data[0], &event) != nil {
		return
	}
	vals := make([]any, len(data)-1)
	for i, d := range data[1:] {
		vals[i] = d
	}
	args, err := sio.NewArgs(vals...)
	if err != nil {
		return
	}
	a.sse.push(a, func() {
		reply, handled, err := a.ns.HandleServerSideEmit(a.ctx, event, args)
		if m.RequestID == "" || !handled {
			return
		}
		resp := sseResponse{Type: typeServerSideEmit, RequestID: m.RequestID}
		var first any
		switch {
		case err != nil:
			first = map[string]string{"error": err.Error()}
		case len(reply) > 0:
			first = reply[0]
		}
		if err != nil || len(reply) > 0 {
			raw, err := jsonValue(first)
			if err != nil {
				raw, _ = jsonValue(map[string]string{"error": err.Error()})
			}
			resp.Data = raw
		}
		b, err := marshalJSON(resp)
		if err != nil {
			return
		}
		// Node always answers a server-side emit on the shared channel.
		if err := a.h.publish(a.responseChannel, b); err != nil {
			a.h.log.Debug("redisadapter: cannot publish a response", "err", err)
		}
	})
}

// onBroadcastWithAck sends a broadcast with acknowledgements to this
// server's sockets, answers the number of them at once (0 included: the
// requester counts the servers that answer), then relays each client's
// reply, until the requester's timeout. The packet goes out before the
// next message is read, so broadcasts keep their order.
func (a *adapter) onBroadcastWithAck(m *wireMsg) {
	packet, _ := m.packet.(map[string]any)
	if packet == nil {
		return
	}
	var bm broadcastMsg
	if bm.setPacket(packet) != nil || bm.nsp != a.ns.Name() {
		return
	}
	var o wireOpts
	if m.Opts != nil {
		o = *m.Opts
	}
	b := a.ns.To(o.Rooms...).Except(o.Except...).Local()
	sent := make(chan struct{})
	var once sync.Once
	counted := func() { once.Do(func() { close(sent) }) }
	ok := a.spawn(func() {
		defer counted()
		ctx := a.ctx
		if m.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(m.timeout)*time.Millisecond)
			defer cancel()
		}
		err := b.EmitWithAckFunc(ctx, bm.event, bm.args, func(n int) {
			a.respond(m, clientCountResponse{Type: typeBroadcastClientCount, RequestID: m.RequestID, ClientCount: n})
			counted()
		}, func(_ string, reply sio.Args) {
			msg, err := encodeAckResponse(m.RequestID, reply)
			if err != nil {
				a.h.log.Debug("redisadapter: cannot encode an acknowledgement", "err", err)
				return
			}
			a.respond(m, msg)
		})
		if err != nil && ctx.Err() == nil {
			// Not sent at all: still tell the requester, which counts
			// the servers that answer.
			a.h.log.Debug("redisadapter: broadcast with acknowledgements failed", "event", bm.event, "err", err)
			once.Do(func() {
				a.respond(m, clientCountResponse{Type: typeBroadcastClientCount, RequestID: m.RequestID})
				close(sent)
			})
		}
	})
	if ok {
		<-sent
	}
}

// serial runs functions one at a time, in order, on a goroutine that
// exists only while there is work.
type serial struct {
	mu      sync.Mutex
	tasks   []func()
	running bool
}

func (q *serial) push(a *adapter, f func()) {
	q.mu.Lock()
	q.tasks = append(q.tasks, f)
	if q.running {
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	if !a.spawn(q.run) {
		q.mu.Lock()
		q.running = false
		q.tasks = nil
		q.mu.Unlock()
	}
}

func (q *serial) run() {
	for {
		q.mu.Lock()
		if len(q.tasks) == 0 {
			q.running = false
			q.tasks = nil
			q.mu.Unlock()
			return
		}
		f := q.tasks[0]
		q.tasks[0] = nil
		q.tasks = q.tasks[1:]
		q.mu.Unlock()
		f()
	}
}
