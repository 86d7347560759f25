// The Node.js side of the Redis adapter interop tests, driven by the Go
// test over stdin/stdout, one JSON object per line.
//
// Commands (stdin): {"id": N, "cmd": "...", ...}. Each gets one reply line
// {"id": N, "ok": true, "result": ...} or {"id": N, "ok": false, "error": "..."}.
// Unsolicited lines report what the clients and servers saw:
//   {"type": "event", "client": name, "event": ev, "args": [...]}
//     (a client answers an event's acknowledgement with {from, event, arg},
//     unless the first argument is an object whose "silent" array names it)
//   {"type": "disconnect", "client": name, "reason": "..."}
//   {"type": "sse", "server": name, "event": ev, "args": [...]}
// Binary values travel as {"$bin": "<base64>"} both ways.
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import { io as ioc } from "socket.io-client";
import notepack from "notepack.io";

const servers = new Map(); // name -> {io, http, pub, sub}
const clients = new Map(); // name -> socket
const emitters = new Map(); // redis url -> {client, emitter}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// toWire turns Buffers into {"$bin": base64}, recursively.
function toWire(v) {
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (Array.isArray(v)) return v.map(toWire);
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = toWire(x);
    return o;
  }
  return v;
}

// fromWire is the reverse of toWire.
function fromWire(v) {
  if (Array.isArray(v)) return v.map(fromWire);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string" && Object.keys(v).length === 1) return Buffer.from(v.$bin, "base64");
    if (typeof v.$date === "number" && Object.keys(v).length === 1) return new Date(v.$date);
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = fromWire(x);
    return o;
  }
  return v;
}

function target(io, c) {
  let op = io.of(c.nsp || "/");
  if (c.rooms && c.rooms.length) op = op.to(c.rooms);
  if (c.except && c.except.length) op = op.except(c.except);
  if (c.local) op = op.local;
  if (c.volatile) op = op.volatile;
  return op;
}

async function startServer(c) {
  const pub = createClient({ url: c.redis });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(pub, sub, { requestsTimeout: c.requestsTimeout || 5000 }),
  });
  for (const nspName of c.namespaces || ["/"]) {
    const nsp = io.of(nspName);
    nsp.on("connection", (socket) => {
      socket.data = { server: c.name, auth: socket.handshake.auth };
      socket.on("join", (rooms, cb) => {
        socket.join(rooms);
        if (typeof cb === "function") cb(socket.id);
      });
      socket.on("leave", (room, cb) => {
        socket.leave(room);
        if (typeof cb === "function") cb(socket.id);
      });
      socket.on("rooms", (cb) => cb([...socket.rooms]));
      socket.on("echo", (...args) => {
        const cb = args.pop();
        cb(...args);
      });
    });
    // Server-side events from the other servers.
    nsp.on("sse-ask", (arg, cb) => cb({ from: c.name, arg: toWire(arg) }));
    nsp.on("sse-note", (...args) => out({ type: "sse", server: c.name, nsp: nspName, event: "sse-note", args: toWire(args) }));
  }
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  servers.set(c.name, { io, http, pub, sub });
  return { port: http.address().port };
}

async function stopServer(c) {
  const s = servers.get(c.name);
  if (!s) throw new Error("no server " + c.name);
  servers.delete(c.name);
  s.io.close();
  await Promise.allSettled([s.pub.quit(), s.sub.quit()]);
  return true;
}

// A socket.io "server" command, run on a named Node server.
async function serverOp(c) {
  const s = servers.get(c.server);
  if (!s) throw new Error("no server " + c.server);
  const io = s.io;
  const nsp = io.of(c.nsp || "/");
  switch (c.op) {
    case "emit":
      target(io, c).emit(c.event, ...fromWire(c.args || []));
      return true;
    case "emitMany": {
      // A burst of broadcasts, for the benchmark: the event's argument is
      // its sequence number.
      const op = target(io, c);
      for (let i = 0; i < c.count; i++) op.emit(c.event, i);
      return true;
    }
    case "emitWithAck": {
      try {
        const res = await target(io, c).timeout(c.timeout || 5000).emitWithAck(c.event, ...fromWire(c.args || []));
        return { responses: toWire(res) };
      } catch (err) {
        return { error: String(err.message || err) };
      }
    }
    case "fetchSockets": {
      const sockets = await target(io, c).fetchSockets();
      return sockets.map((x) => ({ id: x.id, rooms: [...x.rooms], data: toWire(x.data), handshake: x.handshake }));
    }
    case "remoteEmit": {
      // RemoteSocket.emit on every socket fetched.
      const sockets = await target(io, c).fetchSockets();
      for (const x of sockets) x.emit(c.event, ...fromWire(c.args || []));
      return sockets.length;
    }
    case "socketsJoin":
      target(io, c).socketsJoin(c.join);
      return true;
    case "socketsLeave":
      target(io, c).socketsLeave(c.leave);
      return true;
    case "disconnectSockets":
      target(io, c).disconnectSockets(!!c.close);
      return true;
    case "sse":
      nsp.serverSideEmit(c.event, ...fromWire(c.args || []));
      return true;
    case "sseAck": {
      try {
        const res = await nsp.serverSideEmitWithAck(c.event, ...fromWire(c.args || []));
        return { responses: toWire(res) };
      } catch (err) {
        return { error: String(err.message || err), responses: toWire(err.responses || []) };
      }
    }
    case "allRooms":
      return [...(await nsp.adapter.allRooms())];
    case "sockets":
      return [...(await nsp.adapter.sockets(new Set(c.rooms || [])))];
    case "serverCount":
      return await nsp.adapter.serverCount();
    case "localRooms": {
      const sock = nsp.sockets.get(c.sid);
      return sock ? [...sock.rooms] : null;
    }
    default:
      throw new Error("unknown server op " + c.op);
  }
}

