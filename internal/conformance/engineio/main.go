// Command engineio serves a bare Engine.IO v4 echo server at /engine.io/,
// configured as the "Test suite" section of the Engine.IO v4 specification
// asks, for the official conformance suite:
//
//	go run ./internal/conformance/engineio -addr 127.0.0.1:3000
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/sio-go/sio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	flag.Parse()

	eng := sio.NewEngine(func(c *sio.Conn) {
		c.OnMessage(func(m sio.Message) { c.Send(m) })
	},
		sio.WithPingInterval(300*time.Millisecond),
		sio.WithPingTimeout(200*time.Millisecond),
		sio.WithMaxPayload(1_000_000),
	)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eng)
	log.Printf("engine.io conformance server on http://%s/engine.io/", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
