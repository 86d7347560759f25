#!/usr/bin/env node
// sio.mjs — drives the real `socket.io-client` against the sio Go server set
// up by sio_interop_test.go (newInteropServer) and checks what comes back.
//
// Usage:
//   node sio.mjs --url http://127.0.0.1:PORT --mode polling|websocket|upgrade \
//                --scenario NAME [options]
//
// Output: one JSON object per line on stdout for each notable event, ending
// with {"result":"pass"} or {"result":"fail","reason":"..."}. The exit code is
// 0 only on pass (1 on failure, 2 on a usage error). The Go test checks both
// the result and the server's own observations, so the lines carry the ids
// and values the server must have seen.
//
// Run with --help for the list of scenarios and options. The server contract
// (event names, replies) is described next to each scenario below and in
// sio_interop_test.go.

import { Manager } from "socket.io-client";
import {
  Failure,
  badUsage,
  check,
  clientOptions,
  connectionHelp,
  describeErr,
  emit,
  finalTransport,
  finish,
  int,
  isBinary,
  list,
  number,
  parseArgs,
  runScenario,
  scenarioHelp,
  sleep,
  text,
  toBytes,
} from "./cli.mjs";

const SCENARIOS = {
  connect: "join /, /custom and a dynamic /dyn-N over one connection, each with its own auth; check welcome/whoami",
  "connect-errors":
    "middleware refusals on / (message + data) and /custom (plain error), unknown namespaces; the connection survives",
  events: "events both ways: raw multi-argument echo, typed event, on / and /custom",
  acks: "acks both ways: client emitWithAck to OnAck handlers (incl. error replies), server EmitWithAck/Call to the client",
  binary: "nested binary both ways, on / and /custom: echo, binary acks, typed []byte structs, server pushes",
  "server-ack-timeout": "server EmitWithAck with a deadline to a client that never acks / acks late; ack ids stay right",
  "client-ack-timeout": "client timeout(ms).emitWithAck to server handlers that never ack; the socket stays usable",
  "client-disconnect": "client disconnects /custom, then /; the server sees client namespace disconnect",
  "server-disconnect": "the server disconnects /custom, then /; the client sees io server disconnect, no reconnection",
  reconnect: "the server drops the connection; the client reconnects by itself with new ids; events flow again",
  shutdown:
    "the server shuts down (default options): every socket sees io server disconnect after the events queued before, no reconnection",
  "shutdown-reconnect":
    "the server shuts down with WithDisconnectOnShutdown(false): transport close, and the client tries to reconnect by itself",
  "bad-payload": "typed handlers given a payload that does not decode: error ack, no panic, socket still works",
  order: "send --count numbered events at once; the server must handle them in order",
  "concurrent-emit": "the server emits from many goroutines at once to this socket; every event arrives once, in order per goroutine",
  handshake:
    "(handshake_test.go's server) send a header, a query parameter and an auth payload; ack \"handshake\" reports what the server saw",
};

const USAGE = `usage: node sio.mjs --url URL --mode MODE --scenario NAME [options]

${connectionHelp("Socket.IO", "/socket.io/", "every scenario checks the upgrade happened")}
  --scenario NAME    one of: ${Object.keys(SCENARIOS).join(", ")}
  --timeout SECONDS  hard limit for the whole scenario (default 30)
  --count N          order: number of events (default 200)
  --workers N        concurrent-emit: server goroutines (default 8)
  --per N            concurrent-emit: events per goroutine (default 50)
  --dyn NAME         connect: the dynamic namespace to join (default /dyn-<random digits>)
  --drop-reasons R[,R...]
                     reconnect: the disconnect reasons accepted when the server
                     drops the connection (default "transport close")

scenarios:
${scenarioHelp(SCENARIOS)}
`;

// shutdownScenario is the body of the shutdown scenarios: reasons are the
// disconnect reasons expected, reconnects whether the Manager must try to
// reconnect afterwards.
async function shutdownScenario(h, reasons, reconnects) {
  const extra = { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0 };
  const [m, main, custom] = await h.connectAll(["/", "/custom"], { extra });
  for (const s of [main, custom]) await h.take(s, "welcome");
  await h.checkTransport(m);
  const ids = new Map([main, custom].map((s) => [s, s.id])); // s.id is unset on disconnect
  emit({ event: "ids", main: main.id, custom: custom.id });
  let attempts = 0;
  m.on("reconnect_attempt", () => attempts++);
  h.phase = "server shuts down";
  main.emit("shutdown-me");
  for (const s of [main, custom]) {
    await h.until(s, () => s.disconnects.length > 0, "disconnect");
    check(reasons.includes(s.disconnects[0]), `${s.label} disconnect reason ${s.disconnects[0]}, want ${reasons.join(" or ")}`);
    const [last] = await h.take(s, "last");
    check(last === ids.get(s), `${s.label} "last" was ${JSON.stringify(last)}, want ${ids.get(s)}`);
  }
  h.phase = reconnects ? "waiting for reconnection attempts" : "checking nothing reconnects";
  await sleep(700);
  for (const s of [main, custom]) {
    check(!s.connected, `${s.label} is connected again`);
    check(s.connects === 1, `${s.label} connected ${s.connects} times`);
    check(s.active === reconnects, `${s.label} active=${s.active}, want ${reconnects}`);
  }
  if (reconnects) {
    check(attempts > 0, "no reconnection attempt");
  } else {
    check(attempts === 0 && m.engines === 1, `${attempts} reconnection attempts, ${m.engines} connections; want 0 and 1`);
  }
  emit({ event: "reconnect-attempts", attempts });
  m.reconnection(false);
  main.disconnect();
  custom.disconnect();
}