async function emitterOp(c) {
  let e = emitters.get(c.redis);
  if (!e) {
    const client = createClient({ url: c.redis });
    client.on("error", () => {});
    await client.connect();
    e = { client, emitter: new Emitter(client) };
    emitters.set(c.redis, e);
  }
  let op = e.emitter.of(c.nsp || "/");
  if (c.rooms && c.rooms.length) op = op.to(c.rooms);
  if (c.except && c.except.length) op = op.except(c.except);
  switch (c.op) {
    case "emit":
      op.emit(c.event, ...fromWire(c.args || []));
      return true;
    case "socketsJoin":
      op.socketsJoin(c.join);
      return true;
    case "socketsLeave":
      op.socketsLeave(c.leave);
      return true;
    case "disconnectSockets":
      op.disconnectSockets(!!c.close);
      return true;
    case "sse":
      e.emitter.of(c.nsp || "/").serverSideEmit(c.event, ...fromWire(c.args || []));
      return true;
    default:
      throw new Error("unknown emitter op " + c.op);
  }
}

function connect(c) {
  return new Promise((resolve, reject) => {
    const url = c.url + (c.nsp && c.nsp !== "/" ? c.nsp : "");
    const socket = ioc(url, {
      transports: c.transports || ["websocket"],
      reconnection: !!c.reconnection,
      auth: c.auth || {},
      query: c.query || {},
      forceNew: true,
      timeout: 5000,
    });
    clients.set(c.name, socket);
    let first = true;
    socket.on("connect", () => {
      if (first) {
        first = false;
        resolve({ sid: socket.id });
      } else {
        out({ type: "reconnect", client: c.name, sid: socket.id });
      }
    });
    socket.on("connect_error", (err) => {
      if (first) {
        first = false;
        reject(err);
      }
    });
    socket.on("disconnect", (reason) => out({ type: "disconnect", client: c.name, reason }));
    socket.onAny((event, ...args) => {
      let cb;
      if (typeof args[args.length - 1] === "function") cb = args.pop();
      out({ type: "event", client: c.name, event, args: toWire(args) });
      // A client named in the first argument's "silent" list never answers.
      const silent = args[0] && Array.isArray(args[0].silent) && args[0].silent.includes(c.name);
      if (cb && !silent) cb({ from: c.name, event, arg: toWire(args[0] ?? null) });
    });
  });
}

async function clientOp(c) {
  const socket = clients.get(c.client);
  if (!socket) throw new Error("no client " + c.client);
  switch (c.op) {
    case "emit":
      socket.emit(c.event, ...fromWire(c.args || []));
      return true;
    case "emitWithAck": {
      const res = await socket.timeout(c.timeout || 5000).emitWithAck(c.event, ...fromWire(c.args || []));
      return toWire(res);
    }
    case "close":
      socket.close();
      clients.delete(c.client);
      return true;
    case "connected":
      return socket.connected;
    default:
      throw new Error("unknown client op " + c.op);
  }
}

// notepackOp runs notepack.io, the adapter's MessagePack codec, on a value.
function notepackOp(c) {
  switch (c.op) {
    case "decode":
      return toWire(notepack.decode(Buffer.from(c.hex, "hex")));
    case "encode":
      return notepack.encode(fromWire(c.value)).toString("hex");
    default:
      throw new Error("unknown notepack op " + c.op);
  }
}

async function handle(c) {
  switch (c.cmd) {
    case "notepack":
      return notepackOp(c);
    case "startServer":
      return startServer(c);
    case "stopServer":
      return stopServer(c);
    case "server":
      return serverOp(c);
    case "emitter":
      return emitterOp(c);
    case "connect":
      return connect(c);
    case "client":
      return clientOp(c);
    case "exit": {
      for (const s of clients.values()) s.close();
      for (const name of [...servers.keys()]) await stopServer({ name });
      for (const e of emitters.values()) await e.client.quit().catch(() => {});
      setTimeout(() => process.exit(0), 10);
      return true;
    }
    default:
      throw new Error("unknown command " + c.cmd);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let c;
  try {
    c = JSON.parse(line);
  } catch {
    return;
  }
  handle(c).then(
    (result) => out({ id: c.id, ok: true, result: result === undefined ? null : result }),
    (err) => out({ id: c.id, ok: false, error: String((err && err.message) || err) }),
  );
});
rl.on("close", () => process.exit(0));
out({ type: "ready" });
