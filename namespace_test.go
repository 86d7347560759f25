package sio

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Disconnecting more than one socket at once, and dynamic namespaces, over
// real connections with relClient (reliability_test.go).

// namespaceDrain reads the client's messages until the server's close
// packet, and returns those before it.
func namespaceDrain(t *testing.T, c *relClient) []string {
	t.Helper()
	var got []string
	for {
		f, err := c.nextMsg()
		if err != nil {
			t.Fatalf("after %q: %v; want a close packet", got, err)
		}
		if f.text == "1" && !f.binary {
			return got
		}
		got = append(got, f.String())
	}
}

// TestNamespaceDisconnectAll: Socket.DisconnectAll tells the client about
// each of its sockets (a DISCONNECT per namespace), ends them with
// ReasonServerNamespaceDisconnect, then closes the connection; other
// clients stay.
func TestNamespaceDisconnectAll(t *testing.T) {
	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			rs := relStart(t)
			rs.ns("/chat")
			c, sid := hooksDial(t, rs, mode)
			chatSID, err := c.connect("/chat")
			if err != nil {
				t.Fatal(err)
			}
			other, otherSID := hooksDial(t, rs, mode)

			rs.srv.Of("/").Socket(sid).DisconnectAll()
			if got, want := namespaceDrain(t, c), []string{`"41"`, `"41/chat,"`}; !slices.Equal(got, want) {
				t.Errorf("the client got %v before the close packet, want %v", got, want)
			}
			d := rs.discs(t, c.sid, 2)
			slices.SortFunc(d, func(a, b relDisc) int { return strings.Compare(a.nsp, b.nsp) })
			want := []relDisc{{"/", ReasonServerNamespaceDisconnect}, {"/chat", ReasonServerNamespaceDisconnect}}
			if !slices.Equal(d, want) {
				t.Errorf("disconnections %v, want %v", d, want)
			}
			if r := rs.closeReason(t, c.sid); r != ReasonForcedClose {
				t.Errorf("connection closed with %q, want %q", r, ReasonForcedClose)
			}
			if rs.srv.Of("/chat").Socket(chatSID) != nil || rs.srv.Of("/").Socket(sid) != nil {
				t.Error("a disconnected socket is still listed")
			}

			if err := other.echo("/", `"still here"`); err != nil {
				t.Errorf("the other client: %v", err)
			}
			if got := rs.srv.Of("/").Sockets(); len(got) != 1 || got[0].ID() != otherSID {
				t.Errorf("sockets of /: %v, want only %s", got, otherSID)
			}
		})
	}
}

// TestNamespaceDisconnectEveryone: the forms of Node's io.disconnectSockets
// that act on a whole namespace. To().DisconnectSockets() disconnects every
// socket of the namespace and leaves the connections and the other
// namespaces alone; To().CloseConns() closes the connections too.
func TestNamespaceDisconnectEveryone(t *testing.T) {
	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			rs := relStart(t)
			chat := rs.ns("/chat")
			var clients []*relClient
			for range 2 {
				c, _ := hooksDial(t, rs, mode)
				if _, err := c.connect("/chat"); err != nil {
					t.Fatal(err)
				}
				clients = append(clients, c)
			}

			if err := rs.srv.To().DisconnectSockets(); err != nil {
				t.Fatal(err)
			}
			for i, c := range clients {
				hooksExpect(t, c, relText("41"))
				if d := rs.discs(t, c.sid, 1); d[0] != (relDisc{"/", ReasonServerNamespaceDisconnect}) {
					t.Errorf("client %d: disconnection %v", i, d[0])
				}
				if err := c.echo("/chat", `1`); err != nil {
					t.Errorf("client %d on /chat after the main namespace was emptied: %v", i, err)
				}
				rs.expectOpen(t, c.sid)
			}
			if n := len(rs.srv.Of("/").Sockets()); n != 0 {
				t.Errorf("/ has %d sockets, want 0", n)
			}

			if err := chat.To().CloseConns(); err != nil {
				t.Fatal(err)
			}
			for i, c := range clients {
				if got := namespaceDrain(t, c); !slices.Equal(got, []string{`"41/chat,"`}) {
					t.Errorf("client %d got %v before the close packet, want the DISCONNECT of /chat", i, got)
				}
				if r := rs.closeReason(t, c.sid); r != ReasonForcedClose {
					t.Errorf("client %d: connection closed with %q, want %q", i, r, ReasonForcedClose)
				}
			}
		})
	}
}

