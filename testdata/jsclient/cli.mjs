// cli.mjs — what the client scripts (eio.mjs, sio.mjs, rooms.mjs) share:
// their command line, the JSON lines they print, their result and exit code,
// the hard timeout, and the main of a scenario script.
//
// The contract with the Go tests (runNode in node_test.go): one JSON object
// per line on stdout, always last {"result":"pass"} or
// {"result":"fail","reason":"..."}, and nothing after it; exit code 0 only on
// pass, 1 on failure, 2 on a usage error. Every exit waits until what was
// written to stdout has gone out: a write to a full pipe may be queued, and
// process.exit() would drop it.

// ---------------------------------------------------------------------------
// output and exit

let finished = false; // finish() was called
let resultWritten = false; // the result line is out: nothing may follow it
let lingerMs = 0;
const finishHooks = [];

// emit prints obj as one JSON line; nothing once the result line is out.
export function emit(obj) {
  emitAll([obj]);
}

// emitAll prints each of objs as one JSON line, in a single write.
export function emitAll(objs) {
  if (resultWritten || objs.length === 0) return;
  process.stdout.write(objs.map((o) => JSON.stringify(o) + "\n").join(""));
}

// exitWhenFlushed writes text to stdout and exits with code once it (and so
// everything written before it) has gone out, delay ms later if delay > 0.
function exitWhenFlushed(text, code, delay = 0) {
  process.stdout.write(text, () => {
    if (delay > 0) setTimeout(() => process.exit(code), delay);
    else process.exit(code);
  });
}

// writeResult prints the result line (the last one) and exits with code.
function writeResult(last, code, delay = 0) {
  finished = true;
  resultWritten = true;
  exitWhenFlushed(JSON.stringify(last) + "\n", code, delay);
}

// lingerAfterPass keeps the process alive ms more after a pass, so that what
// the client still has in flight (on long-polling, the POST carrying its
// close packet) reaches the server instead of dying with the process.
export function lingerAfterPass(ms) {
  lingerMs = ms;
}

// onFinish registers fn(pass) to run once finish() is called, before the
// result line: it may still emit.
export function onFinish(fn) {
  finishHooks.push(fn);
}

export function isFinished() {
  return finished;
}

// finish prints the result line and exits (0 on pass, 1 on failure); only
// the first call counts.
export function finish(pass, reason) {
  if (finished) return;
  finished = true;
  for (const fn of finishHooks) fn(pass);
  if (pass) writeResult({ result: "pass" }, 0, lingerMs);
  else writeResult({ result: "fail", reason: String(reason) }, 1);
}

// hardTimeout fails the run after seconds, with the reason why() gives then.
export function hardTimeout(seconds, why) {
  return setTimeout(() => finish(false, why()), seconds * 1000);
}

// A Failure is a check that did not hold: its message is the reason of the
// failed result, without a stack.
export class Failure extends Error {}

export function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

// ---------------------------------------------------------------------------
// command line

class UsageError extends Error {}
class HelpRequest extends Error {}

// badUsage, called from an option kind or a spec's check, stops parseArgs
// with a usage error.
export function badUsage(msg) {
  throw new UsageError(msg);
}

// Option kinds for parseArgs: kind(value, name, current) turns the text
// given to option name into the value stored in place of current.
export const text = (v) => v;
export const list = (v) => v.split(",");
export function number(v, name) {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) badUsage(`${name} needs a non-negative number, got ${v}`);
  return n;
}
export const int = (v, name) => Math.floor(number(v, name));
export const positiveInt = (v, name) => Math.max(1, int(v, name));
// flag is the kind of an option that takes no value: given, it is true.
export const flag = () => true;

const MODES = ["polling", "websocket", "upgrade"];

// "--per-tick" for perTick.
const optionName = (key) => "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

// parseArgs parses argv into an object of options. Every script has --url,
// --mode (one of MODES) and, given spec.scenarios, --scenario (one of its
// keys); spec.options adds {key: [default, kind]} for option --kebab-key
// (--path and --timeout have no default here). A value comes as the next
// argument or after "=" (--count=5). spec.check(o) checks (and completes)
// the result, calling badUsage on a problem.
//
// On -h/--help it prints spec.usage; on a usage error it prints the message
// and spec.usage on stderr and a fail result; either way it then exits (0,
// or 2) once stdout is flushed, and the promise never settles.
export async function parseArgs(argv, spec) {
  try {
    return parse(argv, spec);
  } catch (e) {
    if (e instanceof HelpRequest) {
      finished = true;
      exitWhenFlushed(spec.usage, 0);
    } else if (e instanceof UsageError) {
      process.stderr.write(`${spec.name}: ${e.message}\n\n${spec.usage}`);
      writeResult({ result: "fail", reason: `usage: ${e.message}` }, 2);
    } else {
      throw e;
    }
    return new Promise(() => {});
  }
}

