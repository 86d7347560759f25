package sio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/goleak"
)

// pollingClient is a minimal Socket.IO client over raw HTTP long-polling,
// enough to prove where a Server answers.
type pollingClient struct {
	t    *testing.T
	base string // URL up to and including the mount path
	sid  string
}

func (c *pollingClient) url() string {
	u := c.base + "?EIO=4&transport=polling"
	if c.sid != "" {
		u += "&sid=" + c.sid
	}
	return u
}

func (c *pollingClient) get() string {
	c.t.Helper()
	resp, err := http.Get(c.url())
	if err != nil {
		c.t.Fatalf("GET %s: %v", c.url(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: status %d, body %q", c.url(), resp.StatusCode, b)
	}
	return string(b)
}

func (c *pollingClient) post(body string) {
	c.t.Helper()
	resp, err := http.Post(c.url(), "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		c.t.Fatalf("POST %s: %v", c.url(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "ok" {
		c.t.Fatalf("POST %q: status %d, body %q; want 200 ok", body, resp.StatusCode, b)
	}
}

// open does the Engine.IO handshake and joins the main namespace.
func (c *pollingClient) open() {
	c.t.Helper()
	body := c.get()
	if !strings.HasPrefix(body, "0{") {
		c.t.Fatalf("handshake body %q: want an open packet", body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.SID == "" {
		c.t.Fatalf("handshake body %q: no sid (%v)", body, err)
	}
	c.sid = open.SID
	c.post("40")
	if got := c.get(); !strings.HasPrefix(got, `40{"sid":"`) {
		c.t.Fatalf("after CONNECT got %q, want 40{\"sid\":...}", got)
	}
}

// newEchoServer returns a Server that acknowledges "echo" with its
// argument.
func newEchoServer(t *testing.T) *Server {
	srv := New(WithPingInterval(time.Minute))
	OnAck(srv, "echo", func(ctx context.Context, s *Socket, v any) (any, error) { return v, nil })
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestMount(t *testing.T) {
	tests := []struct {
		name  string
		mount func(srv *Server) http.Handler
		path  string
	}{
		{"ServeMux", func(srv *Server) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/socket.io/", srv)
			return mux
		}, "/socket.io/"},
		{"ServeMuxCustomPath", func(srv *Server) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/api/realtime/", srv)
			return mux
		}, "/api/realtime/"},
		{"chi", func(srv *Server) http.Handler {
			r := chi.NewRouter()
			r.Handle("/socket.io/*", srv)
			return r
		}, "/socket.io/"},
		{"chiRoute", func(srv *Server) http.Handler {
			r := chi.NewRouter()
			r.Route("/v1", func(r chi.Router) { r.Handle("/ws/*", srv) })
			return r
		}, "/v1/ws/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.mount(newEchoServer(t)))
			t.Cleanup(ts.Close)
			c := &pollingClient{t: t, base: ts.URL + tc.path}
			c.open()
			c.post(`421["echo",{"a":[1,"two"]}]`)
			if got, want := c.get(), `431[{"a":[1,"two"]}]`; got != want {
				t.Fatalf("echo ack: got %q, want %q", got, want)
			}
		})
	}
}

// TestNewStartsNothing checks that New, and registering handlers, start
// no goroutine: the application's http.Server drives everything.
func TestNewStartsNothing(t *testing.T) {
	before := goleak.IgnoreCurrent()
	srv := New()
	srv.OnConnect(func(ctx context.Context, s *Socket) {})
	srv.Of("/other")
	if err := goleak.Find(before); err != nil {
		t.Fatalf("New started a goroutine: %v", err)
	}
	srv.Close()
}
