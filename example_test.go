package sio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"slices"
	"strings"
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

// A broadcast with acknowledgements gathers the replies of its receivers
// until its context is done, and says who did not answer. (The clients
// here are in-process test clients, made by dial below: alice answers
// "42", bob never answers.)
func ExampleBroadcast_EmitWithAck() {
	srv := sio.New()
	defer srv.Close()
	alice, bob := dial(srv, "alice", "42"), dial(srv, "bob", "")
	names := map[string]string{alice: "alice", bob: "bob"}
	srv.To(alice, bob).SocketsJoin("quiz")

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	replies, err := srv.To("quiz").EmitWithAck(ctx, "question", "6 x 7?")
	for _, r := range replies {
		var answer string
		r.Args.Decode(0, &answer)
		fmt.Println(names[r.SocketID], "answered", answer)
	}
	var late *sio.AckTimeoutError
	if errors.As(err, &late) {
		// On a cluster, late.MissingRemote counts the silent sockets of
		// the other servers.
		for _, id := range late.Missing {
			fmt.Println(names[id], "did not answer in time:", errors.Is(err, context.DeadlineExceeded))
		}
	}
	// Output:
	// alice answered 42
	// bob did not answer in time: true
}

// FetchSockets lists the sockets of an audience, with their rooms,
// handshake and data; each acts on its socket wherever it is, on this
// server or another of the cluster. (The clients are in-process test
// clients, made by dial below.)
func ExampleBroadcast_FetchSockets() {
	srv := sio.New()
	defer srv.Close()
	srv.Use(func(ctx context.Context, s *sio.Socket) error {
		var auth struct {
			Name string `json:"name"`
		}
		s.Handshake().DecodeAuth(&auth)
		s.SetData(auth.Name)
		return nil
	})
	alice, bob := dial(srv, "alice", ""), dial(srv, "bob", "")
	dial(srv, "carol", "")
	srv.To(alice, bob).SocketsJoin("lobby")

	ctx := context.Background()
	socks, err := srv.To("lobby").FetchSockets(ctx)
	if err != nil {
		log.Fatal(err)
	}
	slices.SortFunc(socks, func(a, b sio.RemoteSocket) int { return strings.Compare(a.Data.(string), b.Data.(string)) })
	for _, s := range socks {
		fmt.Println(s.Data, "is in lobby:", slices.Contains(s.Rooms, "lobby"))
	}
	socks[0].Leave("lobby")
	socks[1].Disconnect()

	everyone, _ := srv.FetchSockets(ctx)
	inLobby, _ := srv.To("lobby").FetchSockets(ctx)
	fmt.Println(len(everyone), "connected,", len(inLobby), "in lobby")
	// Output:
	// alice is in lobby: true
	// bob is in lobby: true
	// 2 connected, 0 in lobby
}

// dial connects an in-process Socket.IO client to the main namespace of
// h, over long-polling, calling h.ServeHTTP without a network, and returns
// its socket id. Its auth is {"name": name}; it answers every event that
// asks for an acknowledgement with answer, or never if answer is empty.
// It stops when the server closes its session.
func dial(h http.Handler, name, answer string) string {
	do := func(method, sid, body string) (string, bool) {
		r := httptest.NewRequest(method, "/socket.io/?EIO=4&transport=polling&sid="+sid, strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Body.String(), w.Code == http.StatusOK
	}
	body, _ := do("GET", "", "") // 0{"sid":...}: the Engine.IO handshake
	var open struct{ SID string }
	json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open)
	auth, _ := json.Marshal(map[string]string{"name": name})
	do("POST", open.SID, "40"+string(auth)) // CONNECT to "/"
	connected := make(chan string, 1)
	go func() {
		for {
			body, ok := do("GET", open.SID, "")
			if !ok {
				return
			}
			for _, p := range strings.Split(body, "\x1e") {
				switch {
				case p == "1": // the session is closed
					return
				case p == "2": // ping
					do("POST", open.SID, "3")
				case strings.HasPrefix(p, "40"): // connected: 40{"sid":...}
					var c struct{ SID string }
					json.Unmarshal([]byte(p[2:]), &c)
					connected <- c.SID
				case strings.HasPrefix(p, "42") && answer != "": // an event: 42<ack id>[...]
					if id := p[2:strings.IndexByte(p, '[')]; id != "" {
						reply, _ := json.Marshal([]string{answer})
						do("POST", open.SID, "43"+id+string(reply))
					}
				}
			}
		}
	}()
	return <-connected
}
