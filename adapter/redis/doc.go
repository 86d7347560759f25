// Package redisadapter scales a [sio] server out over Redis: the servers of
// a cluster share broadcasts, rooms and queries through Redis pub/sub, and
// Node.js servers running @socket.io/redis-adapter (8.x, the classic
// createAdapter) can be in the same cluster, since the channels and
// messages are theirs.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	srv := sio.New(sio.WithAdapter(redisadapter.New(rdb)))
//
// With it, every target of a namespace spans the cluster:
// [sio.Namespace.Emit] and [sio.Broadcast.Emit] reach the clients of every
// server, [sio.Broadcast.EmitWithAck] gathers their acknowledgements,
// [sio.Broadcast.FetchSockets] lists their sockets, SocketsJoin,
// SocketsLeave, DisconnectSockets and CloseConns act on them, and
// [sio.Namespace.ServerSideEmit] reaches the other servers' handlers.
// [sio.Broadcast.Local] keeps any of them to this server.
//
// # How it works
//
// For a namespace N and the key K (default "socket.io"), a server
// subscribes to the pattern K#N#* for broadcasts, and to K-request#N#,
// K-response#N# and K-response#N#<uid># for requests and their answers.
// A broadcast is published once, on K#N#<room># when it targets exactly one
// room and on K#N# otherwise, and each server delivers it to its own
// matching clients. Broadcasts are MessagePack, []byte values travelling as
// binary; requests and responses are JSON, except the MessagePack broadcast
// with acknowledgements and the acknowledgements it collects.
//
// A request that waits for the other servers (fetching sockets, a
// server-side emit with replies, a broadcast with acknowledgements) learns
// how many there are from PUBSUB NUMSUB on the request channel, and fails
// after the requests timeout ([WithRequestsTimeout], default 5s) when some
// do not answer, so a dead server makes requests time out, not hang. Each
// server therefore holds exactly one subscription per namespace, on one
// connection for all its namespaces.
//
// Publishing does not wait for Redis: broadcasts are queued and sent in
// order, pipelined. Pub/sub is best effort: what is published while a
// server is disconnected from Redis is lost for that server. When Redis
// goes away each server keeps serving its own clients, reconnects, and
// resumes; a full queue makes Broadcast fail at once instead of blocking.
//
// # Emitting from elsewhere
//
// [Emitter] publishes broadcasts, room changes and server-side events from
// a process that is not a Socket.IO server, as @socket.io/redis-emitter
// does; Node's emitter reaches Go servers the same way.
//
// # Load balancing
//
// The adapter carries messages between servers, but an Engine.IO session
// lives in one process: clients that use HTTP long-polling must reach the
// same server with every request (sticky sessions), or connect over
// WebSocket only. The package README shows both, with nginx and HAProxy.
//
// # Differences from Node
//
//   - Remote join, leave and disconnect are applied by this server to its
//     own sockets before they are published (Node applies its own when
//     they come back from Redis), so an emit right after SocketsJoin
//     reaches this server's sockets too, as on a single server. Other
//     servers apply them on arrival, before what this one publishes next.
//   - Arguments of server-side events, and the data of sockets fetched from
//     other servers, travel as JSON (as in Node): binary arrives as base64.
//   - A JavaScript Date broadcast by a Node server reaches Go clients as the
//     string its clients get, its toISOString.
//   - The handshake of a Go socket, as Node sees it in fetchSockets, has
//     Node's shape, but no host header (net/http keeps it apart) and the url
//     /socket.io/ with the query (sio does not keep the path).
package redisadapter