// ---------------------------------------------------------------------------
// arguments

// The command line, for parseArgs (cli.mjs); --url, --mode and --scenario
// come with it.
const ARGS = {
  name: "sio.mjs",
  usage: USAGE,
  scenarios: SCENARIOS,
  options: {
    path: ["/socket.io/", text],
    timeout: [30, number],
    count: [200, int],
    workers: [8, int],
    per: [50, int],
    dyn: [null, text],
    dropReasons: [["transport close"], list],
  },
  check(o) {
    if (o.count < 1) badUsage("--count must be at least 1");
    if (o.workers < 1 || o.per < 1) badUsage("--workers and --per must be at least 1");
    if (o.dyn === null) o.dyn = `/dyn-${Math.floor(Math.random() * 1e6)}`;
  },
};

// ---------------------------------------------------------------------------
// data helpers

// pattern(n, seed) is the byte pattern both sides compute: byte i is
// (i*7 + seed*13) mod 256. The Go test has the same function (interopPattern).
function pattern(n, seed) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13) & 0xff;
  return b;
}

// canon turns a value into canonical JSON: object keys sorted, binary as
// {"$bin": hex}. Two values are equal when their canon strings are.
function canon(v) {
  if (v === undefined) return "undefined";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (isBinary(v)) return JSON.stringify({ $bin: Buffer.from(toBytes(v)).toString("hex") });
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  return (
    "{" +
    Object.keys(v)
      .sort()
      .map((k) => JSON.stringify(k) + ":" + canon(v[k]))
      .join(",") +
    "}"
  );
}

// show renders a value for the output: binary as {"$bin": length}.
function show(v) {
  if (v === null || typeof v !== "object") return v;
  if (isBinary(v)) return { $bin: toBytes(v).length };
  if (Array.isArray(v)) return v.map(show);
  const o = {};
  for (const k of Object.keys(v)) o[k] = show(v[k]);
  return o;
}

function checkEqual(got, want, what) {
  const g = canon(got);
  const w = canon(want);
  if (g !== w) {
    const trim = (s) => (s.length > 300 ? s.slice(0, 300) + "…" : s);
    throw new Failure(`${what}: got ${trim(g)}, want ${trim(w)}`);
  }
}

function checkBytes(got, want, what) {
  check(isBinary(got), `${what}: not binary but ${JSON.stringify(show(got))}`);
  const g = toBytes(got);
  const w = toBytes(want);
  check(g.length === w.length, `${what}: ${g.length} bytes, want ${w.length}`);
  for (let i = 0; i < g.length; i++) check(g[i] === w[i], `${what}: differs at byte ${i}`);
}

// ---------------------------------------------------------------------------
// harness

// How long to wait for anything the server should do promptly. Generous:
// the tests run under the race detector on two shared cores.
const WAIT = 10000;

class Harness {
  constructor(opts) {
    this.opts = opts;
    this.phase = "setup";
    this.managers = [];
  }

  fail(reason) {
    finish(false, reason);
  }

  // manager opens one Engine.IO connection (more after reconnections) and
  // tracks its transport and upgrades.
  manager(label, extra = {}) {
    const { mode } = this.opts;
    const m = new Manager(this.opts.url, {
      ...clientOptions(this.opts),
      reconnection: false,
      timeout: WAIT,
      ...extra,
    });
    m.label = label;
    m.engines = 0;
    this.managers.push(m);
    const hookEngine = () => {
      const e = m.engine;
      if (!e || e.hooked) return;
      e.hooked = true;
      e.upgraded = false;
      m.engines++;
      e.upgradeP = new Promise((resolve) => (e.resolveUpgrade = resolve));
      const opened = () => emit({ event: "engine-open", manager: label, sid: e.id, transport: e.transport.name });
      if (e.readyState === "open") opened();
      else e.on("open", opened);
      e.on("upgrade", (t) => {
        e.upgraded = true;
        emit({ event: "upgrade", manager: label, sid: e.id, transport: t && t.name });
        if (mode !== "upgrade") this.fail(`unexpected upgrade to ${t && t.name} in ${mode} mode`);
        e.resolveUpgrade();
      });
      e.on("upgradeError", (err) => emit({ event: "upgradeError", manager: label, error: describeErr(err) }));
      e.on("close", (reason, desc) =>
        emit({ event: "engine-close", manager: label, sid: e.id, reason, description: describeErr(desc) }),
      );
    };
    // The engine of the first connection exists once the Manager is built
    // (autoConnect); a reconnection makes a new one, which "open" reports
    // before any upgrade can start.
    hookEngine();
    m.on("open", hookEngine);
    m.on("reconnect_attempt", (n) => emit({ event: "reconnect_attempt", manager: label, attempt: n }));
    m.on("reconnect", (n) => emit({ event: "reconnect", manager: label, attempt: n }));
    m.on("error", (err) => emit({ event: "manager-error", manager: label, error: describeErr(err) }));
    return m;
  }