// TestNamespaceOfFunc: a namespace matched by a function is created the
// first time a client asks for it, once; it shares the template's
// middleware and handlers, those registered later included. Templates are
// tried in order, after the namespaces that exist; a name no template
// matches is an invalid namespace.
func TestNamespaceOfFunc(t *testing.T) {
	rs := relStart(t)
	srv := rs.srv
	rs.ns("/org-static")
	var mu sync.Mutex
	asked := map[string][]string{} // by template: the names it was asked about
	matcher := func(tmpl, prefix string) func(string) bool {
		return func(name string) bool {
			mu.Lock()
			asked[tmpl] = append(asked[tmpl], name)
			mu.Unlock()
			return strings.HasPrefix(name, prefix)
		}
	}
	org := srv.OfFunc(matcher("org", "/org-"))
	anyO := srv.OfFunc(matcher("o", "/o"))
	if org.Name() != "" {
		t.Errorf("template Name() = %q, want empty", org.Name())
	}
	org.Use(func(ctx context.Context, s *Socket) error {
		var a struct{ Deny bool }
		s.Handshake().DecodeAuth(&a)
		if a.Deny {
			return &ClientError{Message: "org refused"}
		}
		return nil
	})
	var connected []*Namespace
	org.OnConnect(func(ctx context.Context, s *Socket) {
		mu.Lock()
		connected = append(connected, s.Namespace())
		mu.Unlock()
	})
	OnAck(org, "where", func(ctx context.Context, s *Socket, _ any) (string, error) { return s.Namespace().Name(), nil })
	OnAck(anyO, "where", func(ctx context.Context, s *Socket, _ any) (string, error) {
		return "o:" + s.Namespace().Name(), nil
	})

	c, _ := hooksDial(t, rs, "websocket")
	for _, nsp := range []string{"/org-1", "/ops", "/org-static"} {
		if _, err := c.connect(nsp); err != nil {
			t.Fatal(err)
		}
	}
	hooksSend(t, c, relText(`42/org-1,1["where"]`))
	hooksExpect(t, c, relText(`43/org-1,1["/org-1"]`))
	hooksSend(t, c, relText(`42/ops,2["where"]`))
	hooksExpect(t, c, relText(`43/ops,2["o:/ops"]`))
	if err := c.echo("/org-static", `"static"`); err != nil {
		t.Error(err)
	}
	hooksSend(t, c, relText(`40/nope,`))
	hooksExpect(t, c, relText(`44/nope,{"message":"Invalid namespace"}`))
	hooksSend(t, c, relText(`40/org-2,{"deny":true}`))
	hooksExpect(t, c, relText(`44/org-2,{"message":"org refused"}`))

	// A second client of /org-1 gets the same namespace, and the template
	// is not asked again.
	c2, _ := hooksDial(t, rs, "websocket")
	if _, err := c2.connect("/org-1"); err != nil {
		t.Fatal(err)
	}
	// A handler registered on the template now reaches the namespaces
	// made from it.
	OnAck(org, "late", func(ctx context.Context, s *Socket, v int) (int, error) { return v + 1, nil })
	hooksSend(t, c2, relText(`42/org-1,7["late",41]`))
	hooksExpect(t, c2, relText(`43/org-1,7[42]`))

	mu.Lock()
	gotAsked := map[string][]string{"org": asked["org"], "o": asked["o"]}
	gotConnected := slices.Clone(connected)
	mu.Unlock()
	wantAsked := map[string][]string{
		"org": {"/org-1", "/ops", "/nope", "/org-2"},
		"o":   {"/ops", "/nope"},
	}
	for k, want := range wantAsked {
		if !slices.Equal(gotAsked[k], want) {
			t.Errorf("template %s asked about %v, want %v", k, gotAsked[k], want)
		}
	}
	org1 := srv.Of("/org-1")
	if len(gotConnected) != 2 || gotConnected[0] != org1 || gotConnected[1] != org1 {
		t.Errorf("OnConnect saw namespaces %v, want /org-1 twice, the one Of returns", gotConnected)
	}
	if n := len(org1.Sockets()); n != 2 {
		t.Errorf("/org-1 has %d sockets, want 2", n)
	}

	// Broadcasting on the template reaches the namespaces made from it.
	if err := org.Emit("hi", 1); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*relClient{c, c2} {
		hooksExpect(t, cl, relText(`42/org-1,["hi",1]`))
	}

	defer func() {
		if recover() == nil {
			t.Error("OfFunc(nil) did not panic")
		}
	}()
	srv.OfFunc(nil)
}
