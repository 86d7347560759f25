#!/usr/bin/env node
// run-matrix.mjs — runs every eio.mjs scenario in every mode against one
// server and prints a summary.
//
// Usage:
//   node run-matrix.mjs --ref                 start ref-eio-server.mjs (the real
//                                             `engine.io`) and test against it
//   node run-matrix.mjs --url http://127.0.0.1:PORT [--path /engine.io/]
//
//   --only SCENARIO[,SCENARIO...]   restrict scenarios
//   --modes MODE[,MODE...]          restrict modes (polling,websocket,upgrade)
//   --repeat N                      run the whole matrix N times (default 1)
//   --ref-fault FAULT               with --ref: start the reference server with
//                                   --fault FAULT (to show the checks catch it;
//                                   every run is then expected to FAIL)
//   -v                              print each run's JSON lines
//
// Exit code 0 only if every run passed.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

const SCENARIOS = ["open", "text", "binary", "large", "burst", "server-close", "upgrade-burst"];
const MODES = ["polling", "websocket", "upgrade"];

const args = process.argv.slice(2);
let url = null;
let enginePath = "/engine.io/";
let useRef = false;
let only = SCENARIOS;
let modes = MODES;
let repeat = 1;
let verbose = false;
let refFault = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--ref") useRef = true;
  else if (a === "--url") url = args[++i];
  else if (a === "--path") enginePath = args[++i];
  else if (a === "--only") only = args[++i].split(",");
  else if (a === "--modes") modes = args[++i].split(",");
  else if (a === "--repeat") repeat = Number(args[++i]);
  else if (a === "--ref-fault") refFault = args[++i];
  else if (a === "-v") verbose = true;
  else {
    console.error(`unknown argument ${a}`);
    process.exit(2);
  }
}
if (!useRef && !url) {
  console.error("need --ref or --url URL");
  process.exit(2);
}

function startRef() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [
        path.join(here, "ref-eio-server.mjs"),
        "0",
        "--path",
        enginePath,
        ...(refFault ? ["--fault", refFault] : []),
      ], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const rl = createInterface({ input: child.stdout });
    rl.once("line", (line) => {
      try {
        resolve({ child, port: JSON.parse(line).listening });
      } catch (e) {
        reject(e);
      }
    });
    child.once("exit", (code) => reject(new Error(`reference server exited (${code})`)));
  });
}

function runOne(mode, scenario) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      [path.join(here, "eio.mjs"), "--url", url, "--path", enginePath, "--mode", mode, "--scenario", scenario],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => {
      const lines = out.trim().split("\n").filter(Boolean);
      let result = null;
      for (const l of lines) {
        try {
          const o = JSON.parse(l);
          if (o.result) result = o;
        } catch {
          /* not JSON */
        }
      }
      resolve({ mode, scenario, code, result, lines, err, ms: Date.now() - t0 });
    });
  });
}

let ref = null;
if (useRef) {
  ref = await startRef();
  url = `http://127.0.0.1:${ref.port}`;
  console.log(`reference engine.io server on ${url}${enginePath}${refFault ? ` with fault ${refFault}` : ""}`);
}

let passed = 0;
let failed = 0;
for (let r = 0; r < repeat; r++) {
  for (const mode of modes) {
    for (const scenario of only) {
      if (scenario === "upgrade-burst" && mode !== "upgrade") continue;
      const res = await runOne(mode, scenario);
      const ok = res.code === 0 && res.result && res.result.result === "pass";
      if (ok) passed++;
      else failed++;
      const extra = ok ? "" : `  ${res.result ? res.result.reason : `exit ${res.code}, no result line`}`;
      console.log(`${ok ? "PASS" : "FAIL"}  ${mode.padEnd(9)} ${scenario.padEnd(13)} ${String(res.ms).padStart(6)} ms${extra}`);
      if (verbose || !ok) {
        for (const l of res.lines) console.log(`      ${l.length > 300 ? l.slice(0, 300) + "..." : l}`);
        if (res.err.trim()) console.log(res.err.replace(/^/gm, "      stderr: "));
      }
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
if (ref) ref.child.kill("SIGTERM");
process.exit(failed === 0 ? 0 : 1);
