#!/usr/bin/python3
"""Drive python-socketio's synchronous client against a sio server.

Used by python_interop_test.go with Debian's python3-socketio (5.7.x, on
python3-engineio 4.3.x, python3-requests and python3-websocket):

    python3 client.py --url http://127.0.0.1:PORT \
        --transports polling|websocket|both --scenario NAME [--timeout S]

Scenarios (the Go test registers the matching server handlers):

  connect           connect with auth {"token":"abc"}; report sids, transport
  events            events client->server and server->client
  acks              acknowledgements both ways (sio.call, emit+callback, a
                    client handler's return value answering EmitWithAck)
  binary            bytes both ways, top-level and nested, events and acks
  namespace         the "/custom" namespace beside "/"
  connect-error     an unknown namespace, and one whose middleware refuses
  disconnect        the client disconnects ("/" and "/custom"), its
                    DISCONNECT packets flushed before the socket closes
  disconnect-raw    the client disconnects with python-socketio's plain
                    disconnect(), which may lose them over WebSocket
  server-disconnect the server disconnects the socket
  heartbeat         stay idle for longer than a ping interval plus the ping
                    timeout, answering the server's pings

Output: one JSON object per line on stdout; bytes are shown as
{"$bytes": "<hex>"}. The last line is {"result":"pass"} or
{"result":"fail","reason":...}. The exit code is 0 only on pass (1 on
failure, 2 on a usage error). --timeout (default 30 s) is a hard limit: the
process reports a failure and exits when it runs out, whatever it waits on.
"""

import argparse
import json
import logging
import os
import queue
import sys
import threading
import time
import traceback

try:
    import socketio
except ImportError as exc:  # pragma: no cover
    print(json.dumps({"result": "fail", "reason": "import: %s" % exc}),
          flush=True)
    sys.exit(1)

AUTH = {"token": "abc"}
WAIT = 10.0  # seconds to wait for any one reply

_out_lock = threading.Lock()
_done = False


def jsonable(v):
    """Render v for the JSON output: bytes as {"$bytes": hex}."""
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": bytes(v).hex()}
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def out(**fields):
    with _out_lock:
        if _done:
            return
        print(json.dumps(jsonable(fields), sort_keys=True), flush=True)


