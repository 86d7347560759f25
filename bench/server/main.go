// Command server is the Go side of the sio benchmarks (see BENCHMARKS.md and
// bench/run.sh): the same application as bench/node/server.js, on the local
// sio library with its defaults.
//
//	server -addr 127.0.0.1:PORT [-pprof 127.0.0.1:6060]
//
// Every socket joins room "bench" on connect; a "broadcast" event is emitted
// to the room as "msg" with the same arguments, encoded once; an "echo"
// event is acknowledged with its arguments.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/sio-go/sio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address (off when empty)")
	flag.Parse()

	srv := sio.New()
	srv.OnConnect(func(ctx context.Context, s *sio.Socket) {
		s.Join("bench")
	})
	sio.OnRaw(srv, "broadcast", func(ctx context.Context, s *sio.Socket, args sio.Args) ([]any, error) {
		vals, err := rawValues(args)
		if err != nil {
			return nil, err
		}
		return nil, srv.To("bench").Emit("msg", vals...)
	})
	sio.OnRaw(srv, "echo", func(ctx context.Context, s *sio.Socket, args sio.Args) ([]any, error) {
		return rawValues(args)
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	// For the idle scenario's second reading: collect garbage and return
	// free memory to the OS, as node --expose-gc's global.gc() does for
	// bench/node.
	mux.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		debug.FreeOSMemory()
		w.Write([]byte("ok"))
	})
	hs := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	if *pprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() { log.Println(http.ListenAndServe(*pprofAddr, pm)) }()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
		hs.Close()
	}()
	log.Printf("sio bench server listening on %s (pid %d)", *addr, os.Getpid())
	if err := hs.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// rawValues returns the event's arguments undecoded, to be re-emitted as
// they came: a json.RawMessage is written out verbatim.
func rawValues(args sio.Args) ([]any, error) {
	vals := make([]any, args.Len())
	for i := range vals {
		raw, err := args.Raw(i)
		if err != nil {
			return nil, err
		}
		vals[i] = json.RawMessage(raw)
	}
	return vals, nil
}
