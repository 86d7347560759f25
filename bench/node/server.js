// The Node.js reference server of the sio benchmarks: the same application
// as bench/server (Go), on socket.io with its defaults.
//
//   node --expose-gc server.js PORT [HOST]
//
// Every socket joins room "bench" on connect; "broadcast" is re-emitted to
// the room as "msg" with the same arguments; "echo" is acknowledged with its
// arguments.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3000);
const host = process.argv[3] || "127.0.0.1";

// GET /gc runs a full collection (when started with --expose-gc), for the
// idle scenario's second reading; bench/server's /gc does the same for Go.
const httpServer = http.createServer((req, res) => {
  if (req.url === "/gc" && typeof global.gc === "function") {
    global.gc();
    res.end("ok");
    return;
  }
  res.statusCode = 404;
  res.end();
});
const io = new Server(httpServer, {
  // The defaults, spelled out: both transports, upgrades allowed, no
  // permessage-deflate, 25 s/20 s heartbeat, 1 MB max payload.
  transports: ["polling", "websocket"],
  perMessageDeflate: false,
});

io.on("connection", (socket) => {
  socket.join("bench");
  socket.on("broadcast", (...args) => {
    io.to("bench").emit("msg", ...args);
  });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

httpServer.listen(port, host, () => {
  console.log(`socket.io ${require("socket.io/package.json").version} listening on ${host}:${port} (pid ${process.pid})`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
