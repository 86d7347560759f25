module github.com/sio-go/sio/example

go 1.25

replace github.com/sio-go/sio => ../

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/sio-go/sio v0.0.0-00010101000000-000000000000
)

require github.com/gorilla/websocket v1.5.3 // indirect
