package main

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio"
	redisadapter "github.com/sio-go/sio/adapter/redis"
)

// startRedis runs a redis-server of its own on a free loopback port, with
// persistence off, until the test ends.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server not found; apt-get install redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	t.Cleanup(func() { rdb.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rdb
}

// TestChatRedis runs two chat servers on one Redis, as -redis does: users
// on either server share rooms, their lists and their messages.
func TestChatRedis(t *testing.T) {
	needNode(t)
	rdb := startRedis(t)
	a := startServer(t, "std", sio.WithAdapter(redisadapter.New(rdb)))
	b := startServer(t, "std", sio.WithAdapter(redisadapter.New(rdb)))

	ca := startClients(t, a.URL(), "websocket")
	cb := startClients(t, b.URL(), "polling")
	ca.login("alice")
	cb.login("bob")

	ca.wantAck("alice", "join", joined{Room: "lobby", Users: []string{"alice"}}, "lobby")
	cb.wantAck("bob", "join", joined{Room: "lobby", Users: []string{"alice", "bob"}}, "lobby")
	ca.want("alice", "user joined", presence{"bob", "lobby"})

	got, _ := cb.ack("bob", "chat message", outgoing{"lobby", "hello across servers"}).(map[string]any)
	id, _ := got["id"].(string)
	ts, _ := got["ts"].(float64)
	if id == "" || ts == 0 {
		t.Fatalf("chat message ack %v: want {id, ts}", got)
	}
	msg := message{ID: id, Room: "lobby", Username: "bob", Text: "hello across servers", TS: int64(ts)}
	ca.want("alice", "chat message", msg)
	cb.want("bob", "chat message", msg)

	ca.emit("alice", "typing", roomRef{"lobby"})
	cb.want("bob", "typing", presence{"alice", "lobby"})

	ca.settle("alice")
	cb.settle("bob")
	ca.noMore("alice")
	cb.noMore("bob")
}
