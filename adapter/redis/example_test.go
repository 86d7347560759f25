package redisadapter_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio"
	redisadapter "github.com/sio-go/sio/adapter/redis"
)

// Every server of the cluster, Go or Node.js, is given the same Redis.
// Close the server before the Redis client.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	srv := sio.New(sio.WithAdapter(redisadapter.New(rdb)))
	defer srv.Close()
	http.Handle("/socket.io/", srv)

	sio.On(srv, "chat", func(ctx context.Context, s *sio.Socket, msg string) {
		// Reaches the sockets in "lobby" on every server but s.
		s.To("lobby").Emit("chat", msg)
	})
	log.Fatal(http.ListenAndServe(":3000", nil))
}

// Behind a load balancer without sticky sessions, serve WebSocket only:
// each session is then one TCP connection, which stays on its server.
// Clients must connect with transports: ["websocket"].
func ExampleNew_webSocketOnly() {
	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
	srv := sio.New(
		sio.WithTransports(sio.TransportWebSocket),
		sio.WithAdapter(redisadapter.New(rdb, redisadapter.WithRequestsTimeout(2*time.Second))),
	)
	http.Handle("/socket.io/", srv)
	log.Fatal(http.ListenAndServe(":3000", nil))
}

// Servers can query each other: the sockets of a room wherever they are,
// and the replies of the other servers' handlers.
func ExampleNew_cluster() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	srv := sio.New(sio.WithAdapter(redisadapter.New(rdb)))
	ns := srv.Of("/")

	// Every server answers "load" with its number of sockets.
	ns.OnServerSideEmit("load", func(ctx context.Context, args sio.Args) ([]any, error) {
		return []any{len(ns.Sockets())}, nil
	})

	ctx := context.Background()
	replies, err := ns.ServerSideEmitWithAck(ctx, "load")
	if err != nil {
		log.Print(err) // some server did not answer in time
	}
	for _, r := range replies {
		var n int
		r.Decode(0, &n)
		fmt.Println("a server has", n, "sockets")
	}

	sockets, err := ns.To("admins").FetchSockets(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range sockets {
		s.Emit("notice", "maintenance at noon") // wherever s is
	}
}

// A process that is not a Socket.IO server (a worker, a cron job) emits to
// the clients of the cluster.
func ExampleNewEmitter() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	em := redisadapter.NewEmitter(rdb)
	ctx := context.Background()

	em.Emit(ctx, "time", time.Now().Unix())
	em.Of("/chat").To("room1").Except("banned").Emit(ctx, "news", map[string]any{
		"title": "hello",
		"image": []byte{0x89, 'P', 'N', 'G'}, // binary reaches the clients as binary
	})
	em.To("user:42").SocketsJoin(ctx, "premium")
	em.ServerSideEmit(ctx, "config-changed")
}
