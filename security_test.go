package sio

import (
	"errors"
	"go/parser"
	"go/token"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Security tests (issue 8): the origin policy, the request hook, session
// ids, sessions that cannot be taken over from another transport, and the
// session cookie's flags.

// relDialOrigin opens a WebSocket session with the given Origin header (none
// if empty) and reports the HTTP status of the handshake.
func relDialOrigin(t *testing.T, c *relClient, origin string) int {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, resp, err := c.dialer().Dial(c.wsURL(c.query(TransportWebSocket)), h)
	if ws != nil {
		ws.Close()
	}
	if resp == nil {
		t.Fatalf("websocket handshake with Origin %q: %v", origin, err)
	}
	return resp.StatusCode
}

// TestRelSecurityOrigins checks that only same-origin pages may connect by
// default, and that WithAllowedOrigins governs both CORS for long-polling
// and the Origin check of WebSocket handshakes.
func TestRelSecurityOrigins(t *testing.T) {
	handshake := "EIO=4&transport=polling"
	poll := func(t *testing.T, c *relClient, method, query, origin string) relResp {
		t.Helper()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		r, err := c.do(method, query, strings.NewReader("6"), h)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	t.Run("same origin only by default", func(t *testing.T) {
		rs := relStart(t)
		c := rs.client()
		self := rs.hs.URL
		for _, origin := range []string{"", self} {
			r := poll(t, c, http.MethodGet, handshake, origin)
			if r.status != 200 || !strings.HasPrefix(r.body, "0{") {
				t.Errorf("polling handshake with Origin %q: %d %q; want an open packet", origin, r.status, r.body)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Origin %q: Access-Control-Allow-Origin %q; want none", origin, got)
			}
			if got := relDialOrigin(t, c, origin); got != http.StatusSwitchingProtocols {
				t.Errorf("websocket handshake with Origin %q: %d; want 101", origin, got)
			}
		}
		port := rs.hs.Listener.Addr().String()
		for _, origin := range []string{"http://evil.example", "null", "http://localhost.evil.example",
			"http://127.0.0.1:1", "https://" + port + ".evil.example", "file://"} {
			relExpectHTTPError(t, "polling handshake from "+origin, poll(t, c, http.MethodGet, handshake, origin), 403, 4, "Origin not allowed")
			if got := relDialOrigin(t, c, origin); got != http.StatusForbidden {
				t.Errorf("websocket handshake from %s: %d; want 403", origin, got)
			}
		}
		// A page of another origin cannot use a session it learnt the id of.
		victim := rs.dial(t, "polling")
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			relExpectHTTPError(t, m+" from another origin", poll(t, c, m, victim.query(TransportPolling), "http://evil.example"),
				403, 4, "Origin not allowed")
		}
		if err := victim.echo("/", `"unharmed"`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("allowlist", func(t *testing.T) {
		const app = "https://app.example.com"
		rs := relStart(t, WithAllowedOrigins(app))
		c := rs.client()
		r := poll(t, c, http.MethodGet, handshake, app)
		if r.status != 200 {
			t.Fatalf("handshake from %s: %d %q", app, r.status, r.body)
		}
		if r.header.Get("Access-Control-Allow-Origin") != app || r.header.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
			t.Errorf("CORS headers for %s: %v; want it allowed with credentials, varying on Origin", app, r.header)
		}
		pre, err := c.do(http.MethodOptions, handshake, nil, http.Header{
			"Origin": {app}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if pre.status != http.StatusNoContent || pre.header.Get("Access-Control-Allow-Origin") != app ||
			pre.header.Get("Access-Control-Allow-Methods") != "GET,POST" || pre.header.Get("Access-Control-Allow-Headers") != "content-type" {
			t.Errorf("preflight from %s: %d %v; want 204 allowing GET,POST and content-type", app, pre.status, pre.header)
		}
		if got := relDialOrigin(t, c, app); got != http.StatusSwitchingProtocols {
			t.Errorf("websocket handshake from %s: %d; want 101", app, got)
		}
		for _, origin := range []string{"https://evil.example", "http://app.example.com", "https://app.example.com.evil.example"} {
			r := poll(t, c, http.MethodGet, handshake, origin)
			relExpectHTTPError(t, "polling handshake from "+origin, r, 403, 4, "Origin not allowed")
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("refused origin %s got Access-Control-Allow-Origin", origin)
			}
			pre := poll(t, c, http.MethodOptions, handshake, origin)
			if pre.status != 403 || pre.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight from %s: %d %v; want 403 without CORS headers", origin, pre.status, pre.header)
			}
			if got := relDialOrigin(t, c, origin); got != http.StatusForbidden {
				t.Errorf("websocket handshake from %s: %d; want 403", origin, got)
			}
		}
	})

	t.Run("wildcard", func(t *testing.T) {
		rs := relStart(t, WithAllowedOrigins("*"))
		c := rs.client()
		const origin = "https://anyone.example"
		if r := poll(t, c, http.MethodGet, handshake, origin); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("handshake from %s: %d %v; want it allowed", origin, r.status, r.header)
		}
		if got := relDialOrigin(t, c, origin); got != http.StatusSwitchingProtocols {
			t.Errorf("websocket handshake from %s: %d; want 101", origin, got)
		}
	})
}

// TestRelSecurityAllowRequest checks the WithAllowRequest hook: it sees
// every handshake, on both transports, before a session exists; its error
// refuses the handshake with 403 and its message; the later requests of a
// session do not reach it.
func TestRelSecurityAllowRequest(t *testing.T) {
	var calls relCounter
	rs := relStart(t, WithAllowRequest(func(r *http.Request) error {
		calls.add()
		if r.URL.Query().Get("token") != "secret" && r.Header.Get("Authorization") != "Bearer secret" {
			return errors.New("invalid token")
		}
		return nil
	}))
	bad := rs.client()
	bad.extra = "&token=guess"
	r, err := bad.do(http.MethodGet, bad.query(TransportPolling), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	relExpectHTTPError(t, "polling handshake with a bad token", r, 403, 4, "invalid token")
	if got := relDialOrigin(t, bad, ""); got != http.StatusForbidden {
		t.Errorf("websocket handshake with a bad token: %d; want 403", got)
	}
	if n := rs.sessions(); n != 0 {
		t.Errorf("%d sessions after refused handshakes; want 0", n)
	}

	for _, mode := range transportModes {
		calls0 := calls.get()
		good := rs.client()
		good.extra = "&token=secret"
		if err := good.openMode(mode); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		for i := range 3 {
			if err := good.echo("/", strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
		good.close()
		if got := calls.get() - calls0; got != 1 {
			t.Errorf("%s session: the hook was called %d times; want once, for the handshake", mode, got)
		}
	}
	h := http.Header{"Authorization": {"Bearer secret"}}
	c := rs.client()
	ws, resp, err := c.dialer().Dial(c.wsURL("EIO=4&transport=websocket"), h)
	if err != nil {
		t.Fatalf("websocket handshake with an Authorization header: %v (%s)", err, relStatus(resp))
	}
	ws.Close()
}

// TestRelSecuritySessionIDs checks session and socket ids: 20 URL-safe
// characters from crypto/rand, unique over 10,000, and evenly spread.
func TestRelSecuritySessionIDs(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "engine.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var cryptoRand bool
	for _, imp := range f.Imports {
		switch imp.Path.Value {
		case `"crypto/rand"`:
			cryptoRand = true
		case `"math/rand"`, `"math/rand/v2"`:
			t.Errorf("engine.go imports %s", imp.Path.Value)
		}
	}
	if !cryptoRand {
		t.Error("engine.go does not import crypto/rand, where session ids come from")
	}

	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)
	const n = 10_000
	seen := make(map[string]bool, n)
	counts := map[rune]int{}
	for range n {
		id := newSessionID()
		if !pattern.MatchString(id) {
			t.Fatalf("session id %q: want 20 URL-safe base64 characters", id)
		}
		if seen[id] {
			t.Fatalf("session id %q drawn twice in %d", id, n)
		}
		seen[id] = true
		for _, r := range id {
			counts[r]++
		}
	}
	// 15 random bytes are exactly 20 characters of 6 bits each: every one
	// of the 64 should come up as often. Chi-squared with 63 degrees of
	// freedom has mean 63 and standard deviation 11.2.
	exp := float64(n*20) / 64
	chi2 := 0.0
	for _, r := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		d := float64(counts[r]) - exp
		chi2 += d * d / exp
	}
	if chi2 > 150 || math.IsNaN(chi2) {
		t.Errorf("characters of %d session ids: chi-squared %.1f over 63 degrees of freedom; want them evenly spread", n, chi2)
	}

	// The ids a live server hands out.
	rs := relStart(t)
	ids := map[string]string{}
	for i := range 60 {
		c := rs.client()
		if err := c.openMode(transportModes[i%3]); err != nil {
			t.Fatal(err)
		}
		for _, s := range rs.srv.main.Sockets() {
			if s.Conn().ID() != c.sid {
				continue
			}
			for _, id := range []string{c.sid, s.ID()} {
				if !pattern.MatchString(id) {
					t.Errorf("id %q: want 20 URL-safe base64 characters", id)
				}
				if prev, dup := ids[id]; dup && prev != c.sid+"/"+s.ID() {
					t.Errorf("id %q handed out twice", id)
				}
				ids[id] = c.sid + "/" + s.ID()
			}
		}
		c.close()
	}
	if len(ids) != 120 {
		t.Errorf("%d distinct session and socket ids for 60 connections; want 120", len(ids))
	}
	t.Logf("session ids: %d drawn, all distinct, chi-squared %.1f (63 degrees of freedom)", n, chi2)
}

// TestRelSecurityNoTakeover checks that once a session is on WebSocket,
// its id is worth nothing on another transport: long-polling requests
// with it are refused, a second WebSocket with it is closed, and none of
// this disturbs the session.
func TestRelSecurityNoTakeover(t *testing.T) {
	rs := relStart(t, WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
	for _, mode := range []string{"upgrade", "websocket"} {
		t.Run(mode, func(t *testing.T) {
			c := rs.dial(t, mode)
			attacker := rs.client()
			attacker.sid = c.sid
			for _, req := range []struct {
				method, body string
				header       http.Header
			}{
				{http.MethodGet, "", nil},
				{http.MethodPost, `42["echo","hijack"]`, nil},
				{http.MethodPost, "1", nil},
				{http.MethodPost, "4x", http.Header{"Content-Type": {"application/octet-stream"}}},
			} {
				r, err := attacker.do(req.method, attacker.query(TransportPolling), strings.NewReader(req.body), req.header)
				if err != nil {
					t.Fatal(err)
				}
				relExpectHTTPError(t, req.method+" "+req.body+" with the session's id", r, 400, 3, "Bad request")
			}
			for _, first := range []string{"2probe", "5", `42["echo","hijack"]`} {
				ws, resp, err := attacker.dialer().Dial(attacker.wsURL(attacker.query(TransportWebSocket)), nil)
				if err != nil {
					t.Fatalf("second websocket: %v (%s)", err, relStatus(resp))
				}
				ws.WriteMessage(websocket.TextMessage, []byte(first))
				ws.SetReadDeadline(time.Now().Add(relWait))
				if _, data, err := ws.ReadMessage(); err == nil {
					t.Errorf("second websocket sending %q got %q; want it closed", first, data)
				}
				ws.Close()
			}
			for i := range 3 {
				if err := c.echo("/", strconv.Itoa(i)); err != nil {
					t.Fatalf("the session after the attempts: %v", err)
				}
			}
			rs.expectOpen(t, c.sid)
			rs.mu.Lock()
			d := rs.disc[c.sid]
			rs.mu.Unlock()
			if len(d) != 0 {
				t.Errorf("the session's socket disconnected: %v", d)
			}
		})
	}
}

// TestRelSecurityCookie checks the session cookie: none by default; with
// WithCookie, HttpOnly always and SameSite=Lax unless set, on the
// handshake of either transport only.
func TestRelSecurityCookie(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []Option
		format string // %s is the session id; empty for no cookie
	}{
		{"off by default", nil, ""},
		{"defaults", []Option{WithCookie(http.Cookie{})}, "io=%s; Path=/; HttpOnly; SameSite=Lax"},
		{"template", []Option{WithCookie(http.Cookie{Name: "lb", Path: "/app", Secure: true, SameSite: http.SameSiteStrictMode})},
			"lb=%s; Path=/app; HttpOnly; Secure; SameSite=Strict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := relStart(t, tc.opts...)
			c := rs.client()
			r, err := c.do(http.MethodGet, "EIO=4&transport=polling", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.setOpen(relFrame{text: strings.Split(r.body, "\x1e")[0]}); err != nil {
				t.Fatal(err)
			}
			// check wants the cookie for session sid, or none if sid is
			// empty.
			check := func(what string, got []string, sid string) {
				t.Helper()
				var want []string
				if tc.format != "" && sid != "" {
					want = []string{strings.Replace(tc.format, "%s", sid, 1)}
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s: Set-Cookie %q; want %q", what, got, want)
				}
			}
			check("polling handshake", r.header.Values("Set-Cookie"), c.sid)
			r, err = c.do(http.MethodPost, c.query(TransportPolling), strings.NewReader("40"), nil)
			if err != nil {
				t.Fatal(err)
			}
			check("later request", r.header.Values("Set-Cookie"), "")
			if tc.format == "" {
				return
			}
			ws, resp, err := c.dialer().Dial(c.wsURL("EIO=4&transport=websocket"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			c2 := &relClient{ws: ws, mode: TransportWebSocket, wait: relWait}
			f, err := c2.next()
			if err != nil {
				t.Fatal(err)
			}
			if err := c2.setOpen(f); err != nil {
				t.Fatal(err)
			}
			check("websocket handshake", resp.Header.Values("Set-Cookie"), c2.sid)
		})
	}
}