  // socket makes a socket for nsp whose incoming events are kept in an inbox
  // from the start, so that none is missed between awaits.
  socket(m, nsp, auth) {
    const s = m.socket(nsp, auth === undefined ? {} : { auth });
    s.label = nsp;
    s.inbox = [];
    s.waiters = [];
    s.connects = 0;
    s.disconnects = [];
    s.onAny((event, ...args) => {
      s.inbox.push({ event, args });
      s.wake();
    });
    s.wake = () => {
      const still = [];
      for (const w of s.waiters) if (!w.try()) still.push(w);
      s.waiters = still;
    };
    s.on("connect", () => {
      s.connects++;
      emit({ event: "connect", nsp, id: s.id, engine: m.engine && m.engine.id, n: s.connects });
      s.wake();
    });
    s.on("connect_error", (err) => {
      s.connectError = err;
      emit({ event: "connect_error", nsp, error: describeErr(err) });
      s.wake();
    });
    s.on("disconnect", (reason, desc) => {
      s.disconnects.push(reason);
      emit({ event: "disconnect", nsp, reason, description: describeErr(desc) });
      s.wake();
    });
    return s;
  }

  // until resolves when pred(s) holds, checked on every socket event.
  until(s, pred, what, ms = WAIT) {
    return new Promise((resolve, reject) => {
      const w = {
        try: () => {
          let r;
          try {
            r = pred();
          } catch (e) {
            clearTimeout(w.timer);
            reject(e);
            return true;
          }
          if (!r) return false;
          clearTimeout(w.timer);
          resolve(r);
          return true;
        },
      };
      if (w.try()) return;
      w.timer = setTimeout(() => {
        s.waiters = s.waiters.filter((x) => x !== w);
        reject(new Failure(`${s.label}: timed out after ${ms} ms waiting for ${what} during ${this.phase}`));
      }, ms);
      s.waiters.push(w);
    });
  }

  async connected(s, n = 1) {
    await this.until(
      s,
      () => {
        if (s.connectError) throw new Failure(`${s.label}: connect_error ${JSON.stringify(describeErr(s.connectError))}`);
        return s.connects >= n && s.connected;
      },
      `connect #${n}`,
    );
    check(typeof s.id === "string" && s.id.length > 0, `${s.label}: bad socket id ${JSON.stringify(s.id)}`);
    return s.id;
  }

  async connectError(s) {
    await this.until(
      s,
      () => {
        check(s.connects === 0, `${s.label}: connected, want a connect_error`);
        return s.connectError;
      },
      "connect_error",
    );
    return s.connectError;
  }

  // take removes and returns the arguments of the next incoming event
  // called name.
  take(s, name, ms = WAIT) {
    return this.until(
      s,
      () => {
        const i = s.inbox.findIndex((x) => x.event === name);
        if (i < 0) return false;
        return s.inbox.splice(i, 1)[0].args;
      },
      `event "${name}"`,
      ms,
    );
  }

  // ack emits event with args and resolves with every argument of the
  // server's acknowledgement.
  ack(s, event, args, ms = WAIT) {
    return new Promise((resolve, reject) => {
      s.timeout(ms).emit(event, ...args, (err, ...res) => {
        if (err) reject(new Failure(`${s.label}: no acknowledgement of "${event}" within ${ms} ms (${err.message})`));
        else resolve(res);
      });
    });
  }

  // In upgrade mode: wait for the manager's current connection to upgrade.
  // In every mode: check the transport in use.
  async checkTransport(m) {
    const { mode } = this.opts;
    const e = m.engine;
    check(e, `${m.label}: no engine`);
    if (mode === "upgrade" && !e.upgraded) {
      const prev = this.phase;
      this.phase = "waiting for upgrade";
      const t = sleep(WAIT).then(() => false);
      const ok = await Promise.race([e.upgradeP.then(() => true), t]);
      check(ok, `${m.label}: no upgrade within ${WAIT} ms`);
      this.phase = prev;
    }
    const want = finalTransport(mode);
    check(e.transport.name === want, `${m.label}: transport ${e.transport.name}, want ${want}`);
    emit({ event: "transport", manager: m.label, sid: e.id, transport: e.transport.name, upgraded: !!e.upgraded });
  }

  // connectAll makes manager "m" (extra: more Manager options) with a
  // socket on each of nsps (sending auth, if given), and resolves with
  // [m, ...sockets] once every socket is connected. setup(s) adds a
  // socket's handlers before anything can arrive.
  async connectAll(nsps, { setup, extra, auth } = {}) {
    const m = this.manager("m", extra);
    const socks = nsps.map((nsp) => this.socket(m, nsp, auth));
    if (setup) socks.forEach(setup);
    for (const s of socks) await this.connected(s);
    return [m, ...socks];
  }

  // checkAndDisconnect, the usual end of a scenario, checks m's transport
  // and disconnects socks.
  async checkAndDisconnect(m, ...socks) {
    await this.checkTransport(m);
    for (const s of socks) s.disconnect();
  }

  // onMainAndCustom runs checks(s) on / and then on /custom, two sockets
  // over one connection, during phase, each followed by a "checked" line,
  // and ends the scenario. setup(s) adds a socket's handlers.
  async onMainAndCustom(phase, setup, checks) {
    const [m, main, custom] = await this.connectAll(["/", "/custom"], { setup });
    this.phase = phase;
    for (const s of [main, custom]) {
      await checks(s);
      emit({ event: "checked", nsp: s.label, id: s.id });
    }
    await this.checkAndDisconnect(m, main, custom);
  }
}

