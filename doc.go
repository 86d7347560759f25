// Package sio is a Socket.IO server: it lets browsers and apps using the
// official Socket.IO clients exchange events with a Go service in real time.
// It speaks Socket.IO protocol v5 over Engine.IO protocol v4, the protocols
// of socket.io-client 3.x and 4.x and of the official Java, C++, Swift,
// Dart and Python clients.
//
// Start with [New], which returns a [Server]. A Server is an [http.Handler];
// mount it on any router, under the path the clients use (/socket.io/ by
// default):
//
//	srv := sio.New()
//	srv.OnConnect(func(ctx context.Context, s *sio.Socket) {
//		s.Join("lobby")
//	})
//	sio.On(srv, "chat", func(ctx context.Context, s *sio.Socket, m ChatMessage) {
//		s.To("lobby").Emit("chat", m)
//	})
//	mux := http.NewServeMux()
//	mux.Handle("/socket.io/", srv)
//	http.ListenAndServe(":3000", mux)
//
// With chi, mount it with r.Handle("/socket.io/*", srv).
//
// # Handlers
//
// Handlers are registered on a [Namespace] ([Server.Of]), or on the Server
// for the main namespace "/", with generic functions that decode the
// client's argument into a Go type with encoding/json:
//
//   - [On] for events: func(ctx, *Socket, T).
//   - [OnAck] for events the client emits with an acknowledgement:
//     func(ctx, *Socket, T) (R, error); R is the reply.
//   - [OnRaw] for events with several arguments or dynamic shapes: the
//     handler gets the undecoded [Args].
//
// A wrong handler type does not compile. A payload that does not decode
// never reaches the handler; a client that asked for an acknowledgement gets
// {"error": "..."} instead. Connection middleware ([Namespace.Use]) can
// refuse a socket with a message and data that the client's connect_error
// receives; event middleware ([Namespace.UseEvent]) sees every event first.
// [Namespace.OnConnect], [Namespace.OnDisconnecting] and
// [Namespace.OnDisconnect] follow each socket's life, and
// [Namespace.OnAny] and [Namespace.OnAnyOutgoing] see every event.
//
// Every handler gets the socket's context: it carries the values of the
// handshake request's context, so an application's HTTP authentication
// middleware can hand the user to the handlers, and it is cancelled when the
// socket disconnects. The handshake itself (headers, query, address, auth
// payload) is in [Socket.Handshake].
//
// # Emitting and acknowledgements
//
// [Socket.Emit] sends an event to one client. Arguments are encoded with
// encoding/json, and every []byte among them, however deep, travels as a
// binary attachment, as Node's Buffers do. [Socket.EmitWithAck] waits for
// the client's acknowledgement until its context is done; [Call] decodes the
// reply into a Go type.
//
// # Rooms and broadcasting
//
// A socket joins and leaves rooms ([Socket.Join], [Socket.Leave]); it is
// always in the room named by its own id. A [Broadcast] names an audience
// and is an immutable value, safe to keep and share:
//
//	srv.Emit("news", n)                       // every socket of the main namespace
//	ns.Emit("news", n)                        // every socket of ns
//	ns.To("a", "b").Emit("news", n)           // sockets in room a or b, each once
//	ns.To("a").Except("muted").Emit(...)      // in a but not in muted
//	s.Broadcast().Emit(...)                   // everyone in s's namespace but s
//	s.To("a").Emit(...)                       // room a but s
//	ns.To(id).Emit(...)                       // one socket by id
//	ns.To("a").Volatile().Emit(...)           // may be dropped for slow clients
//	ns.To("a").Local().Emit(...)              // this server's sockets only
//
// A broadcast is encoded once, whatever the number of receivers.
//
// A broadcast can ask each receiver for an acknowledgement, and gathers
// the replies until every receiver has answered or its context is done;
// the error says who did not answer:
//
//	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
//	defer cancel()
//	replies, err := ns.To("quiz").EmitWithAck(ctx, "question", q)
//	for _, r := range replies {
//		// r.SocketID answered r.Args
//	}
//	var late *sio.AckTimeoutError
//	if errors.As(err, &late) {
//		// late.Missing: the ids of this server's sockets that did not
//		// answer; late.MissingRemote: how many of other servers' did not
//	}
//
// The sockets of an audience can be listed and acted on as a group, as
// with Node's fetchSockets, socketsJoin, socketsLeave and
// disconnectSockets:
//
//	socks, err := ns.To("lobby").FetchSockets(ctx)
//	for _, r := range socks {
//		log.Println(r.ID, r.Rooms, r.Handshake.RemoteAddr, r.Data)
//	}
//	ns.To("lobby").SocketsJoin("game-1")  // everyone in lobby joins game-1
//	ns.To("game-1").SocketsLeave("lobby")
//	ns.To(id).DisconnectSockets()         // CloseConns closes the connections too
//
// Each [RemoteSocket] that FetchSockets returns acts on its socket wherever
// it is: Emit, Join, Leave, Disconnect.
//
// # Several servers
//
// Alone, a server's audiences are its own sockets. With an [Adapter]
// ([WithAdapter]; the Redis one, in module
// github.com/sio-go/sio/adapter/redis, shares a cluster with Node's
// @socket.io/redis-adapter), every audience above spans the servers of the
// cluster: emits, acknowledgements, FetchSockets and the group actions
// reach the sockets of every server, and [Namespace.ServerSideEmit] reaches
// the other servers' handlers. Local() keeps any of them to this server.
//
// # Concurrency
//
// Every method of [Server], [Namespace], [Socket], [Broadcast] and [Conn] is
// safe to call from any goroutine. Emitting never waits for the network: it
// appends to the connection's bounded send queue and returns. Over
// WebSocket, one goroutine per core (a flusher) writes the queues of many
// connections, each with a write(2) that does not wait: a broadcast is
// queued to every socket of its room, then written in one walk over them,
// and whatever was queued for a connection by its turn goes out together.
// A connection the kernel makes wait (a client that reads slowly) gets a
// writer goroutine of its own until its queue is empty. A client that
// reads too slowly for its queue to stay under [WithSendQueueLimit] is
// disconnected with [ReasonSlowClient]; a volatile emit is dropped instead.
//
// The events of one socket are handled one at a time, in the order the
// client sent them. An event that finds its socket with nothing else to do
// runs on the WebSocket connection's reader, which saves a hand-off between
// goroutines; otherwise, and over long-polling, events run on a goroutine
// of the socket's that exists only while it has events to handle (and 50 ms
// after, in case more come). A handler may block (on a database, or on
// EmitWithAck to the same client) without stopping pings,
// acknowledgements or the client's other namespaces: a handler that holds
// the reader for 2 ms, or waits in EmitWithAck, has the reading handed to
// a new goroutine. Only that socket's later events wait. Sockets of different
// clients, and of different namespaces of one client, are handled in
// parallel. When a client sends faster than its handlers keep up, reading
// from it pauses (at 256 waiting events) until they catch up.
//
// A panic in a handler is recovered and logged with its stack, and only
// that socket is disconnected, with [ReasonHandlerPanic].
//
// # Shutdown
//
// [Server.Shutdown] refuses new connections, closes every connection after
// what was queued for it, and waits for every goroutine the server started,
// or for its context. [http.Server.Shutdown] does not wait for WebSocket
// connections (they were hijacked), nor for the functions it starts from
// [http.Server.RegisterOnShutdown], so wait for both:
//
//	done := make(chan error, 1)
//	httpSrv.RegisterOnShutdown(func() { done <- srv.Shutdown(ctx) })
//	err := httpSrv.Shutdown(ctx)
//	<-done
//
// Each socket is sent a DISCONNECT after what was queued for it: the client
// reports "io server disconnect" and does not reconnect by itself. For a
// rolling restart, [WithDisconnectOnShutdown](false) only closes the
// connections, so that clients reconnect to the server's successor, as
// after Node's io.close(). Handlers see [ReasonServerShutdown] either way.
//
// [Server.Close] closes everything at once. Both may be called more than
// once.
//
// # Security
//
// Only pages of the server's own origin may connect by default; list other
// origins with [WithAllowedOrigins], which governs both CORS for
// long-polling and the Origin check of WebSocket handshakes.
// [WithAllowRequest] can refuse a handshake, for example one without a valid
// token. Session and socket ids come from crypto/rand. Every input is
// bounded, each by an option with a safe default: payload size
// ([WithMaxPayload]), attachments per packet ([WithMaxAttachments]), events
// waiting per socket ([WithMaxPendingEvents]), acknowledgements awaited per
// socket ([WithMaxPendingAcks]), namespaces per connection
// ([WithMaxNamespaces]), bytes queued per client ([WithSendQueueLimit]) and
// handshakes in progress ([WithMaxConcurrentHandshakes]). RELIABILITY.md
// says what is promised and how each promise is tested.
//
// # Logging
//
// The server logs through a [log/slog.Logger] ([WithLogger]; by default
// [slog.Default]): the normal life of connections at Debug, recovered
// panics at Error.
//
// # Engine.IO
//
// The transport layer is usable on its own: [NewEngine] returns an
// [Engine], a bare Engine.IO v4 server, for plain messages with
// engine.io-client, as Node's engine.io package offers.
//
// # Compatibility
//
// sio is tested in CI against socket.io-client 4.8 and engine.io-client 6.6
// under Node.js (over long-polling only, WebSocket only, and long-polling
// upgraded to WebSocket), socket.io-client in headless Chromium, and
// python-socketio 5. It passes the official Engine.IO v4 and Socket.IO v5
// conformance suites. Clients of protocol v4 (Engine.IO v3, socket.io-client
// 2.x) are refused. Connection state recovery is not offered yet.
//
// sio compresses nothing. A WebSocket client that offers permessage-deflate
// (socket.io-client under Node.js does) is answered without the extension,
// so frames travel uncompressed both ways, as with Node's server, whose
// perMessageDeflate is off by default. Long-polling responses are not
// HTTP-compressed either, whereas Node's server gzips those of 1 KB or more
// by default; a compressing reverse proxy can do that where it matters.
package sio
