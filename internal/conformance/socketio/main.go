// Command socketio serves Socket.IO at /socket.io/, configured as the
// "Test suite" section of the Socket.IO v5 specification asks, for the
// official conformance suite:
//
//	go run ./internal/conformance/socketio -addr 127.0.0.1:3000
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/sio-go/sio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	flag.Parse()

	srv := sio.New(
		sio.WithPingInterval(300*time.Millisecond),
		sio.WithPingTimeout(200*time.Millisecond),
		sio.WithMaxPayload(1_000_000),
		sio.WithConnectTimeout(time.Second),
	)
	// Both namespaces greet a new socket with its auth payload.
	greet := func(ctx context.Context, s *sio.Socket) {
		s.Emit("auth", s.Handshake().Auth)
	}
	srv.OnConnect(greet)
	srv.Of("/custom").OnConnect(greet)

	// On the main namespace, "message" is echoed back as "message-back",
	// and "message-with-ack" is acknowledged with its own arguments.
	sio.OnRaw(srv, "message", func(ctx context.Context, s *sio.Socket, args sio.Args) ([]any, error) {
		vals, err := args.Values()
		if err != nil {
			return nil, err
		}
		return nil, s.Emit("message-back", vals...)
	})
	sio.OnRaw(srv, "message-with-ack", func(ctx context.Context, s *sio.Socket, args sio.Args) ([]any, error) {
		return args.Values()
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	log.Printf("socket.io conformance server on http://%s/socket.io/", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
