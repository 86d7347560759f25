package sio

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// sio compresses nothing: a WebSocket client's offer of permessage-deflate
// is declined (sio writes and reads the frames itself), and long-polling
// responses are never HTTP-compressed. Node's defaults are the same for
// WebSocket (perMessageDeflate: false); Node does gzip long-polling
// responses of 1 KB or more (httpCompression, threshold 1024).

// compressionOffer is the extension header the ws package under Node
// (socket.io-client, engine.io-client) sends by default.
const compressionOffer = "permessage-deflate; client_max_window_bits"

// compressionBig is a message larger than Node's compression threshold.
var compressionBig = strings.Repeat("compress me ", 400)

// TestEngineNoCompression: the WebSocket handshake response accepts no
// extension, whatever the client offers, directly and on an upgrade, and
// frames come uncompressed; long-polling answers a client that accepts
// gzip without Content-Encoding.
func TestEngineNoCompression(t *testing.T) {
	t.Run("websocket/ws-offer", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		nc, err := net.DialTimeout("tcp", s.srv.Listener.Addr().String(), eioWait)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(eioWait))
		req, _ := http.NewRequest(http.MethodGet, s.url("EIO=4&transport=websocket"), nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Extensions", compressionOffer)
		if err := req.Write(nc); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: HTTP %d, want 101", resp.StatusCode)
		}
		if ext := resp.Header.Values("Sec-WebSocket-Extensions"); len(ext) != 0 {
			t.Errorf("handshake response accepts extensions %q, want none", ext)
		}
		// The open packet: a final text frame, no reserved bit (RSV1 would
		// mark it compressed).
		var hdr [2]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			t.Fatal(err)
		}
		if hdr[0] != 0x81 {
			t.Errorf("first frame starts with %#x, want 0x81 (FIN, text, no RSV bit)", hdr[0])
		}
	})

	// A client that offers compression and would accept compressed frames
	// (gorilla's, with EnableCompression) gets none: gorilla fails on a
	// frame with RSV1 when no compression was agreed.
	dial := func(t *testing.T, s *eioTestServer, query string) *websocket.Conn {
		t.Helper()
		d := websocket.Dialer{HandshakeTimeout: eioWait, EnableCompression: true}
		ws, resp, err := d.Dial(s.wsURL(query), nil)
		if err != nil {
			t.Fatalf("websocket handshake: %v", err)
		}
		t.Cleanup(func() { ws.Close() })
		if ext := resp.Header.Values("Sec-WebSocket-Extensions"); len(ext) != 0 {
			t.Errorf("handshake response accepts extensions %q, want none", ext)
		}
		return ws
	}
	echo := func(t *testing.T, ws *websocket.Conn) {
		t.Helper()
		writeWS(t, ws, websocket.TextMessage, "4"+compressionBig)
		if mt, got := readWS(t, ws); mt != websocket.TextMessage || got != "4"+compressionBig {
			t.Errorf("echo: type %d, %d bytes; want the text message of %d bytes", mt, len(got), 1+len(compressionBig))
		}
		writeWS(t, ws, websocket.BinaryMessage, compressionBig)
		if mt, got := readWS(t, ws); mt != websocket.BinaryMessage || got != compressionBig {
			t.Errorf("echo: type %d, %d bytes; want the binary message of %d bytes", mt, len(got), len(compressionBig))
		}
	}
	t.Run("websocket/echo", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		ws := dial(t, s, "EIO=4&transport=websocket")
		if mt, open := readWS(t, ws); mt != websocket.TextMessage || !strings.HasPrefix(open, "0{") {
			t.Fatalf("first message %q, want the open packet", open)
		}
		echo(t, ws)
	})
	t.Run("upgrade", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		sid, _, _ := s.openPolling(t)
		ws := dial(t, s, "EIO=4&transport=websocket&sid="+sid)
		writeWS(t, ws, websocket.TextMessage, "2probe")
		if _, got := readWS(t, ws); got != "3probe" {
			t.Fatalf("probe answered %q, want 3probe", got)
		}
		writeWS(t, ws, websocket.TextMessage, "5")
		echo(t, ws)
	})

	t.Run("polling", func(t *testing.T) {
		s := newEIOServer(t, eioQuiet...)
		accept := http.Header{"Accept-Encoding": {"gzip, deflate, br"}}
		hs := s.mustRequest(t, http.MethodGet, "EIO=4&transport=polling", "", accept)
		if ce := hs.header.Get("Content-Encoding"); hs.status != http.StatusOK || ce != "" {
			t.Fatalf("handshake: HTTP %d, Content-Encoding %q; want 200, none", hs.status, ce)
		}
		packets, err := decodePayload([]byte(hs.body))
		if err != nil {
			t.Fatalf("handshake body %q: %v", hs.body, err)
		}
		sid := eioSID(t, parseOpen(t, packets[0].data))
		expectResp(t, "POST", s.post(t, sid, "4"+compressionBig+"\x1eb"+"AAEC"), http.StatusOK, "ok")
		r := s.mustRequest(t, http.MethodGet, pollQuery(sid), "", accept)
		if ce := r.header.Get("Content-Encoding"); ce != "" {
			t.Errorf("GET of %d bytes: Content-Encoding %q, want none", len(r.body), ce)
		}
		expectResp(t, "GET", r, http.StatusOK, "4"+compressionBig+"\x1eb"+"AAEC")
	})
}
