// Reference Engine.IO v4 echo server built on the real `engine.io` package
// (a devDependency). It exists only so the client scenarios in eio.mjs can be
// checked against the reference implementation; the Go tests run the same
// scenarios against the sio server instead.
//
// Usage: node ref-eio-server.mjs [PORT] [--path /engine.io/] [--max-payload N]
//                                [--fault FAULT]
//
// PORT 0 (the default) picks a free port. Once listening, the server prints a
// single JSON line {"listening":PORT,"path":...} on stdout.
//
// Behaviour: every message is echoed back unchanged (text as text, binary as
// binary); a socket that sends the text message "close-me" is closed by the
// server instead of receiving an echo.
//
// --fault deliberately breaks the echo so that the checks in eio.mjs can be
// shown to catch the breakage (it is never used for the real validation):
//   drop:N          skip the echo of the Nth message of a socket (0-based)
//   dup:N           echo the Nth message twice
//   swap:N          echo message N+1 before message N
//   text-as-binary  echo text messages as binary
//   binary-as-text  echo binary messages as base64 text
//   corrupt         flip one byte/char in the middle of every message of 1000+ bytes
//   no-close        echo "close-me" instead of closing

import http from "node:http";
import { Server } from "engine.io";

function parseArgs(argv) {
  const out = { port: 0, path: "/engine.io/", maxPayload: 1e6, fault: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--path") out.path = argv[++i];
    else if (a === "--max-payload") out.maxPayload = Number(argv[++i]);
    else if (a === "--port") out.port = Number(argv[++i]);
    else if (a === "--fault") out.fault = argv[++i];
    else if (/^\d+$/.test(a)) out.port = Number(a);
    else {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found\n");
});

const engine = new Server({
  maxHttpBufferSize: args.maxPayload,
  transports: ["polling", "websocket"],
});
engine.attach(httpServer, { path: args.path });

const [faultName, faultArg] = (args.fault || "").split(":");
const faultN = Number(faultArg);

function corrupt(data) {
  if (typeof data === "string") {
    if (data.length < 1000) return data;
    const m = data.length >> 1;
    return data.slice(0, m) + (data[m] === "x" ? "y" : "x") + data.slice(m + 1);
  }
  if (data.length < 1000) return data;
  const b = Buffer.from(data);
  b[b.length >> 1] ^= 0xff;
  return b;
}

engine.on("connection", (socket) => {
  let n = 0;
  let held = null;
  socket.on("message", (data) => {
    if (data === "close-me" && faultName !== "no-close") {
      socket.close();
      return;
    }
    const i = n++;
    // an empty message arrives as undefined; echo it as is
    switch (data == null ? null : faultName) {
      case "drop":
        if (i === faultN) return;
        break;
      case "dup":
        if (i === faultN) socket.send(data);
        break;
      case "swap":
        if (i === faultN) {
          held = data;
          return;
        }
        if (i === faultN + 1) {
          socket.send(data);
          socket.send(held);
          return;
        }
        break;
      case "text-as-binary":
        if (typeof data === "string") data = Buffer.from(data, "utf8");
        break;
      case "binary-as-text":
        if (typeof data !== "string") data = Buffer.from(data).toString("base64");
        break;
      case "corrupt":
        data = corrupt(data);
        break;
    }
    socket.send(data);
  });
});

httpServer.listen(args.port, "127.0.0.1", () => {
  const { port } = httpServer.address();
  process.stdout.write(JSON.stringify({ listening: port, path: args.path }) + "\n");
});

function shutdown() {
  engine.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
