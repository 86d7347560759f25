#!/usr/bin/env node
// rooms.mjs — opens several real `socket.io-client` sockets against the sio Go
// server of rooms_interop_test.go, and reports everything each one receives,
// so that the Go test, which drives the server side (rooms, broadcasts,
// acknowledgements, fetch/join/leave/disconnect), can check exactly who got
// what.
//
// Usage:
//   node rooms.mjs --url http://127.0.0.1:PORT --mode polling|websocket|upgrade \
//                  (--clients SPEC | --count N) [options]
//
// Protocol with the server:
//   - each client connects with auth {name, token: "tok-" + name}, one
//     Engine.IO connection per client (in upgrade mode, once the upgrade to
//     WebSocket is done), then emits "ready" {name, transport};
//   - an event received with an acknowledgement callback is answered with
//     {name} unless its first argument is an object whose "silent" array
//     holds the client's name: then it is never answered;
//   - a client is finished when it receives "done", or when its socket is
//     disconnected (by the server: "io server disconnect"); once every client
//     is finished the script prints its result and exits.
//
// Output, one JSON object per line on stdout:
//   {"client":NAME,"event":"connect","id":SOCKET_ID,"transport":T}
//   {"client":NAME,"event":"ready","transport":T}
//   {"client":NAME,"recv":EVENT,"args":[...],"ack":true|false}  (not with --summary)
//   {"client":NAME,"event":"disconnect","reason":R}
//   {"client":NAME,"event":"connect_error","error":...}
//   with --summary, instead of "recv" lines, one line per client at the end:
//   {"client":NAME,"summary":{"count":N,"first":S,"last":S,"inOrder":BOOL,
//                              "other":[EVENT...],"done":BOOL,"transport":T}}
//   where count/first/last/inOrder are about the "msg" events' {seq}
//   (inOrder: each seq is the previous + 1), and "other" lists the other
//   events received;
//   always last: {"result":"pass"} or {"result":"fail","reason":"..."}.
// Exit code 0 on pass, 1 on failure, 2 on a usage error. The script fails
// only on a timeout, a connection error, or (upgrade mode) a client that did
// not end up on WebSocket; the Go test judges the rest.

import { io } from "socket.io-client";
import {
  badUsage,
  clientOptions,
  connectionHelp,
  emit,
  emitAll,
  finish,
  flag,
  hardTimeout,
  int,
  number,
  onFinish,
  parseArgs,
  positiveInt,
  text,
} from "./cli.mjs";

const USAGE = `usage: node rooms.mjs --url URL --mode MODE (--clients SPEC | --count N) [options]

${connectionHelp("Socket.IO", "/socket.io/", '"ready" is sent once the upgrade is done')}
  --clients SPEC     comma-separated clients, each NAME or NAME@/namespace
                     (default namespace "/"), e.g. a,b,c,o@/other
  --count N          instead of --clients: N clients c0..c(N-1) on "/"
  --summary          print one summary line per client instead of every event
  --batch N          open the clients N at a time (default 100)
  --timeout SECONDS  hard limit for the whole run (default 60)
`;

// The command line, for parseArgs (cli.mjs); --url and --mode come with it.
const ARGS = {
  name: "rooms.mjs",
  usage: USAGE,
  options: {
    path: ["/socket.io/", text],
    clients: [null, text],
    count: [0, int],
    summary: [false, flag],
    batch: [100, positiveInt],
    timeout: [60, number],
  },
  // check sets o.specs, the clients to open: [{name, nsp}].
  check(o) {
    if (o.clients !== null) {
      if (o.count) badUsage("give --clients or --count, not both");
      o.specs = o.clients.split(",").map((s) => {
        const [name, nsp = "/"] = s.split("@");
        if (!name || !nsp.startsWith("/")) badUsage(`bad client ${JSON.stringify(s)}`);
        return { name, nsp };
      });
    } else {
      if (o.count < 1) badUsage("--clients or --count (at least 1) is required");
      o.specs = Array.from({ length: o.count }, (_, i) => ({ name: `c${i}`, nsp: "/" }));
    }
    if (new Set(o.specs.map((s) => s.name)).size !== o.specs.length) badUsage("client names must be unique");
  },
};

const opts = await parseArgs(process.argv.slice(2), ARGS);
const clients = [];

// With --summary, the summary lines come right before the result.
onFinish(() => {
  if (opts.summary) emitAll(summaries());
});

// Whatever the value, a compact form of it for the output: acknowledgement
// callbacks are not values.
function plain(args) {
  return args.filter((a) => typeof a !== "function");
}

