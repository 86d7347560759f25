package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sio-go/sio"
)

// This file is the whole chat, as the server sees it. The wire contract
// (what the page, and any other client, may rely on):
//
//	connect        auth {username}; refused with "username required"
//	join           a room name → ack {room, users}; others get "user joined"
//	chat message   {room, text} → ack {id, ts}; the room gets the message
//	typing         {room} → others in the room get {username, room}
//	stop typing    {room} → likewise
//	(disconnect)   others in the room get "user left"

// user is what the chat keeps with each socket.
type user struct {
	mu   sync.Mutex
	name string
	room string // the one chat room the socket is in, or ""
}

func (u *user) currentRoom() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.room
}

func (u *user) setRoom(room string) (old string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	old, u.room = u.room, room
	return old
}

func userOf(s *sio.Socket) *user { return s.Data().(*user) }

// Payloads, as JSON on the wire.
type (
	presence struct {
		Username string `json:"username"`
		Room     string `json:"room"`
	}
	joined struct {
		Room  string   `json:"room"`
		Users []string `json:"users"`
	}
	roomRef struct {
		Room string `json:"room"`
	}
	outgoing struct {
		Room string `json:"room"`
		Text string `json:"text"`
	}
	received struct {
		ID string `json:"id"`
		TS int64  `json:"ts"`
	}
	message struct {
		ID       string `json:"id"`
		Room     string `json:"room"`
		Username string `json:"username"`
		Text     string `json:"text"`
		TS       int64  `json:"ts"`
	}
)

const (
	maxNameLen = 32
	maxRoomLen = 32
	maxTextLen = 2000
)

// newChat returns a Socket.IO server that runs the chat.
func newChat(opts ...sio.Option) *sio.Server {
	// 0. A restart is not a goodbye: when the server shuts down, it only
	// closes the connections, so that the browsers reconnect by themselves
	// to the server that replaces it. (By default Shutdown tells every
	// socket to disconnect, and the clients then stay away.)
	opts = append([]sio.Option{sio.WithDisconnectOnShutdown(false)}, opts...)
	srv := sio.New(opts...)

	// 1. Who are you? Middleware runs before a socket is admitted; an
	// error here reaches the page's "connect_error" handler.
	srv.Use(func(ctx context.Context, s *sio.Socket) error {
		var auth struct {
			Username string `json:"username"`
		}
		s.Handshake().DecodeAuth(&auth)
		name := strings.TrimSpace(auth.Username)
		if name == "" {
			return errors.New("username required")
		}
		if utf8.RuneCountInString(name) > maxNameLen {
			return errors.New("username too long")
		}
		s.SetData(&user{name: name})
		return nil
	})

	// 2. Joining a room: leave the previous one, tell both rooms, and
	// acknowledge with who is there.
	sio.OnAck(srv, "join", func(ctx context.Context, s *sio.Socket, room string) (joined, error) {
		room = strings.TrimSpace(room)
		if room == "" || utf8.RuneCountInString(room) > maxRoomLen {
			return joined{}, errors.New("invalid room name")
		}
		u := userOf(s)
		if old := u.setRoom(room); old != room {
			if old != "" {
				s.Leave(old)
				s.To(old).Emit("user left", presence{u.name, old})
			}
			s.Join(room)
			s.To(room).Emit("user joined", presence{u.name, room})
		}
		return joined{Room: room, Users: usersIn(ctx, srv, room)}, nil
	})

	// 3. A message goes to everyone in the room, the sender included; the
	// acknowledgement is the page's cue to tick it as delivered.
	sio.OnAck(srv, "chat message", func(ctx context.Context, s *sio.Socket, m outgoing) (received, error) {
		u := userOf(s)
		if m.Room == "" || m.Room != u.currentRoom() {
			return received{}, errors.New("join the room first")
		}
		text := strings.TrimSpace(m.Text)
		if text == "" || utf8.RuneCountInString(text) > maxTextLen {
			return received{}, errors.New("empty or too long message")
		}
		msg := message{ID: newID(), Room: m.Room, Username: u.name, Text: text, TS: time.Now().UnixMilli()}
		srv.To(m.Room).Emit("chat message", msg)
		return received{ID: msg.ID, TS: msg.TS}, nil
	})

	// 4. Typing notices go to the others in the room.
	for _, event := range []string{"typing", "stop typing"} {
		sio.On(srv, event, func(ctx context.Context, s *sio.Socket, r roomRef) {
			u := userOf(s)
			if r.Room != "" && r.Room == u.currentRoom() {
				s.To(r.Room).Emit(event, presence{u.name, r.Room})
			}
		})
	}

	// 5. Leaving: the socket is still in its room while "disconnecting"
	// runs, so the others can be told.
	srv.Of("/").OnDisconnecting(func(s *sio.Socket, reason sio.Reason) {
		u, ok := s.Data().(*user)
		if !ok {
			return
		}
		if room := u.currentRoom(); room != "" {
			s.To(room).Emit("user left", presence{u.name, room})
		}
	})
	return srv
}

// usersIn lists the names of the users in a room, sorted. It asks every
// server of the cluster (with -redis), so it takes a context: a server that
// does not answer in time leaves its users out rather than hanging the join.
func usersIn(ctx context.Context, srv *sio.Server, room string) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	sockets, _ := srv.To(room).FetchSockets(ctx) // on error, those that answered
	names := []string{}
	for _, s := range sockets {
		var auth struct {
			Username string `json:"username"`
		}
		if s.Handshake.DecodeAuth(&auth) == nil {
			names = append(names, strings.TrimSpace(auth.Username))
		}
	}
	slices.Sort(names)
	return names
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