def finish(code, **fields):
    """Print the final line and end the process at once.

    os._exit, not sys.exit: python-engineio's threads are not daemons, and a
    long-polling GET that is still waiting would keep the process alive.
    """
    global _done
    with _out_lock:
        if not _done:
            _done = True
            print(json.dumps(jsonable(fields), sort_keys=True), flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class Fail(Exception):
    pass


def check(cond, msg, *args):
    if not cond:
        raise Fail(msg % args if args else msg)


def same(got, want, what):
    """Compare exactly, types included (bytes is not str, tuple is not
    list, True is not 1)."""
    check(_same(got, want), "%s: got %s, want %s", what,
          json.dumps(jsonable(got)), json.dumps(jsonable(want)))


def _same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


class Inbox:
    """Collects the events a client receives. python-socketio runs every
    Engine.IO message's handler on a thread of its own, so handlers may run
    concurrently and in any order: everything here is thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queues = {}

    def _q(self, key):
        with self._lock:
            return self._queues.setdefault(key, queue.Queue())

    def put(self, key, value):
        self._q(key).put(value)

    def get(self, key, timeout=WAIT):
        try:
            return self._q(key).get(timeout=timeout)
        except queue.Empty:
            raise Fail("no %r within %.0fs" % (key, timeout)) from None

    def listen(self, sio, event, namespace="/", reply=None):
        """Record every `event` on namespace as a tuple of its arguments;
        reply(args), if given, makes the handler's return value."""

        def handler(*args):
            out(event="recv", name=event, nsp=namespace, args=list(args))
            self.put((namespace, event), args)
            return reply(args) if reply else None

        sio.on(event, handler, namespace=namespace)


DEBUG = False


def new_client():
    # No reconnection: a dropped connection must fail the scenario, not be
    # papered over. handle_sigint=False: no process-wide signal handlers.
    return socketio.Client(reconnection=False, handle_sigint=False,
                           logger=DEBUG, engineio_logger=DEBUG)


def connect(sio, args, namespaces=None, auth=AUTH):
    sio.connect(args.url, auth=auth, transports=args.transport_list,
                namespaces=namespaces or ["/"], wait_timeout=WAIT)
    out(event="connected", sid=sio.sid, namespaces=dict(sio.namespaces),
        transport=sio.transport())
    check_transport(sio, args)


def check_transport(sio, args):
    want = "polling" if args.transports == "polling" else "websocket"
    same(sio.transport(), want, "transport")


def call(sio, event, data=None, namespace="/"):
    r = sio.call(event, data, namespace=namespace, timeout=WAIT)
    out(event="call", name=event, nsp=namespace, reply=r)
    return r


def whoami(sio, namespace="/"):
    """The server's view of this socket; checks it against the client's."""
    r = call(sio, "whoami", namespace=namespace)
    check(isinstance(r, dict), "whoami: not an object: %r", r)
    same(r.get("id"), sio.get_sid(namespace), "whoami id (socket id)")
    same(r.get("nsp"), namespace, "whoami nsp")
    same(r.get("auth"), AUTH, "whoami auth")
    return r


def disconnect(sio, flush=True):
    """Disconnect every namespace, then wait for python-engineio's threads
    to end.

    python-socketio 5.7's disconnect() queues a DISCONNECT per namespace and
    calls eio.disconnect(abort=True), which queues CLOSE and, on WebSocket,
    closes the socket at once, from the calling thread, while the writer
    thread may not have written the queued packets yet: the server then sees
    the connection drop ("transport close") instead of the DISCONNECT, most
    of the time. With flush (the default), eio.disconnect first waits until
    the writer has written every queued packet, which is what the Go test
    relies on to check "client namespace disconnect"; flush=False shows the
    library's own behaviour (the disconnect-raw scenario).

    disconnect() also returns before anything is written, so a process that
    exited right away would lose the packets even over long-polling:
    joining the threads is what a longer-lived program gets for free."""
    eio = sio.eio
    writer, reader = eio.write_loop_task, eio.read_loop_task
    start = time.monotonic()
    if flush:
        orig = eio.disconnect

        def flushing_disconnect(abort=False):
            eio.disconnect = orig
            deadline = time.monotonic() + WAIT
            while eio.queue.unfinished_tasks and time.monotonic() < deadline:
                time.sleep(0.005)
            check(not eio.queue.unfinished_tasks,
                  "engineio writer did not flush its queue within %.0fs", WAIT)
            # The writer checks the state before it waits for the next
            # packet: let it get back to waiting, or the CLOSE that
            # eio.disconnect queues is never written over long-polling.
            time.sleep(0.1)
            return orig(abort=abort)

        eio.disconnect = flushing_disconnect
    sio.disconnect()
    check(not sio.connected, "still connected after disconnect()")
    join_threads(writer, reader, start)


def join_threads(writer, reader, start):
    """Wait for python-engineio's writer and reader threads to end: only
    then has everything the client queued been written, and the reader's
    last long-polling GET been answered."""
    for name, th in (("writer", writer), ("reader", reader)):
        if th is None:
            continue
        th.join(WAIT)
        check(not th.is_alive(), "engineio %s thread still running %.0fs "
              "after the disconnection", name, WAIT)
        out(event="thread-ended", thread=name,
            seconds=round(time.monotonic() - start, 3))


# --- scenarios -------------------------------------------------------------

def sc_connect(args):
    sio = new_client()
    inbox = Inbox()
    inbox.listen(sio, "welcome")
    connect(sio, args)
    sid = sio.get_sid("/")
    check(isinstance(sid, str) and sid, "no socket id")
    check(sid != sio.sid, "socket id equals the Engine.IO sid %r", sid)
    # OnConnect's emit reaches the client.
    (w,) = inbox.get(("/", "welcome"))
    same(w, {"id": sid, "nsp": "/"}, "welcome")
    r = whoami(sio)
    same(r.get("transport"), sio.transport(), "server-side transport")
    out(event="transport", transport=sio.transport(),
        handshake_transport=r.get("handshakeTransport"))
    disconnect(sio)


EVENT_ARGS = ("text \u00e9\u4e2d\U0001F600", 42, 3.5, True, None,
              {"k": "v", "n": [1, 2, {"deep": False}]}, ["a", 1, None])

SERVER_HELLO = {"hello": "python", "n": 42, "f": 1.5, "ok": True,
                "none": None, "list": [1, "two", None, False],
                "nested": {"a": {"b": "c"}}, "unicode": "\u00e9\u4e2d\U0001F600"}


def sc_events(args):
    sio = new_client()
    inbox = Inbox()
    inbox.listen(sio, "echo")
    inbox.listen(sio, "server-hello")
    inbox.listen(sio, "no-args")
    connect(sio, args)
    # Client -> server, several arguments (a tuple spreads them); the server
    # echoes them back as "echo" and then sends fixed "server-hello" and
    # "no-args" events.
    sio.emit("c2s", EVENT_ARGS)
    got = inbox.get(("/", "echo"))
    same(got, EVENT_ARGS, "echo")
    (hello,) = inbox.get(("/", "server-hello"))
    same(hello, SERVER_HELLO, "server-hello")
    got = inbox.get(("/", "no-args"))
    same(got, (), "no-args")
    # One argument that is a list stays one argument.
    sio.emit("c2s", ["one-list", 1])
    same(inbox.get(("/", "echo")), (["one-list", 1],), "echo of a list")
    # No argument at all.
    sio.emit("c2s")
    same(inbox.get(("/", "echo")), (), "echo of nothing")
    disconnect(sio)


def sc_acks(args):
    sio = new_client()
    inbox = Inbox()

    def answer(a):
        kind = a[0] if a else None
        if kind == "single":
            return {"answer": 4}
        if kind == "tuple":
            return ("x", 2, [3])  # a tuple: several ack arguments
        if kind == "none":
            return None  # an ack with no argument
        if kind == "list":
            return ["x", 2]  # a list: one argument
        raise RuntimeError("unexpected question %r" % (a,))

    inbox.listen(sio, "question", reply=answer)
    connect(sio, args)

    # Client -> server: sio.call waits for the ack.
    same(call(sio, "sum", {"a": 2, "b": 3}), 5, "call sum")
    # emit with a callback.
    cb = queue.Queue()
    sio.emit("sum", {"a": 20, "b": 22}, callback=lambda *a: cb.put(a))
    try:
        got = cb.get(timeout=WAIT)
    except queue.Empty:
        raise Fail("emit callback never called") from None
    out(event="callback", name="sum", args=list(got))
    same(got, (42,), "emit callback args")
    # Several ack arguments: sio.call returns them as a tuple.
    same(call(sio, "multi"), ("a", 1, {"k": "v"}), "call multi")
    # An error reply from OnAck.
    same(call(sio, "fail"), {"error": "nope", "data": {"code": 42}},
         "call fail")
    # A payload OnAck cannot decode.
    r = call(sio, "sum", "not an object")
    check(isinstance(r, dict) and set(r) == {"error"} and
          "invalid payload" in r["error"], "bad payload reply: %r", r)
    # Server -> client: the server's "ask" handler calls EmitWithAck with
    # "question"; our handler's return value is the ack; the server replies
    # to "ask" with what it got.
    for kind, want in [
        ("single", {"len": 1, "values": [{"answer": 4}]}),
        ("tuple", {"len": 3, "values": ["x", 2, [3]]}),
        ("none", {"len": 0, "values": []}),
        ("list", {"len": 1, "values": [["x", 2]]}),
    ]:
        same(call(sio, "ask", kind), want, "ask " + kind)
        same(inbox.get(("/", "question")), (kind,), "question " + kind)
    disconnect(sio)


BIN_TOP = bytes([0, 1, 2, 253, 254, 255])
BIN_ARGS = (BIN_TOP,
            {"nested": b"hello", "list": [b"\x00", "text", {"deep": b"\xff" * 3}],
             "n": 7},
            [b"a", b"b"],
            b"")  # an empty attachment

# What the server's "send-bin" handler emits as "bin-fixed".
BIN_FIXED = (bytes([0, 1, 2, 255]),
             {"nested": b"hello", "list": [bytes([9, 8]), "text", {"deep": b""}]},
             {"blob": b"struct field"})


def sc_binary(args):
    sio = new_client()
    inbox = Inbox()
    inbox.listen(sio, "bin-echo")
    inbox.listen(sio, "bin-fixed")
    inbox.listen(sio, "question",
                 reply=lambda a: (b"\xde\xad", {"k": [b"\xbe\xef"]}))
    connect(sio, args)
    # Client -> server, echoed back.
    sio.emit("bin", BIN_ARGS)
    same(inbox.get(("/", "bin-echo")), BIN_ARGS, "bin-echo")
    # Server -> client, fixed.
    sio.emit("send-bin")
    same(inbox.get(("/", "bin-fixed")), BIN_FIXED, "bin-fixed")
    # Decoded into a Go struct with []byte fields; acked with its view.
    r = call(sio, "bin-struct", {"name": "n", "data": b"\x01\x02",
                                 "parts": [b"p1", b"", b"p3"]})
    same(r, {"name": "n", "data": b"\x01\x02", "parts": [b"p1", b"", b"p3"],
             "sizes": [2, 2, 0, 2]}, "bin-struct ack")
    # A binary ack from the server (sio.call).
    same(call(sio, "bin", (b"\x07", [b"\x08"])), (b"\x07", [b"\x08"]),
         "binary ack")
    # A binary ack from the client (the server's EmitWithAck).
    same(call(sio, "ask", "binary"),
         {"len": 2, "values": [b"\xde\xad", {"k": [b"\xbe\xef"]}]},
         "client binary ack")
    disconnect(sio)


def sc_namespace(args):
    sio = new_client()
    inbox = Inbox()
    inbox.listen(sio, "custom-hello", namespace="/custom")
    inbox.listen(sio, "echo", namespace="/custom")
    connect(sio, args, namespaces=["/", "/custom"])
    root, custom = sio.get_sid("/"), sio.get_sid("/custom")
    check(root and custom and root != custom,
          "socket ids not distinct: %r %r", root, custom)
    (h,) = inbox.get(("/custom", "custom-hello"))
    same(h, {"nsp": "/custom", "id": custom}, "custom-hello")
    whoami(sio, "/")
    r = whoami(sio, "/custom")
    out(event="custom", whoami=r)
    # An event on /custom is handled by /custom's handler only ("/" has no
    # "nsp-echo", and /custom's "echo" listener is what gets it).
    sio.emit("nsp-echo", {"x": 1}, namespace="/custom")
    same(inbox.get(("/custom", "echo")), ({"x": 1, "nsp": "/custom"},),
         "/custom echo")
    disconnect(sio)


def sc_connect_error(args):
    # An unknown namespace.
    sio = new_client()
    inbox = Inbox()
    inbox.listen(sio, "connect_error", namespace="/nope")
    try:
        sio.connect(args.url, auth=AUTH, transports=args.transport_list,
                    namespaces=["/nope"], wait_timeout=1)
    except socketio.exceptions.ConnectionError as exc:
        out(event="connect-failed", nsp="/nope", error=str(exc))
    else:
        raise Fail("connected to /nope")
    same(inbox.get(("/nope", "connect_error")),
         ({"message": "Invalid namespace"},), "/nope connect_error")
    sio.disconnect()

    # A middleware that refuses, with data.
    sio = new_client()
    inbox = Inbox()
    inbox.listen(sio, "connect_error", namespace="/guarded")
    try:
        sio.connect(args.url, auth={"token": "wrong"},
                    transports=args.transport_list,
                    namespaces=["/guarded"], wait_timeout=1)
    except socketio.exceptions.ConnectionError as exc:
        out(event="connect-failed", nsp="/guarded", error=str(exc))
    else:
        raise Fail("connected to /guarded with a wrong token")
    same(inbox.get(("/guarded", "connect_error")),
         ({"message": "unauthorized", "data": {"need": "token"}},),
         "/guarded connect_error")
    sio.disconnect()

    # The same middleware lets the right token in.
    sio = new_client()
    connect(sio, args, namespaces=["/guarded"], auth={"token": "letmein"})
    r = call(sio, "whoami", namespace="/guarded")
    same(r.get("auth"), {"token": "letmein"}, "/guarded auth")
    disconnect(sio)


def sc_disconnect(args):
    sio = new_client()
    inbox = Inbox()
    sio.on("disconnect", lambda: inbox.put("disconnect", "/"))
    sio.on("disconnect", lambda: inbox.put("disconnect", "/custom"),
           namespace="/custom")
    connect(sio, args, namespaces=["/", "/custom"])
    whoami(sio, "/")
    whoami(sio, "/custom")
    disconnect(sio)
    got = sorted([inbox.get("disconnect"), inbox.get("disconnect")])
    same(got, ["/", "/custom"], "disconnect handlers")


def sc_disconnect_raw(args):
    sio = new_client()
    connect(sio, args)
    whoami(sio)
    disconnect(sio, flush=False)


def sc_server_disconnect(args):
    sio = new_client()
    inbox = Inbox()
    sio.on("disconnect", lambda: inbox.put("disconnect", True))
    connect(sio, args)
    whoami(sio)
    writer, reader = sio.eio.write_loop_task, sio.eio.read_loop_task
    start = time.monotonic()
    sio.emit("kick-me")
    inbox.get("disconnect")
    # python-socketio closes the Engine.IO connection (sends CLOSE) when
    # its last namespace is gone.
    deadline = time.monotonic() + WAIT
    while sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    check(not sio.connected, "still connected after the server's disconnect")
    out(event="kicked")
    join_threads(writer, reader, start)


def sc_heartbeat(args):
    sio = new_client()
    connect(sio, args)
    interval, timeout = sio.eio.ping_interval, sio.eio.ping_timeout
    out(event="heartbeat", ping_interval=interval, ping_timeout=timeout)
    # Stay idle for longer than a ping interval plus the ping timeout: the
    # server would have closed a connection whose pongs it did not get.
    time.sleep(interval + timeout + 1.5)
    check(sio.connected, "disconnected while idle")
    whoami(sio)
    check_transport(sio, args)
    disconnect(sio)


SCENARIOS = {
    "connect": sc_connect,
    "events": sc_events,
    "acks": sc_acks,
    "binary": sc_binary,
    "namespace": sc_namespace,
    "connect-error": sc_connect_error,
    "disconnect": sc_disconnect,
    "disconnect-raw": sc_disconnect_raw,
    "server-disconnect": sc_server_disconnect,
    "heartbeat": sc_heartbeat,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--transports", required=True,
                   choices=["polling", "websocket", "both"])
    p.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--debug", action="store_true",
                   help="log python-socketio's and python-engineio's "
                   "packets to stderr")
    args = p.parse_args()
    if args.debug:
        global DEBUG
        DEBUG = True
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr,
            format="%(relativeCreated)7.1f %(threadName)s %(name)s: "
                   "%(message)s")
    args.transport_list = {"polling": ["polling"],
                           "websocket": ["websocket"],
                           "both": ["polling", "websocket"]}[args.transports]

    def expire():
        finish(1, result="fail",
               reason="hard timeout of %gs reached" % args.timeout)

    t = threading.Timer(args.timeout, expire)
    t.daemon = True
    t.start()

    out(event="start", scenario=args.scenario, transports=args.transports,
        python=sys.version.split()[0],
        socketio=getattr(socketio, "__version__", None) or _dist_version(
            "python-socketio"),
        engineio=_dist_version("python-engineio"))
    try:
        SCENARIOS[args.scenario](args)
    except Fail as exc:
        finish(1, result="fail", reason=str(exc))
    except Exception as exc:  # an unexpected error is a failure too
        traceback.print_exc(file=sys.stderr)
        finish(1, result="fail",
               reason="%s: %s" % (type(exc).__name__, exc))
    finish(0, result="pass")


def _dist_version(name):
    try:
        from importlib import metadata
        return metadata.version(name)
    except Exception:
        return None


if __name__ == "__main__":
    main()
