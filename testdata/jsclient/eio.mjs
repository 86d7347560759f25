#!/usr/bin/env node
// eio.mjs — drives the real `engine.io-client` against an Engine.IO v4 echo
// server and checks what comes back.
//
// The server under test must echo every message unchanged (text as text,
// binary as binary) and must close the connection when a client sends the
// text message "close-me".
//
// Usage:
//   node eio.mjs --url http://127.0.0.1:PORT --mode polling|websocket|upgrade \
//                --scenario NAME [options]
//
// Output: one JSON object per line on stdout for each notable event, ending
// with {"result":"pass"} or {"result":"fail","reason":"..."}. The exit code is
// 0 only on pass (1 on failure, 2 on a usage error).
//
// Run with --help for the list of scenarios and options.

import { Socket } from "engine.io-client";
import {
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
  isFinished,
  lingerAfterPass,
  number,
  parseArgs,
  positiveInt,
  runScenario,
  scenarioHelp,
  sleep,
  text,
  toBytes,
} from "./cli.mjs";

const SCENARIOS = {
  open: "open, report sid and transport, close from the client, report the close reason",
  text: "send text messages (incl. multi-byte UTF-8), check the echoes are equal text, in order",
  binary: "send binary messages (incl. bytes 0..255, length-1 ones), check binary byte-equal echoes",
  large: "send one large message (--size bytes, --kind text|binary), check the echo",
  burst: "send --count small numbered messages at once, check all echoes in order, no loss/dupes",
  "server-close": 'send "close-me", expect the server to close the connection within 5 s',
  "upgrade-burst":
    "(upgrade mode only) send --per-tick numbered messages every --interval ms from open, through the upgrade, " +
    "then --after more; check all echoes in order, none lost or duplicated",
  "no-pong":
    "stop answering the server's pings (pong packets are dropped), expect the server to close the connection " +
    "(ping timeout) within --close-within seconds of open",
};

const USAGE = `usage: node eio.mjs --url URL --mode MODE --scenario NAME [options]

${connectionHelp("Engine.IO", "/engine.io/", "every scenario checks the upgrade happened")}
  --scenario NAME    one of: ${Object.keys(SCENARIOS).join(", ")}
  --timeout SECONDS  hard limit for the whole scenario (default 20)
  --size N           large: message size in bytes (default 900000)
  --kind text|binary large: message kind (default text)
  --count N          burst: number of messages (default 10000)
  --interval MS      upgrade-burst: delay between sends (default 2)
  --after N          upgrade-burst: messages to send once upgraded (default 100)
  --per-tick N       upgrade-burst: messages sent per interval (default 4)
  --start open|upgrade
                     upgrade mode: start sending right after "open" (default)
                     or only after the upgrade completed (server-close always
                     waits for the upgrade)
  --query K=V        extra query parameter (repeatable)
  --linger MS        after a pass, stay alive MS ms before exiting, so that the
                     client's close packet reaches the server (default 0:
                     exit at once)
  --close-within S   no-pong: seconds after open by which the server must have
                     closed the connection (default 10)

scenarios:
${scenarioHelp(SCENARIOS)}
`;

// ---------------------------------------------------------------------------
// arguments

// The command line, for parseArgs (cli.mjs); --url, --mode and --scenario
// come with it.
const ARGS = {
  name: "eio.mjs",
  usage: USAGE,
  scenarios: SCENARIOS,
  options: {
    path: ["/engine.io/", text],
    timeout: [20, number],
    size: [900000, int],
    kind: ["text", text],
    count: [10000, int],
    interval: [2, number],
    after: [100, int],
    perTick: [4, positiveInt],
    start: ["open", text],
    query: [{}, queryParam],
    closeWithin: [10, number],
    linger: [0, number],
  },
  check(o) {
    if (o.scenario === "upgrade-burst" && o.mode !== "upgrade") badUsage("upgrade-burst needs --mode upgrade");
    if (!["text", "binary"].includes(o.kind)) badUsage("--kind must be text or binary");
    if (!["open", "upgrade"].includes(o.start)) badUsage("--start must be open or upgrade");
    if (o.size < 1) badUsage("--size must be at least 1");
    if (o.count < 1) badUsage("--count must be at least 1");
  },
};

