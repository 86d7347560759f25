// Command example is a chat on sio: a Go server that serves a web page and
// Socket.IO on the same router. Run it from this folder (make chat does):
//
//	npm ci && go run . -addr :3001
//
// then open http://localhost:3001 in two browser windows.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio"
	redisadapter "github.com/sio-go/sio/adapter/redis"
)

//go:embed web
var web embed.FS

// clientBundle is the official socket.io-client browser bundle, installed by
// npm from package-lock.json.
const clientBundle = "node_modules/socket.io-client/dist/socket.io.min.js"

func main() {
	addr := flag.String("addr", ":3001", "address to listen on")
	router := flag.String("router", "std", "router: std (net/http.ServeMux) or chi")
	redisURL := flag.String("redis", "", "Redis URL (redis://host:6379) to share rooms with other chat servers")
	verbose := flag.Bool("v", false, "log every connection at debug level")
	flag.Parse()

	if _, err := os.Stat(clientBundle); err != nil {
		log.Fatalf("%s is missing: run `npm ci` in the example folder (make chat does it)", clientBundle)
	}
	if *verbose {
		slog.SetLogLoggerLevel(slog.LevelDebug)
	}

	// With -redis, several chat servers behind a load balancer are one
	// chat: the Redis adapter carries broadcasts and room queries between
	// them (and to Node.js servers using @socket.io/redis-adapter).
	var opts []sio.Option
	if *redisURL != "" {
		ropts, err := redis.ParseURL(*redisURL)
		if err != nil {
			log.Fatalf("-redis: %v", err)
		}
		rdb := redis.NewClient(ropts)
		defer rdb.Close()
		opts = append(opts, sio.WithAdapter(redisadapter.New(rdb)))
	}
	chat := newChat(opts...)
	handler, err := routes(*router, chat)
	if err != nil {
		log.Fatal(err)
	}
	httpSrv := &http.Server{Addr: *addr, Handler: handler}

	// On Ctrl-C, stop taking requests and let every client go cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(shutdownCtx, httpSrv, chat); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()

	log.Printf("chat on %s (router: %s)", pageURL(*addr), *router)
	if err := httpSrv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	// ListenAndServe returns as soon as the shutdown starts: wait for it.
	<-stopped
}

// shutdown stops the HTTP server and the chat together, and waits for both.
// They need each other: http.Server.Shutdown waits for the requests in
// flight, long polls among them, which only chat.Shutdown ends; and it does
// not wait for hijacked connections (WebSockets), which chat.Shutdown does.
func shutdown(ctx context.Context, httpSrv *http.Server, chat *sio.Server) error {
	var wg sync.WaitGroup
	var chatErr error
	wg.Go(func() { chatErr = chat.Shutdown(ctx) })
	httpErr := httpSrv.Shutdown(ctx)
	wg.Wait()
	return errors.Join(httpErr, chatErr)
}

// routes mounts the page, the client bundle and Socket.IO on the chosen
// router.
func routes(router string, chat http.Handler) (http.Handler, error) {
	page, _ := fs.Sub(web, "web")
	files := http.FileServerFS(page)
	bundle := func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, clientBundle) }
	switch router {
	case "std":
		mux := http.NewServeMux()
		mux.Handle("/socket.io/", chat)
		mux.HandleFunc("/vendor/socket.io.min.js", bundle)
		mux.Handle("/", files)
		return mux, nil
	case "chi":
		r := chi.NewRouter()
		r.Handle("/socket.io/*", chat)
		r.Get("/vendor/socket.io.min.js", bundle)
		r.Handle("/*", files)
		return r, nil
	}
	return nil, errors.New("-router must be std or chi")
}

// pageURL is the address to open in a browser.
func pageURL(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "http://localhost" + addr
	}
	return "http://" + addr
}
