module github.com/sio-go/sio

go 1.25

require (
	github.com/gorilla/websocket v1.5.3
	go.uber.org/goleak v1.3.0
)

require github.com/go-chi/chi/v5 v5.5.0