// ---------------------------------------------------------------------------
// scenarios
//
// Every namespace of the server (/, /custom, /dyn-N) has the same handlers:
//   on connect       emits "welcome" {nsp, id, auth}
//   "whoami"         acks {nsp, id, auth}
//   "echo"           emits "echo-back" with the same arguments
//   "echo-ack"       acks with the same arguments
//   "typed"          On[{name,count}]: emits "typed-back" {name, count: count*2}
//   "sum"            OnAck[{a,b}] -> {sum}
//   "fail"           OnAck: replies the error {error:"nope", data:{why:"because"}}
//   "typed-ack"      OnAck[{N int}] -> {N: N+1}
//   "no-ack"         OnRaw: records, never replies
//   "typed-no-ack"   On[{N int}]: records, never replies
//   "call-me"        server Call "multiply" and EmitWithAck "multi-reply" to the client, acks the results
//   "bin-typed"      OnAck with []byte fields, replies a struct with []byte and a map[string]any with []byte
//   "bin-push"       emits "bin-from-server" (struct + map with []byte), then Calls "bin-reflect", acks the check
//   "start-server-timeouts"  EmitWithAck "never-ack", "late-ack" with 300 ms deadlines, then "slow-ack"
//   "disconnect-me"  Socket.Disconnect()
//   "drop-me"        Socket.Conn().Close()
//   "status"         acks {nsp, id, connected, custom: [ids of /custom sockets]}
//   "seq" / "seq-done"  records numbers / acks {count, inOrder}
//   "flood"          {workers, per}: emits "flood-item" {w, i, bin?} from workers goroutines, acks {sent, errors}

// binPayload is nested binary at several depths.
function binPayload(tag) {
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  return {
    tag,
    top: all,
    nested: {
      deeper: {
        deepest: pattern(1000, 1),
        list: [pattern(1, 2), "text", Uint8Array.from([0, 255, 1]), { inner: pattern(3000, 3) }],
      },
    },
    arr: [[pattern(10, 4)], { b: new Uint8Array(pattern(20, 5)).buffer }],
    empty: Buffer.alloc(0),
    notBinary: { _placeholder: false, num: 0 },
  };
}