// queryParam adds the K=V of a --query to the query parameters q.
function queryParam(v, name, q) {
  const k = v.indexOf("=");
  if (k <= 0) badUsage(`${name} needs K=V, got ${v}`);
  return { ...q, [v.slice(0, k)]: v.slice(k + 1) };
}

// ---------------------------------------------------------------------------
// data helpers

function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function firstDiff(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

// Deterministic pseudo-random bytes (xorshift32), so failures reproduce.
function patternBytes(n, seed) {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// ASCII text of exactly n bytes with a position-dependent pattern, so a
// truncated, shifted or corrupted echo is detected.
function patternText(n) {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  const parts = [];
  const chunk = 1 << 16;
  for (let off = 0; off < n; off += chunk) {
    const len = Math.min(chunk, n - off);
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[((off + i) * 7 + ((off + i) >> 6)) % alphabet.length];
    parts.push(s);
  }
  return parts.join("");
}

function describe(d) {
  if (typeof d === "string") {
    return d.length <= 40 ? { type: "text", value: d } : { type: "text", length: d.length };
  }
  if (isBinary(d)) return { type: "binary", length: toBytes(d).length };
  return { type: typeof d };
}

// ---------------------------------------------------------------------------
// harness

class Harness {
  constructor(opts) {
    this.opts = opts;
    this.phase = "connecting";
    this.upgraded = false;
    this.expectClose = false;
    this.closeReason = null;
    this.expected = []; // queue of expected echoes, in order
    this.received = 0; // echoes matched so far
    this.onEcho = null; // optional per-echo hook
    this._waiters = [];

    let resolveOpen, resolveUpgrade, resolveClose;
    this.openP = new Promise((r) => (resolveOpen = r));
    this.upgradeP = new Promise((r) => (resolveUpgrade = r));
    this.closeP = new Promise((r) => (resolveClose = r));

    const socket = new Socket(opts.url, { ...clientOptions(opts), query: opts.query });
    this.socket = socket;

    socket.on("open", () => {
      emit({ event: "open", sid: socket.id, transport: socket.transport && socket.transport.name });
      resolveOpen();
    });
    socket.on("upgrading", (t) => emit({ event: "upgrading", transport: t && t.name }));
    socket.on("upgrade", (t) => {
      this.upgraded = true;
      emit({ event: "upgrade", transport: t && t.name });
      if (opts.mode !== "upgrade") this.fail(`unexpected upgrade to ${t && t.name} in ${opts.mode} mode`);
      resolveUpgrade(t);
    });
    socket.on("upgradeError", (e) => emit({ event: "upgradeError", error: describeErr(e) }));
    socket.on("error", (e) => emit({ event: "error", error: describeErr(e) }));
    socket.on("close", (reason, description) => {
      this.closeReason = reason;
      emit({ event: "close", reason, description: describeErr(description), phase: this.phase });
      resolveClose(reason);
      if (!this.expectClose) this.fail(`unexpected close (${reason}) during ${this.phase}`);
    });
    socket.on("message", (data) => this._onMessage(data));
  }

  fail(reason) {
    finish(false, reason);
  }

  // Queue an expected echo and send the message.
  send(data, label) {
    this.expected.push({ data, label });
    this.socket.send(data);
  }

  _onMessage(data) {
    const idx = this.received;
    if (idx >= this.expected.length) {
      this.fail(`unexpected message #${idx} during ${this.phase}: ${JSON.stringify(describe(data))}`);
      return;
    }
    const exp = this.expected[idx].data;
    const label = this.expected[idx].label ?? idx;
    if (typeof exp === "string") {
      // engine.io-parser decodes an empty message packet ("4") to undefined,
      // so that is how the echo of "" shows up.
      if (exp === "" && data === undefined) data = "";
      if (typeof data !== "string") {
        this.fail(`echo #${idx} (${label}): expected text, got ${JSON.stringify(describe(data))}`);
        return;
      }
      if (data !== exp) {
        const at = firstDiff(data, exp);
        this.fail(
          `echo #${idx} (${label}): text differs at char ${at} (got length ${data.length}, want ${exp.length}; ` +
            `got ${JSON.stringify(data.slice(at, at + 20))}, want ${JSON.stringify(exp.slice(at, at + 20))})`,
        );
        return;
      }
    } else {
      if (!isBinary(data)) {
        this.fail(`echo #${idx} (${label}): expected binary, got ${JSON.stringify(describe(data))}`);
        return;
      }
      const got = toBytes(data);
      const want = toBytes(exp);
      if (!bytesEqual(got, want)) {
        this.fail(
          `echo #${idx} (${label}): binary differs at byte ${firstDiff(got, want)} ` +
            `(got length ${got.length}, want ${want.length})`,
        );
        return;
      }
    }
    this.received++;
    if (this.onEcho) this.onEcho(idx, data);
    this._wake();
  }

  _wake() {
    const still = [];
    for (const w of this._waiters) {
      if (w.pred()) w.resolve();
      else still.push(w);
    }
    this._waiters = still;
  }

  waitFor(pred) {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => this._waiters.push({ pred, resolve }));
  }

  // Resolves once every queued echo has arrived.
  allEchoes() {
    return this.waitFor(() => this.received === this.expected.length);
  }

  async opened() {
    this.phase = "open";
    await this.openP;
    const s = this.socket;
    check(typeof s.id === "string" && s.id.length > 0, `bad sid ${JSON.stringify(s.id)}`);
    const want = clientOptions(this.opts).transports[0];
    check(s.transport.name === want, `opened on transport ${s.transport.name}, want ${want}`);
  }

  // In upgrade mode: wait for the upgrade and check the transport.
  async ensureUpgraded() {
    if (this.opts.mode !== "upgrade") return;
    this.phase = "waiting for upgrade";
    await this.upgradeP;
    check(this.socket.transport.name === "websocket", `after upgrade transport is ${this.socket.transport.name}`);
  }

  // Common ending: check the transport, make sure no stray echoes turn up,
  // then close from the client and check the reported reason.
  async finishAndClose() {
    await this.ensureUpgraded();
    const want = finalTransport(this.opts.mode);
    check(this.socket.transport.name === want, `final transport ${this.socket.transport.name}, want ${want}`);
    this.phase = "settling";
    await sleep(150); // an extra (duplicated) echo would fail the run here
    check(this.received === this.expected.length, `missing echoes: ${this.received}/${this.expected.length}`);
    this.phase = "client close";
    this.expectClose = true;
    this.socket.close();
    const reason = await this.closeP;
    check(reason === "forced close", `client close reported reason ${reason}, want "forced close"`);
  }
}

// ---------------------------------------------------------------------------
// scenarios

async function startSending(h) {
  await h.opened();
  if (h.opts.mode === "upgrade" && h.opts.start === "upgrade") await h.ensureUpgraded();
}

const run = {
  async open(h) {
    await h.opened();
    await h.finishAndClose();
  },

  async text(h) {
    await startSending(h);
    const msgs = [
      "hello",
      "héllo",
      "日本語",
      "🎉",
      "mixed: héllo 日本語 🎉 ñ ü ß € 𝄞",
      "", // echoed as an empty message packet
      " ",
      "line1\nline2\r\nline3\ttab",
      '{"json":["like",1,true,null]}',
      "4looks-like-a-message-packet",
      "bQUJD",
      "2probe",
      "\u0000nul\u0000",
      "🎉".repeat(500),
      "日本語".repeat(1000),
    ];
    h.phase = "text echoes";
    msgs.forEach((m, i) => h.send(m, `text ${i}`));
    emit({ event: "sent", count: msgs.length });
    h.onEcho = (i, d) => emit({ event: "echo", index: i, ...describe(d) });
    await h.allEchoes();
    emit({ event: "echoes", count: h.received });
    await h.finishAndClose();
  },

  async binary(h) {
    await startSending(h);
    const all = new Uint8Array(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    const backing = patternBytes(64, 7);
    const msgs = [
      ["bytes 0..255", all],
      ["one byte 0x00", Uint8Array.of(0)],
      ["one byte 0x42", Buffer.from([0x42])],
      ["one byte 0xff", Uint8Array.of(0xff)],
      ["bytes 255..0", Uint8Array.from(all).reverse()],
      ["text-looking bytes", Buffer.from("4hello\x1eb", "latin1")],
      ["invalid utf-8", Uint8Array.of(0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc)],
      ["ArrayBuffer", patternBytes(100, 3).buffer],
      ["view with offset", new Uint8Array(backing.buffer, 5, 17)],
      ["pattern 10000", patternBytes(10000, 42)],
      ["zeros 3000", new Uint8Array(3000)],
    ];
    h.phase = "binary echoes";
    for (const [label, data] of msgs) h.send(data, label);
    emit({ event: "sent", count: msgs.length });
    h.onEcho = (i, d) => emit({ event: "echo", index: i, label: msgs[i][0], ...describe(d) });
    await h.allEchoes();
    emit({ event: "echoes", count: h.received });
    await h.finishAndClose();
  },

  async large(h) {
    await startSending(h);
    const { size, kind } = h.opts;
    const data = kind === "text" ? patternText(size) : patternBytes(size, 99);
    h.phase = `large ${kind} echo`;
    const t0 = Date.now();
    h.send(data, `large ${kind} ${size}`);
    emit({ event: "sent", kind, size });
    await h.allEchoes();
    emit({ event: "echo", kind, size, ms: Date.now() - t0 });
    await h.finishAndClose();
  },

  async burst(h) {
    await startSending(h);
    const n = h.opts.count;
    h.phase = "burst echoes";
    const t0 = Date.now();
    for (let i = 0; i < n; i++) h.send(`burst:${i}`, `burst ${i}`);
    emit({ event: "sent", count: n });
    await h.allEchoes();
    emit({ event: "echoes", count: h.received, ms: Date.now() - t0 });
    await h.finishAndClose();
  },

  async "server-close"(h) {
    await h.opened();
    // In upgrade mode the upgrade must happen first, so wait for it.
    await h.ensureUpgraded();
    h.phase = "waiting for server close";
    h.expectClose = true;
    const t0 = Date.now();
    // "close-me" is sent without queueing an expected echo: any echo of it
    // arriving is reported as an unexpected message.
    h.socket.send("close-me");
    emit({ event: "sent", value: "close-me" });
    const timer = sleep(5000).then(() => null);
    const reason = await Promise.race([h.closeP, timer]);
    check(reason !== null, "server did not close the connection within 5 s");
    emit({ event: "server-closed", reason, ms: Date.now() - t0 });
  },

  async "no-pong"(h) {
    // Drop every pong before the first ping can arrive: engine.io-client
    // answers a ping with this._sendPacket("pong") (socket.js, _onPacket),
    // so an own property shadowing the prototype's _sendPacket intercepts
    // exactly those packets and lets everything else (including the upgrade
    // probe, which goes through the transport directly) through.
    const s = h.socket;
    const orig = s._sendPacket;
    check(typeof orig === "function", "engine.io-client has no _sendPacket method to patch");
    let pings = 0;
    let dropped = 0;
    s._sendPacket = function (type, ...rest) {
      if (type === "pong") {
        dropped++;
        emit({ event: "pong-dropped", count: dropped, transport: this.transport && this.transport.name });
        return;
      }
      return orig.call(this, type, ...rest);
    };
    s.on("ping", () => pings++);
    // The server may close at any time after the first ping: a close is
    // expected from the start.
    h.expectClose = true;
    await h.opened();
    const t0 = Date.now();
    h.phase = "waiting for the server's ping timeout";
    if (h.opts.mode === "upgrade") {
      // The upgrade normally completes long before the server gives up on
      // the first ping; the close must not come first.
      const first = await Promise.race([h.upgradeP.then(() => "upgrade"), h.closeP.then(() => "close")]);
      check(first === "upgrade", "the connection closed before the upgrade completed");
      check(s.transport.name === "websocket", `after upgrade transport is ${s.transport.name}`);
    }
    const timer = sleep(h.opts.closeWithin * 1000).then(() => null);
    const reason = await Promise.race([h.closeP, timer]);
    check(reason !== null, `server did not close the connection within ${h.opts.closeWithin} s of open`);
    const ms = Date.now() - t0;
    emit({
      event: "no-pong-closed",
      reason,
      ms,
      pings,
      dropped,
      upgraded: h.upgraded,
      transport: s.transport && s.transport.name,
    });
    // What the client sees depends on timing, so any end that is not the
    // client's own doing passes; the Go test checks why the server closed.
    // - "transport close": the server closed the WebSocket, or answered a
    //   waiting GET with a close packet;
    // - "transport error": no GET was waiting when the server gave up, and
    //   the next one found the session gone (HTTP 400), as with Node;
    // - "ping timeout": the client's own heartbeat timer (ping interval +
    //   ping timeout from the last ping, or from the handshake) went off
    //   before it read the server's close, as happens on a starved machine,
    //   where even the ping itself may not have been read yet (pings 0).
    check(
      ["transport close", "transport error", "ping timeout"].includes(reason),
      `close reason ${reason}, want "transport close", "transport error" or "ping timeout"`,
    );
    const want = finalTransport(h.opts.mode);
    check(s.transport.name === want, `final transport ${s.transport.name}, want ${want}`);
  },

  async "upgrade-burst"(h) {
    await h.opened();
    const { interval, after, perTick } = h.opts;
    h.phase = "sending through upgrade";
    let i = 0;
    let sentBefore = 0;
    let sentAfter = 0;
    const sendOne = () => {
      // every third message is binary, carrying its sequence number
      if (i % 3 === 2) {
        const b = Buffer.alloc(8);
        b.writeUInt32BE(i, 0);
        b.writeUInt32BE(0xdeadbeef, 4);
        h.send(b, `ub ${i} (binary)`);
      } else {
        h.send(`ub:${i}`, `ub ${i}`);
      }
      i++;
      if (h.upgraded) sentAfter++;
      else sentBefore++;
    };
    // the first message goes out synchronously, before any upgrade can happen
    sendOne();
    await new Promise((resolve) => {
      const tick = () => {
        if (isFinished()) return;
        for (let k = 0; k < perTick; k++) sendOne();
        if (sentAfter >= after) resolve();
        else setTimeout(tick, interval);
      };
      setTimeout(tick, interval);
    });
    emit({ event: "sent", count: i, beforeUpgrade: sentBefore, afterUpgrade: sentAfter });
    check(sentBefore > 0, "no message was sent before the upgrade");
    h.phase = "upgrade-burst echoes";
    await h.allEchoes();
    emit({ event: "echoes", count: h.received });
    await h.finishAndClose();
  },
};

// ---------------------------------------------------------------------------
// main

const opts = await parseArgs(process.argv.slice(2), ARGS);
lingerAfterPass(opts.linger);
await runScenario(opts, (o) => new Harness(o), run);
