package sio

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The handshake as handlers see it, with the real socket.io-client
// (sio.mjs, scenario handshake) in every transport mode. The Server is
// wrapped in an application's HTTP middleware that requires a header and
// puts a value in the request's context; connection middleware, connection
// handlers and event handlers must all see the handshake's headers, query,
// address and auth payload, and that value.

// hsCtxKey is the context key of the HTTP middleware's value.
type hsCtxKey struct{}

// hsUser is what the HTTP middleware puts in the request's context.
type hsUser struct {
	Name       string
	RemoteAddr string // the request's, with the port
	Transport  string // the transport query parameter of the request
}

// hsSeen is what one handler saw.
type hsSeen struct {
	where    string
	ctxUser  any // the handler's ctx
	sockUser any // the socket's Context()
	hs       Handshake
}

// The values sio.mjs sends in its handshake scenario.
const (
	hsHeader = "X-Sio-Token"
	hsToken  = "hs-secret"
	hsQuery  = "hs-query"
	hsAuth   = `{"token":"hs-auth","n":7}`
)

// hsServer is a Server behind an HTTP auth middleware, recording what its
// handlers see.
type hsServer struct {
	url string

	mu         sync.Mutex
	seen       []hsSeen
	handshakes []string // RemoteAddr of each request without a sid
	refused    atomic.Int64
}

func newHSServer(t *testing.T) *hsServer {
	t.Helper()
	h := &hsServer{}
	srv := New()
	record := func(where string, ctx context.Context, s *Socket) {
		h.mu.Lock()
		h.seen = append(h.seen, hsSeen{where, ctx.Value(hsCtxKey{}), s.Context().Value(hsCtxKey{}), s.Handshake()})
		h.mu.Unlock()
	}
	srv.Use(func(ctx context.Context, s *Socket) error {
		record("middleware", ctx, s)
		return nil
	})
	srv.OnConnect(func(ctx context.Context, s *Socket) { record("connect", ctx, s) })
	OnRaw(srv, "handshake", func(ctx context.Context, s *Socket, _ Args) ([]any, error) {
		record("event", ctx, s)
		u, _ := ctx.Value(hsCtxKey{}).(*hsUser)
		hs := s.Handshake()
		return []any{map[string]any{
			"ok":         u != nil,
			"user":       u,
			"header":     hs.Header.Get(hsHeader),
			"query":      hs.Query().Get("q"),
			"remoteAddr": hs.RemoteAddr,
			"auth":       hs.Auth,
		}}, nil
	})

	// An application's authentication middleware, as it would wrap any
	// handler: every request must carry the token, and the user goes in
	// the request's context.
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(hsHeader) != hsToken {
				h.refused.Add(1)
				http.Error(w, "no token", http.StatusUnauthorized)
				return
			}
			if r.URL.Query().Get("sid") == "" {
				h.mu.Lock()
				h.handshakes = append(h.handshakes, r.RemoteAddr)
				h.mu.Unlock()
			}
			u := &hsUser{Name: "alice", RemoteAddr: r.RemoteAddr, Transport: r.URL.Query().Get("transport")}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), hsCtxKey{}, u)))
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", auth(srv))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { srv.Close() }) // runs first
	h.url = hs.URL
	return h
}

func (h *hsServer) snapshot() ([]hsSeen, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hsSeen(nil), h.seen...), append([]string(nil), h.handshakes...)
}

func TestHandshakeInterop(t *testing.T) {
	needNode(t)
	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			h := newHSServer(t)
			start := time.Now()
			r := runNode(t, 60*time.Second, "sio.mjs", "--url", h.url, "--mode", mode, "--scenario", "handshake", "--timeout", "45")
			seen, handshakes := h.snapshot()
			if !r.Passed() {
				t.Fatalf("sio.mjs handshake in %s mode failed:\n%s\nserver saw: %+v", mode, r, seen)
			}
			if n := h.refused.Load(); n != 0 {
				t.Errorf("the HTTP middleware refused %d requests without the header", n)
			}
			if len(handshakes) != 1 {
				t.Fatalf("%d handshake requests (%v), want 1", len(handshakes), handshakes)
			}
			host, port, err := net.SplitHostPort(handshakes[0])
			if p, _ := strconv.Atoi(port); err != nil || host != "127.0.0.1" || p <= 0 {
				t.Fatalf("handshake request from %q, want 127.0.0.1:port", handshakes[0])
			}
			openTr := "polling"
			if mode == "websocket" {
				openTr = "websocket"
			}

			var wheres []string
			for _, s := range seen {
				wheres = append(wheres, s.where)
				u, ok := s.ctxUser.(*hsUser)
				if !ok {
					t.Errorf("%s: ctx carries %v, want the HTTP middleware's *hsUser", s.where, s.ctxUser)
					continue
				}
				if s.sockUser != s.ctxUser {
					t.Errorf("%s: Socket.Context() carries %v, the handler's ctx %v", s.where, s.sockUser, s.ctxUser)
				}
				// The value is the handshake request's, whatever request
				// carried the packet (a later POST, or the WebSocket).
				want := hsUser{Name: "alice", RemoteAddr: handshakes[0], Transport: openTr}
				if *u != want {
					t.Errorf("%s: context value %+v, want %+v", s.where, *u, want)
				}
				hs := s.hs
				if got := hs.Header.Get(hsHeader); got != hsToken {
					t.Errorf("%s: Handshake().Header %s = %q, want %q", s.where, hsHeader, got, hsToken)
				}
				if got := hs.Query().Get("q"); got != hsQuery {
					t.Errorf("%s: Handshake().Query q = %q, want %q", s.where, got, hsQuery)
				}
				if hs.Query().Get("EIO") != "4" || hs.Query().Get("transport") != openTr {
					t.Errorf("%s: Handshake().Query = %v, want EIO=4 and transport=%s", s.where, hs.Query(), openTr)
				}
				if hs.RemoteAddr != host {
					t.Errorf("%s: Handshake().RemoteAddr = %q, want %q (the handshake request's %s, without the port)",
						s.where, hs.RemoteAddr, host, handshakes[0])
				}
				if !sioJSONEqual(t, string(hs.Auth), hsAuth) {
					t.Errorf("%s: Handshake().Auth = %s, want %s", s.where, hs.Auth, hsAuth)
				}
				var a struct {
					Token string `json:"token"`
					N     int    `json:"n"`
				}
				if err := hs.DecodeAuth(&a); err != nil || a.Token != "hs-auth" || a.N != 7 {
					t.Errorf("%s: DecodeAuth = %+v, %v; want {hs-auth 7}", s.where, a, err)
				}
				if hs.Secure {
					t.Errorf("%s: Handshake().Secure over plain HTTP", s.where)
				}
				if hs.Time.Before(start) || hs.Time.After(time.Now()) {
					t.Errorf("%s: Handshake().Time %v, not during the run", s.where, hs.Time)
				}
			}
			if got := strings.Join(wheres, ","); got != "middleware,connect,event" {
				t.Errorf("handlers ran: %s; want middleware,connect,event", got)
			}
			if ev := r.Events("handshake"); len(ev) != 1 {
				t.Errorf("client reported %d handshake events, want 1:\n%s", len(ev), r)
			} else if testing.Verbose() {
				t.Logf("client: %v", ev[0]["seen"])
			}
		})
	}
}
