package sio_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/sio-go/sio"
)

// A Server mounts on the standard mux, under the path the clients use.
func ExampleNew() {
	srv := sio.New(
		sio.WithPingInterval(25*time.Second),
		sio.WithAllowedOrigins("https://app.example.com"),
	)
	srv.OnConnect(func(ctx context.Context, s *sio.Socket) {
		log.Printf("socket %s connected from %s", s.ID(), s.Handshake().RemoteAddr)
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	log.Fatal(http.ListenAndServe(":3000", mux))
}

type ChatMessage struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// On registers a typed event handler: the client's argument is decoded
// into the handler's parameter type.
func ExampleOn() {
	srv := sio.New()
	sio.On(srv, "chat message", func(ctx context.Context, s *sio.Socket, m ChatMessage) {
		// Everyone in the room but the sender.
		s.To(m.Room).Emit("chat message", m)
	})
}

type SumRequest struct{ A, B int }
type SumReply struct {
	Sum int `json:"sum"`
}

// OnAck registers a handler whose return value acknowledges the client's
// emit: in JavaScript, `const {sum} = await socket.emitWithAck("sum", {A: 1, B: 2})`.
func ExampleOnAck() {
	srv := sio.New()
	sio.OnAck(srv, "sum", func(ctx context.Context, s *sio.Socket, req SumRequest) (SumReply, error) {
		if req.A < 0 || req.B < 0 {
			return SumReply{}, errors.New("only natural numbers") // the client gets {"error": "..."}
		}
		return SumReply{Sum: req.A + req.B}, nil
	})
}

// OnRaw takes events with any number of arguments, of any shape.
func ExampleOnRaw() {
	srv := sio.New()
	sio.OnRaw(srv, "log", func(ctx context.Context, s *sio.Socket, args sio.Args) ([]any, error) {
		vals, err := args.Values()
		if err != nil {
			return nil, err
		}
		log.Println(vals...)
		return nil, nil
	})
}

// Connection middleware can refuse a socket; the client's connect_error
// event receives the message and the data.
func ExampleNamespace_Use() {
	srv := sio.New()
	admin := srv.Of("/admin")
	admin.Use(func(ctx context.Context, s *sio.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		if err := s.Handshake().DecodeAuth(&auth); err != nil || auth.Token != "secret" {
			return &sio.ClientError{Message: "not authorized", Data: map[string]any{"retry": false}}
		}
		return nil
	})
}

// Broadcast targets are immutable values.
func ExampleNamespace_To() {
	srv := sio.New()
	ns := srv.Of("/news")
	ns.To("sports", "weather").Except("muted").Emit("headline", "Sunny all week")
	ns.To("sports").Volatile().Emit("score", map[string]int{"home": 1, "away": 0})
}

// Call emits to one client and decodes its acknowledgement.
func ExampleCall() {
	srv := sio.New()
	srv.OnConnect(func(ctx context.Context, s *sio.Socket) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		lang, err := sio.Call[string](ctx, s, "which language?")
		if err != nil {
			log.Printf("no answer: %v", err)
			return
		}
		s.Join("lang:" + lang)
	})
}

// Shutdown sits beside http.Server.Shutdown, which does not wait for
// WebSocket connections.
func ExampleServer_Shutdown() {
	srv := sio.New()
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	httpSrv := &http.Server{Addr: ":3000", Handler: mux}

	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		httpSrv.RegisterOnShutdown(func() { srv.Shutdown(ctx) })
		httpSrv.Shutdown(ctx)
	}()
	if err := httpSrv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// An Engine is a bare Engine.IO server: here, an echo server.
func ExampleNewEngine() {
	eng := sio.NewEngine(func(c *sio.Conn) {
		c.OnMessage(func(m sio.Message) { c.Send(m) })
	})
	http.Handle("/engine.io/", eng)
}
