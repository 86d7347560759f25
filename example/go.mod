module github.com/sio-go/sio/example

go 1.25

replace github.com/sio-go/sio => ../

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/redis/go-redis/v9 v9.22.0
	github.com/sio-go/sio v0.0.0-00010101000000-000000000000
	github.com/sio-go/sio/adapter/redis v0.0.0-00010101000000-000000000000
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)

replace github.com/sio-go/sio/adapter/redis => ../adapter/redis