const run = {
  // connect: one manager (one Engine.IO connection), three namespaces, each
  // with its own auth. Each gets "welcome" {nsp, id, auth} on connect and
  // answers "whoami" with the same.
  async connect(h) {
    const m = h.manager("m");
    const spaces = [
      ["/", { token: "main-token", n: 1 }],
      ["/custom", { token: "custom-token", list: [1, 2, 3], nested: { ok: true, s: "héllo 🎉" } }],
      [h.opts.dyn, { token: "dyn-token" }],
    ];
    h.phase = "connecting";
    const socks = spaces.map(([nsp, auth]) => h.socket(m, nsp, auth));
    for (const s of socks) await h.connected(s);
    const ids = new Set(socks.map((s) => s.id));
    check(ids.size === socks.length, "socket ids are not distinct");
    h.phase = "welcome";
    for (let i = 0; i < socks.length; i++) {
      const [nsp, auth] = spaces[i];
      const s = socks[i];
      const [w] = await h.take(s, "welcome");
      checkEqual(w, { nsp, id: s.id, auth }, `${nsp} welcome`);
      const [who] = await h.ack(s, "whoami", []);
      checkEqual(who, { nsp, id: s.id, auth }, `${nsp} whoami`);
      emit({ event: "checked", nsp, id: s.id });
    }
    await h.checkTransport(m);
    check(m.engines === 1, `${m.engines} connections, want 1 (multiplexed)`);
    h.phase = "client disconnect";
    for (const s of socks) s.disconnect();
    for (const s of socks) check(s.disconnects[0] === "io client disconnect", `${s.label}: ${s.disconnects}`);
  },

  // connect-errors: the / middleware refuses auth {token:"deny"} with
  // ClientError{"not authorized", {code:42}}; the /custom one with a plain
  // error "custom refused". Unknown namespaces get "Invalid namespace". A
  // refusal leaves the connection and its other sockets alone.
  async "connect-errors"(h) {
    const m = h.manager("m");
    h.phase = "connecting /custom";
    const ok = h.socket(m, "/custom", { token: "ok" });
    await h.connected(ok);
    const engineID = m.engine.id;

    h.phase = "refused by / middleware";
    const denied = h.socket(m, "/", { token: "deny", why: "test" });
    const err = await h.connectError(denied);
    check(err.message === "not authorized", `/ connect_error message ${JSON.stringify(err.message)}`);
    checkEqual(err.data, { code: 42 }, "/ connect_error data");

    h.phase = "unknown namespaces";
    for (const nsp of ["/nope", "/dyn-abc", "/dyn-"]) {
      const s = h.socket(m, nsp, { token: "ok" });
      const e = await h.connectError(s);
      check(e.message === "Invalid namespace", `${nsp} connect_error message ${JSON.stringify(e.message)}`);
      check(e.data === undefined, `${nsp} connect_error data ${JSON.stringify(e.data)}`);
    }

    h.phase = "after refusals";
    check(ok.connected, "/custom got disconnected by the refusals");
    check(m.engine.id === engineID, "the connection changed");
    const [who] = await h.ack(ok, "whoami", []);
    checkEqual(who, { nsp: "/custom", id: ok.id, auth: { token: "ok" } }, "/custom whoami after refusals");
    await h.checkTransport(m);

    h.phase = "refused by /custom middleware";
    const m2 = h.manager("m2");
    const denied2 = h.socket(m2, "/custom", { token: "deny" });
    const err2 = await h.connectError(denied2);
    check(err2.message === "custom refused", `/custom connect_error message ${JSON.stringify(err2.message)}`);
    check(err2.data === undefined, `/custom connect_error data ${JSON.stringify(err2.data)}`);
    emit({ event: "checked", engine: engineID, ok: ok.id });
    ok.disconnect();
    m2._close();
  },

  // events: echo (raw, several arguments of every JSON kind) and a typed
  // event, on / and /custom over one connection.
  async events(h) {
    const sets = [
      [1, "two", { three: [true, null, 3.5, -0.25, 1e21] }, [], {}, "héllo 🎉 \u0000 \u2028 <&>", ""],
      [{ deep: { deeper: { deepest: [[[["x"]]]] } } }],
      [],
      [null],
      [123456789012345, -1, 0, false],
    ];
    await h.onMainAndCustom("events", null, async (s) => {
      for (let i = 0; i < sets.length; i++) {
        s.emit("echo", ...sets[i]);
        const back = await h.take(s, "echo-back");
        checkEqual(back, sets[i], `${s.label} echo #${i}`);
      }
      s.emit("typed", { name: `from ${s.label}`, count: 21, extra: "ignored" });
      const [t] = await h.take(s, "typed-back");
      checkEqual(t, { name: `from ${s.label}`, count: 42 }, `${s.label} typed-back`);
    });
  },

  // acks: client -> server (OnAck, error replies, raw multi-argument acks),
  // server -> client (Call, EmitWithAck with several reply arguments).
  async acks(h) {
    const setup = (s) => {
      s.on("multiply", (p, cb) => {
        emit({ event: "multiply", nsp: s.label, p });
        cb({ product: p.a * p.b });
      });
      s.on("multi-reply", (x, cb) => {
        emit({ event: "multi-reply", nsp: s.label, x });
        cb(1, "two", { three: [3] }, null);
      });
    };
    await h.onMainAndCustom("acks", setup, async (s) => {
      const sum = await s.timeout(WAIT).emitWithAck("sum", { a: 2, b: 40 });
      checkEqual(sum, { sum: 42 }, `${s.label} sum`);
      const failed = await s.timeout(WAIT).emitWithAck("fail", {});
      checkEqual(failed, { error: "nope", data: { why: "because" } }, `${s.label} fail`);
      const all = await h.ack(s, "echo-ack", [1, { two: 2 }, ["three"], null, "five"]);
      checkEqual(all, [1, { two: 2 }, ["three"], null, "five"], `${s.label} echo-ack`);
      const none = await h.ack(s, "echo-ack", []);
      checkEqual(none, [], `${s.label} echo-ack without arguments`);
      const [res] = await h.ack(s, "call-me", [{ a: 6, b: 7 }]);
      checkEqual(res, { product: 42, multi: [1, "two", { three: [3] }, null], nsp: s.label }, `${s.label} call-me`);
    });
  },

  // binary: nested Buffers both ways, as events and acks, raw and typed,
  // on / and /custom.
  async binary(h) {
    // The server Calls "bin-reflect" with {blob, parts:[..]}; reply with
    // the bytes reversed, nested differently.
    const setup = (s) =>
      s.on("bin-reflect", (p, cb) => {
        emit({ event: "bin-reflect", nsp: s.label, p: show(p) });
        const rev = (b) => Buffer.from(toBytes(b)).reverse();
        cb({ reversed: { blob: rev(p.blob) }, parts: p.parts.map((x) => [rev(x)]), n: p.parts.length });
      });
    await h.onMainAndCustom("binary", setup, async (s) => {
      // echo: raw event with binary at several depths, several arguments
      const p = binPayload(`echo ${s.label}`);
      s.emit("echo", p, pattern(5, 9), "plain", [pattern(7, 10)]);
      const back = await h.take(s, "echo-back");
      checkEqual(back, [p, pattern(5, 9), "plain", [pattern(7, 10)]], `${s.label} binary echo`);

      // binary ack from the server
      const q = binPayload(`ack ${s.label}`);
      const acked = await h.ack(s, "echo-ack", [q, pattern(64, 11)]);
      checkEqual(acked, [q, pattern(64, 11)], `${s.label} binary echo-ack`);

      // typed: the server decodes []byte fields and replies with []byte in
      // a struct and in a map[string]any
      const typed = {
        name: "typed",
        data: pattern(500, 20),
        inner: { blob: pattern(33, 21), parts: [pattern(1, 22), pattern(2, 23), pattern(300, 24)] },
      };
      const [res] = await h.ack(s, "bin-typed", [typed]);
      check(res && typeof res === "object", `${s.label} bin-typed: reply ${JSON.stringify(show(res))}`);
      check(res.error === undefined, `${s.label} bin-typed: error ${JSON.stringify(res.error)}`);
      check(res.name === "typed" && res.len === 500 && res.parts === 3, `${s.label} bin-typed: ${JSON.stringify(show(res))}`);
      checkBytes(res.reversed, Buffer.from(pattern(500, 20)).reverse(), `${s.label} bin-typed reversed`);
      checkBytes(res.extra.blob, pattern(33, 21), `${s.label} bin-typed extra.blob`);
      checkBytes(res.extra.nested.deep, pattern(40, 25), `${s.label} bin-typed extra.nested.deep`);
      check(Array.isArray(res.extra.list) && res.extra.list.length === 3, `${s.label} bin-typed extra.list`);
      checkBytes(res.extra.list[0], pattern(2, 23), `${s.label} bin-typed extra.list[0]`);
      check(res.extra.list[1] === "x", `${s.label} bin-typed extra.list[1]`);
      checkBytes(res.extra.list[2], pattern(300, 24), `${s.label} bin-typed extra.list[2]`);
      check(Array.isArray(res.blobs) && res.blobs.length === 2, `${s.label} bin-typed blobs`);
      checkBytes(res.blobs[0], pattern(1, 22), `${s.label} bin-typed blobs[0]`);
      checkBytes(res.blobs[1], pattern(33, 21), `${s.label} bin-typed blobs[1]`);
      check(res.nilBytes === null, `${s.label} bin-typed nilBytes ${JSON.stringify(show(res.nilBytes))}`);

      // server push: an event with []byte in a struct and a map, then a
      // Call whose reply (from bin-reflect above) carries binary back
      const [pushed] = await h.ack(s, "bin-push", []);
      checkEqual(pushed, { ok: true, reflected: 2 }, `${s.label} bin-push reply`);
      const [ev, second] = await h.take(s, "bin-from-server");
      check(ev.kind === "struct", `${s.label} bin-from-server kind`);
      checkBytes(ev.raw, pattern(100, 30), `${s.label} bin-from-server raw`);
      checkBytes(ev.sub.raw, pattern(200, 31), `${s.label} bin-from-server sub.raw`);
      check(ev.sub.n === 7, `${s.label} bin-from-server sub.n`);
      check(Array.isArray(ev.list) && ev.list.length === 2, `${s.label} bin-from-server list`);
      checkBytes(ev.list[0], pattern(3, 32), `${s.label} bin-from-server list[0]`);
      checkBytes(ev.list[1], pattern(4, 33), `${s.label} bin-from-server list[1]`);
      checkBytes(ev.m.a, pattern(5, 34), `${s.label} bin-from-server m.a`);
      checkBytes(ev.m.b.c, pattern(6, 35), `${s.label} bin-from-server m.b.c`);
      check(ev.m.b.d === "text", `${s.label} bin-from-server m.b.d`);
      check(ev.omitted === undefined, `${s.label} bin-from-server omitted`);
      checkBytes(second, pattern(70000, 36), `${s.label} bin-from-server second argument`);
    });
  },

  // server-ack-timeout: the server EmitWithAcks "never-ack" (never
  // answered) and "late-ack" (answered after 700 ms) with 300 ms deadlines,
  // then "slow-ack" (answered after 1000 ms, so the late answer arrives
  // while it waits) with a long one, and acks what it got.
  async "server-ack-timeout"(h) {
    const seen = [];
    // ackAfter answers event with {which} after ms.
    const ackAfter = (s, event, which, ms) =>
      s.on(event, (x, cb) => {
        seen.push(event);
        emit({ event, x });
        setTimeout(() => {
          emit({ event: `${event}-sent` });
          cb({ which });
        }, ms);
      });
    const setup = (s) => {
      s.on("never-ack", (x, cb) => {
        seen.push("never-ack");
        emit({ event: "never-ack", x, cbType: typeof cb });
      });
      ackAfter(s, "late-ack", "late", 700);
      ackAfter(s, "slow-ack", "slow", 1000);
    };
    const [m, s] = await h.connectAll(["/"], { setup });
    await h.checkTransport(m);
    h.phase = "server ack timeouts";
    const [res] = await h.ack(s, "start-server-timeouts", [], 20000);
    emit({ event: "result", res });
    checkEqual(
      res,
      { never: { deadline: true }, late: { deadline: true }, slow: { which: "slow" } },
      "start-server-timeouts reply",
    );
    checkEqual(seen, ["never-ack", "late-ack", "slow-ack"], "events seen");
    // the socket is still fine
    const sum = await s.timeout(WAIT).emitWithAck("sum", { a: 1, b: 1 });
    checkEqual(sum, { sum: 2 }, "sum after timeouts");
    await h.checkAndDisconnect(m, s);
  },

  // client-ack-timeout: emitWithAck with a timeout to handlers that never
  // reply (OnRaw returning nothing, and On, which never replies).
  async "client-ack-timeout"(h) {
    const [m, s] = await h.connectAll(["/"]);
    await h.checkTransport(m);
    h.phase = "client ack timeouts";
    for (const [event, arg] of [
      ["no-ack", { n: 1 }],
      ["typed-no-ack", { N: 2 }],
    ]) {
      const t0 = Date.now();
      let err = null;
      try {
        const v = await s.timeout(500).emitWithAck(event, arg);
        throw new Failure(`${event}: got an acknowledgement ${JSON.stringify(v)}, want a timeout`);
      } catch (e) {
        if (e instanceof Failure) throw e;
        err = e;
      }
      const ms = Date.now() - t0;
      emit({ event: "timeout", name: event, message: err.message, ms });
      check(err.message === "operation has timed out", `${event}: error ${err.message}`);
      check(ms >= 450, `${event}: timed out after ${ms} ms, want about 500`);
    }
    // nothing late turns up, and the socket still works
    await sleep(300);
    const sum = await s.timeout(WAIT).emitWithAck("sum", { a: 20, b: 22 });
    checkEqual(sum, { sum: 42 }, "sum after timeouts");
    check(s.connected, "socket disconnected");
    s.disconnect();
  },

  // client-disconnect: /custom leaves first, / stays usable and the server
  // no longer lists the /custom socket; /custom joins again over the same
  // connection (a new socket) and leaves again; then / leaves.
  async "client-disconnect"(h) {
    const [m, main, custom] = await h.connectAll(["/", "/custom"]);
    await h.checkTransport(m);
    const engineID = m.engine.id;
    const customID = custom.id;
    h.phase = "disconnect /custom";
    const [before] = await h.ack(main, "status", []);
    checkEqual(before.custom, [customID], "/custom sockets before");
    custom.disconnect();
    check(custom.disconnects[0] === "io client disconnect", `/custom disconnect reason ${custom.disconnects}`);
    // the server handles the DISCONNECT before this event (same connection, in order)
    const [after] = await h.ack(main, "status", []);
    checkEqual(after, { nsp: "/", id: main.id, connected: true, custom: [] }, "status after /custom left");

    h.phase = "rejoin /custom";
    custom.connect();
    await h.connected(custom, 2);
    check(custom.id !== customID, "/custom kept its socket id after leaving and joining again");
    check(m.engines === 1 && m.engine.id === engineID, "/custom joined again over a new connection");
    const [who] = await h.ack(custom, "whoami", []);
    check(who.id === custom.id && who.nsp === "/custom", `whoami after rejoining: ${JSON.stringify(who)}`);
    const [again] = await h.ack(main, "status", []);
    checkEqual(again.custom, [custom.id], "/custom sockets after rejoining");
    emit({ event: "checked", main: main.id, custom: [customID, custom.id] });

    h.phase = "disconnect /custom again";
    custom.disconnect();
    check(custom.disconnects[1] === "io client disconnect", `/custom disconnect reasons ${custom.disconnects}`);
    const [last] = await h.ack(main, "status", []);
    checkEqual(last.custom, [], "/custom sockets after leaving again");
    h.phase = "disconnect /";
    main.disconnect();
    check(main.disconnects[0] === "io client disconnect", `/ disconnect reason ${main.disconnects}`);
  },

  // server-disconnect: the server disconnects /custom, then /. Reconnection
  // is on, and still the sockets must not come back by themselves.
  async "server-disconnect"(h) {
    const extra = { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 };
    const [m, main, custom] = await h.connectAll(["/", "/custom"], { extra });
    await h.checkTransport(m);
    const ids = { main: main.id, custom: custom.id };
    emit({ event: "ids", ...ids });
    h.phase = "server disconnects /custom";
    custom.emit("disconnect-me");
    await h.until(custom, () => custom.disconnects.length > 0, "disconnect");
    check(custom.disconnects[0] === "io server disconnect", `/custom reason ${custom.disconnects[0]}`);
    const [st] = await h.ack(main, "status", []);
    checkEqual(st, { nsp: "/", id: main.id, connected: true, custom: [] }, "status after the server disconnected /custom");
    h.phase = "server disconnects /";
    main.emit("disconnect-me");
    await h.until(main, () => main.disconnects.length > 0, "disconnect");
    check(main.disconnects[0] === "io server disconnect", `/ reason ${main.disconnects[0]}`);
    h.phase = "checking nothing reconnects";
    await sleep(700);
    for (const s of [main, custom]) {
      check(!s.connected && !s.active, `${s.label} is connected or active again`);
      check(s.connects === 1, `${s.label} connected ${s.connects} times`);
    }
    check(m.engines === 1, `${m.engines} connections, want 1`);
  },

  // reconnect: the server closes the Engine.IO connection (Conn.Close); the
  // client sees "transport close", reconnects by itself, gets new socket
  // ids on / and /custom, and events flow again.
  async reconnect(h) {
    const extra = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200, randomizationFactor: 0 };
    const [m, main, custom] = await h.connectAll(["/", "/custom"], { extra });
    for (const s of [main, custom]) await h.take(s, "welcome");
    await h.checkTransport(m);
    const first = { main: main.id, custom: custom.id, engine: m.engine.id };
    emit({ event: "ids", n: 1, ...first });
    for (const s of [main, custom]) {
      s.emit("echo", "before", 1);
      checkEqual(await h.take(s, "echo-back"), ["before", 1], `${s.label} echo before`);
    }
    h.phase = "server drops the connection";
    main.emit("drop-me");
    for (const s of [main, custom]) {
      await h.until(s, () => s.disconnects.length > 0, "disconnect");
      check(
        h.opts.dropReasons.includes(s.disconnects[0]),
        `${s.label} disconnect reason ${s.disconnects[0]}, want ${h.opts.dropReasons.join(" or ")}`,
      );
    }
    h.phase = "reconnecting";
    for (const s of [main, custom]) await h.connected(s, 2);
    check(m.engines === 2, `${m.engines} connections, want 2`);
    const second = { main: main.id, custom: custom.id, engine: m.engine.id };
    emit({ event: "ids", n: 2, ...second });
    check(second.main !== first.main && second.custom !== first.custom, "socket ids did not change");
    check(second.engine !== first.engine, "engine id did not change");
    h.phase = "after reconnection";
    for (const s of [main, custom]) {
      const [w] = await h.take(s, "welcome");
      check(w.id === s.id, `${s.label} second welcome id ${w.id}`);
      s.emit("echo", "after", 2);
      checkEqual(await h.take(s, "echo-back"), ["after", 2], `${s.label} echo after`);
      const [who] = await h.ack(s, "whoami", []);
      check(who.id === s.id, `${s.label} whoami after reconnection ${JSON.stringify(who)}`);
    }
    await h.checkTransport(m);
    m.reconnection(false);
    main.disconnect();
    custom.disconnect();
  },

  // shutdown: "shutdown-me" makes the server emit "last" to every socket
  // and then call Server.Shutdown. Each socket gets "last" first, then the
  // DISCONNECT: "io server disconnect", and nothing reconnects although
  // reconnection is on.
  async shutdown(h) {
    await shutdownScenario(h, ["io server disconnect"], false);
  },

  // shutdown-reconnect: as shutdown, on a server that only closes the
  // transport: "transport close", then the client's own reconnection tries
  // (refused while the server is shut down).
  async "shutdown-reconnect"(h) {
    await shutdownScenario(h, ["transport close"], true);
  },

  // bad-payload: OnAck[{N int}] and On[{N int}] given {"N":"x"}.
  async "bad-payload"(h) {
    const [m, s] = await h.connectAll(["/"]);
    h.phase = "bad payloads";
    const bad = await s.timeout(WAIT).emitWithAck("typed-ack", { N: "x" });
    emit({ event: "bad-ack", reply: bad });
    check(bad && typeof bad.error === "string", `typed-ack {N:"x"}: reply ${JSON.stringify(bad)}, want {error}`);
    check(bad.error.includes("invalid payload") && bad.error.includes("typed-ack"), `error text ${bad.error}`);
    check(Object.keys(bad).length === 1, `error reply has extra keys: ${JSON.stringify(bad)}`);
    const bad2 = await s.timeout(WAIT).emitWithAck("typed-ack", "not an object");
    check(bad2 && typeof bad2.error === "string", `typed-ack "not an object": reply ${JSON.stringify(bad2)}`);
    s.emit("typed", { name: 5, count: "x" }); // On: no handler call, no reply
    s.emit("typed-no-ack", { N: [1] });
    const good = await s.timeout(WAIT).emitWithAck("typed-ack", { N: 41 });
    checkEqual(good, { N: 42 }, "typed-ack {N:41}");
    s.emit("typed", { name: "fine", count: 1 });
    const [t] = await h.take(s, "typed-back");
    checkEqual(t, { name: "fine", count: 2 }, "typed-back after a bad payload");
    check(s.connected, "socket disconnected");
    check(s.inbox.length === 1 && s.inbox[0].event === "welcome", `unexpected events ${JSON.stringify(s.inbox.map((x) => x.event))}`);
    await h.checkAndDisconnect(m, s);
  },

  // order: --count numbered events sent in one go; "seq-done" acks what
  // the server recorded.
  async order(h) {
    const [m, s] = await h.connectAll(["/"]);
    h.phase = "sending";
    const n = h.opts.count;
    // in upgrade mode these go out while the upgrade is under way
    for (let i = 0; i < n; i++) s.emit("seq", { i });
    const [res] = await h.ack(s, "seq-done", [], 20000);
    emit({ event: "seq-done", res });
    checkEqual(res, { count: n, inOrder: true }, "seq-done");
    await h.checkAndDisconnect(m, s);
  },

  // concurrent-emit: --workers goroutines each emit --per "flood-item"
  // {w, i} (every third with binary) at once.
  async "concurrent-emit"(h) {
    const [m, s] = await h.connectAll(["/"]);
    await h.checkTransport(m);
    const { workers, per } = h.opts;
    const total = workers * per;
    const next = new Array(workers).fill(0);
    let count = 0;
    let bad = null;
    s.on("flood-item", (it, bin) => {
      count++;
      if (bad) return;
      if (!it || typeof it.w !== "number" || it.w < 0 || it.w >= workers) {
        bad = `bad item ${JSON.stringify(show(it))}`;
      } else if (it.i !== next[it.w]) {
        bad = `worker ${it.w}: item ${it.i}, want ${next[it.w]}`;
      } else {
        next[it.w]++;
        if (it.i % 3 === 0) {
          try {
            checkBytes(bin, pattern(16 + it.i, it.w), `item ${it.w}/${it.i} binary`);
            checkBytes(it.nested && it.nested.b, pattern(8, it.i), `item ${it.w}/${it.i} nested binary`);
          } catch (e) {
            bad = e.message;
          }
        } else if (bin !== undefined) {
          bad = `item ${it.w}/${it.i}: unexpected second argument`;
        }
      }
    });
    h.phase = "flood";
    const [res] = await h.ack(s, "flood", [{ workers, per }], 30000);
    const atAck = count;
    emit({ event: "flood", res, receivedAtAck: atAck });
    check(!bad, bad);
    checkEqual(res, { sent: total, errors: 0 }, "flood reply");
    // every emit was queued before the acknowledgement, on the same connection
    check(atAck === total, `received ${atAck} of ${total} items before the acknowledgement`);
    await sleep(100);
    check(count === total, `received ${count} items, want ${total}`);
    for (let w = 0; w < workers; w++) check(next[w] === per, `worker ${w}: ${next[w]} items, want ${per}`);
    const [rec] = await h.ack(s, "flood-received", [count]);
    checkEqual(rec, { ok: true }, "flood-received");
    s.disconnect();
  },

  // handshake, against the server of handshake_test.go: every request of
  // the Manager carries the header X-Sio-Token: hs-secret (which that
  // server's HTTP middleware requires) and the query parameter q=hs-query;
  // the socket on / sends the auth {token: "hs-auth", n: 7}. The server's
  // handlers check what they saw themselves and ack "handshake" with it;
  // the client checks the answer says ok.
  async handshake(h) {
    const extra = { extraHeaders: { "X-Sio-Token": "hs-secret" }, query: { q: "hs-query" } };
    const [m, s] = await h.connectAll(["/"], { extra, auth: { token: "hs-auth", n: 7 } });
    await h.checkTransport(m);
    h.phase = "handshake";
    const [seen] = await h.ack(s, "handshake", []);
    emit({ event: "handshake", id: s.id, seen });
    check(seen && seen.ok === true, `handshake: the server saw ${JSON.stringify(seen)}`);
    s.disconnect();
  },
};

// ---------------------------------------------------------------------------
// main

const opts = await parseArgs(process.argv.slice(2), ARGS);
await runScenario(opts, (o) => new Harness(o), run, async (h) => {
  // Let the last packets (a DISCONNECT, a final POST) reach the server
  // before the process exits.
  h.phase = "settling";
  await sleep(200);
});
