#!/usr/bin/env node
// clients.mjs — socket.io-client sockets under Node.js, driven by the Go
// tests (chat_test.go) through stdin and stdout, one JSON object per line.
//
//   node clients.mjs --url http://127.0.0.1:PORT --mode polling|websocket|upgrade
//
// Modes: polling = transports ["polling"]; websocket = ["websocket"];
// upgrade = ["polling", "websocket"], the browser's default.
//
// Commands (stdin), each answered by {"id":N,...} or {"id":N,"error":"..."}:
//   {"id":1,"cmd":"connect","client":"alice","auth":{"username":"alice"}}
//       → {"id":1,"connected":true} or {"id":1,"connect_error":"username required"}
//   {"id":2,"cmd":"emit","client":"alice","event":"join","args":["lobby"],"ack":true}
//       → {"id":2,"ack":<the server's answer>}; without "ack": {"id":2}
//   {"id":3,"cmd":"transport","client":"alice","want":"websocket"}
//       → {"id":3,"transport":"websocket"}, once it is (waits up to 20 s)
//   {"id":4,"cmd":"disconnect","client":"alice"} → {"id":4}
//
// Everything a socket receives is printed when it arrives (events):
//   {"event":"received","client":"bob","name":"user joined","args":[{...}]}
//   {"event":"disconnect","client":"bob","reason":"io server disconnect"}
// The script ends, closing every socket, when stdin ends.

import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const TIMEOUT = 20000; // ms, for every wait

const args = process.argv.slice(2);
let url = null;
let mode = "upgrade";
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--url") url = args[++i];
  else if (args[i] === "--mode") mode = args[++i];
  else usage(`unknown argument ${args[i]}`);
}
if (!url) usage("--url is required");
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
if (!transports) usage(`unknown mode ${mode}`);

function usage(msg) {
  console.error(`${msg}\nusage: node clients.mjs --url URL [--mode polling|websocket|upgrade]`);
  process.exit(2);
}

const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const sockets = new Map(); // client name → socket

function socketOf(client) {
  const s = sockets.get(client);
  if (!s) throw new Error(`no client ${client}`);
  return s;
}

// waitFor resolves when check() is true, polling every 20 ms.
function waitFor(what, check) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + TIMEOUT;
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

const commands = {
  // connect opens a socket on its own connection (forceNew: clients do not
  // share a Manager) and waits for the server's verdict.
  async connect({ client, auth }) {
    if (sockets.has(client)) throw new Error(`client ${client} exists`);
    const socket = io(url, {
      transports,
      upgrade: mode === "upgrade",
      forceNew: true,
      reconnection: false,
      ...(auth === undefined ? {} : { auth }),
    });
    socket.onAny((name, ...args) => print({ event: "received", client, name, args }));
    socket.on("disconnect", (reason) => print({ event: "disconnect", client, reason }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${client}: no connect or connect_error`)), TIMEOUT);
      socket.once("connect", () => {
        clearTimeout(timer);
        sockets.set(client, socket);
        resolve({ connected: true });
      });
      socket.once("connect_error", (err) => {
        clearTimeout(timer);
        socket.close();
        resolve({ connect_error: err.message });
      });
    });
  },

  async emit({ client, event, args = [], ack = false }) {
    const socket = socketOf(client);
    if (!ack) {
      socket.emit(event, ...args);
      return {};
    }
    return { ack: await socket.timeout(TIMEOUT).emitWithAck(event, ...args) };
  },

  async transport({ client, want }) {
    const socket = socketOf(client);
    const name = () => socket.io.engine?.transport?.name;
    if (want) await waitFor(`${client} on ${want} (on ${name()})`, () => name() === want);
    return { transport: name() };
  },

  async disconnect({ client }) {
    socketOf(client).disconnect();
    sockets.delete(client);
    return {};
  },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let id = null;
  try {
    const msg = JSON.parse(line);
    id = msg.id;
    const run = commands[msg.cmd];
    if (!run) throw new Error(`unknown command ${msg.cmd}`);
    print({ id, ...(await run(msg)) });
  } catch (err) {
    print({ id, error: String(err?.message ?? err) });
  }
}
for (const socket of sockets.values()) socket.disconnect();
