package redisadapter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sio-go/sio"
)

// nodeHandshake is socket.handshake as Node's fetchSockets carries it;
// Node rebuilds its RemoteSocket from it.
type nodeHandshake struct {
	Headers map[string]any  `json:"headers"`
	Time    string          `json:"time"`
	Address string          `json:"address"`
	XDomain bool            `json:"xdomain"`
	Secure  bool            `json:"secure"`
	Issued  int64           `json:"issued"`
	URL     string          `json:"url"`
	Query   map[string]any  `json:"query"`
	Auth    json.RawMessage `json:"auth"`
}

// toNodeHandshake describes a handshake of this server the way Node
// does: header names in lower case, repeated headers joined with ", " (but
// Set-Cookie, a list), repeated query parameters as lists, the time as
// JavaScript's Date.toString writes it. The handshake keeps no request
// path, so url is rebuilt as /socket.io/ with the query.
func toNodeHandshake(h sio.Handshake) nodeHandshake {
	out := nodeHandshake{
		Headers: make(map[string]any, len(h.Header)),
		Time:    jsDateString(h.Time),
		Address: h.RemoteAddr,
		XDomain: h.Header.Get("Origin") != "",
		Secure:  h.Secure,
		Issued:  h.Time.UnixMilli(),
		URL:     "/socket.io/",
		Query:   map[string]any{},
		Auth:    h.Auth,
	}
	for k, v := range h.Header {
		k = strings.ToLower(k)
		if k == "set-cookie" {
			out.Headers[k] = v
		} else {
			out.Headers[k] = strings.Join(v, ", ")
		}
	}
	query := h.Query()
	for k, v := range query {
		if len(v) == 1 {
			out.Query[k] = v[0]
		} else {
			out.Query[k] = v
		}
	}
	if len(query) > 0 {
		out.URL += "?" + query.Encode()
	}
	if !json.Valid(out.Auth) {
		out.Auth = json.RawMessage("{}")
	}
	return out
}

// jsDateString formats t as JavaScript's Date.prototype.toString does.
func jsDateString(t time.Time) string {
	name, _ := t.Zone()
	return t.Format("Mon Jan 02 2006 15:04:05 GMT-0700") + " (" + name + ")"
}

// fromNodeHandshake reads the handshake of a socket on another server.
func fromNodeHandshake(h nodeHandshake) sio.Handshake {
	out := sio.Handshake{
		Header:     make(http.Header, len(h.Headers)),
		RemoteAddr: h.Address,
		Secure:     h.Secure,
		Auth:       compactJSON(h.Auth),
	}
	if h.Issued > 0 {
		out.Time = time.UnixMilli(h.Issued)
	}
	for k, v := range h.Headers {
		out.Header[http.CanonicalHeaderKey(k)] = values(v)
	}
	query := make(url.Values, len(h.Query))
	for k, v := range h.Query {
		query[k] = values(v)
	}
	out.RawQuery = query.Encode()
	return out
}

// values reads a header or query value: a string or a list of them.
func values(v any) []string {
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, x := range l {
			out = append(out, plainString(x))
		}
		return out
	}
	if v == nil {
		return nil
	}
	return []string{plainString(v)}
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return json.RawMessage("{}")
	}
	return buf.Bytes()
}