function parse(argv, spec) {
  const table = { url: [null, text], mode: [null, text], ...spec.options };
  if (spec.scenarios) table.scenario = [null, text];
  const o = {};
  const kinds = new Map();
  for (const [key, [dflt, kind]] of Object.entries(table)) {
    o[key] = dflt;
    kinds.set(optionName(key), [key, kind]);
  }
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (a === "-h" || a === "--help") throw new HelpRequest();
    if (!kinds.has(a)) badUsage(`unknown argument ${a}`);
    const [key, kind] = kinds.get(a);
    if (kind !== flag && v === undefined) {
      if (i + 1 >= argv.length) badUsage(`${a} needs a value`);
      v = argv[++i];
    }
    o[key] = kind(v, a, o[key]);
  }
  if (!o.url) badUsage("--url is required");
  if (!MODES.includes(o.mode)) badUsage("--mode must be polling, websocket or upgrade");
  if (spec.scenarios && !(o.scenario in spec.scenarios)) badUsage(`unknown --scenario ${o.scenario}`);
  if (spec.check) spec.check(o);
  return o;
}

// connectionHelp is the --help text of --url, --path (protocol's path,
// by default path) and --mode, whose upgrade mode also does what upgrade
// says.
export function connectionHelp(protocol, path, upgrade) {
  return `  --url URL          server base URL, e.g. http://127.0.0.1:8080 (required)
  --path PATH        ${protocol} path (default ${path})
  --mode MODE        polling   : transports ["polling"]
                     websocket : transports ["websocket"]
                     upgrade   : transports ["polling","websocket"], upgrade on;
                                 ${upgrade}`;
}

// scenarioHelp lists scenarios ({name: description}) for a usage text.
export function scenarioHelp(scenarios) {
  const width = Math.max(...Object.keys(scenarios).map((k) => k.length)) + 1;
  return Object.entries(scenarios)
    .map(([k, v]) => `  ${k.padEnd(width)} ${v}`)
    .join("\n");
}

// ---------------------------------------------------------------------------
// the clients

// clientOptions are the options of an engine.io-client Socket or a
// socket.io-client Manager for o.mode and o.path: polling, websocket, or
// polling then an upgrade to WebSocket.
export function clientOptions({ mode, path }) {
  return {
    path,
    transports: mode === "polling" ? ["polling"] : mode === "websocket" ? ["websocket"] : ["polling", "websocket"],
    upgrade: mode === "upgrade",
    rememberUpgrade: false,
  };
}

// finalTransport is the transport a connection must end up on in mode.
export const finalTransport = (mode) => (mode === "polling" ? "polling" : "websocket");

// describeErr renders an error of either client for the output.
export function describeErr(e) {
  if (e == null) return undefined;
  if (typeof e === "string") return e;
  const o = {};
  if (e.message) o.message = e.message;
  if (e.data !== undefined) o.data = e.data;
  if (e.type) o.type = e.type;
  if (e.description !== undefined) {
    const d = e.description;
    o.description = d && typeof d === "object" ? d.message || d.code || String(d) : d;
  }
  if (e.context && typeof e.context === "object" && "status" in e.context) o.status = e.context.status;
  return Object.keys(o).length ? o : String(e);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function isBinary(d) {
  return d instanceof ArrayBuffer || ArrayBuffer.isView(d);
}

export function toBytes(d) {
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

// ---------------------------------------------------------------------------
// main of a scenario script

// runScenario prints the start line, runs scenarios[opts.scenario] with
// newHarness(opts) (an object with a phase, which a timeout names), then
// settle(harness) if given, all within opts.timeout seconds, and finishes
// with the result: a thrown Failure gives its message, anything else
// "exception: " and its stack.
export async function runScenario(opts, newHarness, scenarios, settle) {
  emit({ event: "start", scenario: opts.scenario, mode: opts.mode, url: opts.url, path: opts.path });
  let harness = null;
  const during = () => (harness ? harness.phase : "setup");
  const timer = hardTimeout(opts.timeout, () => `timeout after ${opts.timeout} s during ${during()}`);
  try {
    harness = newHarness(opts);
    await scenarios[opts.scenario](harness);
    if (settle) await settle(harness);
    clearTimeout(timer);
    finish(true);
  } catch (e) {
    finish(false, e instanceof Failure ? e.message : `exception: ${(e && e.stack) || e}`);
  }
}