function summaries() {
  const lines = [];
  for (const c of clients) {
    const seqs = c.seqs;
    let inOrder = true;
    for (let i = 1; i < seqs.length; i++) if (seqs[i] !== seqs[i - 1] + 1) inOrder = false;
    lines.push({
      client: c.name,
      summary: {
        count: seqs.length,
        first: seqs.length ? seqs[0] : null,
        last: seqs.length ? seqs[seqs.length - 1] : null,
        inOrder,
        other: c.other,
        done: c.done,
        transport: c.socket.io.engine ? c.socket.io.engine.transport.name : null,
      },
    });
  }
  return lines;
}

function checkAllFinished() {
  if (clients.length === opts.specs.length && clients.every((c) => c.finished)) {
    if (opts.mode === "upgrade") {
      const bad = clients.filter((c) => c.readyTransport !== "websocket");
      if (bad.length) return finish(false, `not upgraded: ${bad.map((c) => c.name).join(",")}`);
    }
    finish(true);
  }
}

function open(spec) {
  const { name, nsp } = spec;
  const url = opts.url.replace(/\/$/, "") + (nsp === "/" ? "/" : nsp);
  const socket = io(url, {
    ...clientOptions(opts),
    reconnection: false,
    forceNew: true, // one Engine.IO connection per client
    timeout: 30000,
    auth: { name, token: `tok-${name}` },
  });
  const c = { name, nsp, socket, finished: false, done: false, ready: false, readyTransport: null, seqs: [], other: [] };
  clients.push(c);

  const finishClient = () => {
    if (c.finished) return;
    c.finished = true;
    checkAllFinished();
  };

  // In upgrade mode "ready" waits for the upgrade, so that the server's
  // broadcasts all travel over the final transport.
  let upgraded = opts.mode !== "upgrade";
  const sendReady = () => {
    if (c.ready || !upgraded || !socket.connected) return;
    c.ready = true;
    c.readyTransport = socket.io.engine.transport.name;
    emit({ client: name, event: "ready", transport: c.readyTransport });
    socket.emit("ready", { name, transport: c.readyTransport });
  };
  const engine = socket.io.engine;
  if (engine) {
    engine.on("upgrade", () => {
      upgraded = true;
      sendReady();
    });
  }

  socket.on("connect", () => {
    emit({ client: name, event: "connect", id: socket.id, transport: socket.io.engine.transport.name });
    sendReady();
  });
  socket.on("connect_error", (err) => {
    emit({ client: name, event: "connect_error", error: err && err.message });
    finish(false, `${name}: connect_error ${err && err.message}`);
  });
  socket.on("disconnect", (reason) => {
    emit({ client: name, event: "disconnect", reason });
    finishClient();
  });
  socket.onAny((event, ...args) => {
    const ack = args.length > 0 && typeof args[args.length - 1] === "function" ? args[args.length - 1] : null;
    const vals = plain(args);
    if (opts.summary) {
      if (event === "msg" && vals[0] && typeof vals[0].seq === "number") c.seqs.push(vals[0].seq);
      else c.other.push(event);
    } else {
      emit({ client: name, recv: event, args: vals, ack: ack !== null });
    }
    if (ack) {
      const silent = vals[0] && Array.isArray(vals[0].silent) ? vals[0].silent : [];
      if (!silent.includes(name)) ack({ name });
    }
    if (event === "done") {
      c.done = true;
      finishClient();
    }
  });
}

hardTimeout(opts.timeout, () => {
  const waiting = clients.filter((c) => !c.finished).map((c) => c.name);
  const notReady = clients.filter((c) => !c.ready).map((c) => c.name);
  const show = (l) => (l.length > 20 ? l.slice(0, 20).join(",") + `,… (${l.length})` : l.join(","));
  return `timeout after ${opts.timeout}s; unfinished: ${show(waiting)}; not ready: ${show(notReady)}`;
}).unref();

// Open the clients a batch at a time: each batch once the previous one is
// connected (or failed), so that a thousand handshakes do not all start in
// the same tick.
for (let i = 0; i < opts.specs.length; i += opts.batch) {
  const batch = opts.specs.slice(i, i + opts.batch);
  const before = clients.length;
  for (const spec of batch) open(spec);
  await Promise.all(
    clients.slice(before).map(
      (c) =>
        new Promise((resolve) => {
          if (c.socket.connected) return resolve();
          c.socket.once("connect", resolve);
          c.socket.once("connect_error", resolve);
        }),
    ),
  );
}
// Keep the process alive until finish() (the timer is unref'd).
setInterval(() => {}, 1 << 30);
