#!/usr/bin/env node
// browser.mjs — the chat page in headless Chromium, driven by the Go tests
// (browser_test.go) through stdin and stdout, one JSON object per line.
// Chromium is Debian's, run by playwright-core (which downloads nothing).
//
//   node browser.mjs --url http://127.0.0.1:PORT --screenshots DIR [--chromium /usr/bin/chromium]
//
// Each page has its own browser context, like a separate browser, in
// locale en-GB and time zone UTC (a message's time reads "14:05"). Commands
// (stdin), each answered by {"id":N,...} or {"id":N,"error":"..."}:
//   open        {page, query}        load the page (query: "?transport=polling"...)
//   login       {page, name, room}   fill the login form; wait for the room
//   type        {page, text}         type into the message box, without sending
//   send        {page, text}         send a message; wait for the server's tick
//   switch      {page, room}         go to another room; wait for it
//   waitText    {page, selector, text, exact}  wait until the element's text
//                                    contains text (exact: equals it)
//   waitVisible {page, selector, visible}      wait until shown / hidden
//   waitMessage {page, who, text}    wait for that message ("me": the page's own)
//   waitUsers   {page, users}        wait until the user list is exactly users
//   snapshot    {page}               → {"state": what the page shows}
//   screenshot  {page, name}         → {"path": the PNG file}
// Events: {"event":"pageerror","page":...,"message":...} for an uncaught
// exception, {"event":"console",...} for a console error or warning.
// The script closes the browser and ends when stdin ends.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import path from "node:path";

const TIMEOUT = 30000; // ms, for every wait in the page

const args = process.argv.slice(2);
let url = null;
let shotDir = null;
let executablePath = "/usr/bin/chromium";
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--url") url = args[++i];
  else if (args[i] === "--screenshots") shotDir = args[++i];
  else if (args[i] === "--chromium") executablePath = args[++i];
  else usage(`unknown argument ${args[i]}`);
}
if (!url || !shotDir) usage("--url and --screenshots are required");

function usage(msg) {
  console.error(`${msg}\nusage: node browser.mjs --url URL --screenshots DIR [--chromium PATH]`);
  process.exit(2);
}

const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

mkdirSync(shotDir, { recursive: true });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  // As root, and on a machine without a network beyond loopback.
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

const pages = new Map(); // name → Page
let shots = 0;

function pageOf(name) {
  const p = pages.get(name);
  if (!p) throw new Error(`no page ${name}`);
  return p;
}

// waitIn waits until fn(arg) is true in the page; on timeout it says what
// the page showed.
async function waitIn(name, what, fn, arg) {
  const page = pageOf(name);
  try {
    await page.waitForFunction(fn, arg, { timeout: TIMEOUT, polling: 50 });
  } catch (err) {
    const state = await page.evaluate(snapshot).catch((e) => String(e));
    throw new Error(`${name}: ${what}: ${err.message.split("\n")[0]}; the page shows ${JSON.stringify(state)}`);
  }
}

// snapshot runs in the page: what it shows, as plain data.
function snapshot() {
  const $ = (id) => document.getElementById(id);
  const text = (e) => (e ? e.textContent.trim() : null);
  return {
    // Shown means laid out on the screen, whatever the hidden attribute says.
    login: $("login").getClientRects().length > 0,
    chat: $("chat").getClientRects().length > 0,
    banner: $("banner").getClientRects().length > 0,
    loginError: text($("login-error")),
    room: text($("room-name")),
    status: text($("status")),
    users: [...$("users").children].map(text),
    typing: text($("typing")),
    messages: [...$("messages").children].map((li) => li.classList.contains("notice")
      ? { notice: text(li) }
      : {
        time: text(li.querySelector(".meta")),
        who: text(li.querySelector(".who")),
        // The message's own text: the li's text nodes, not its spans.
        text: [...li.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join("").trim(),
        mine: li.classList.contains("mine"),
        tick: text(li.querySelector(".tick")),
        id: li.dataset.id ?? null,
      }),
  };
}

const commands = {
  async open({ page: name, query = "" }) {
    if (pages.has(name)) throw new Error(`page ${name} exists`);
    const context = await browser.newContext({ viewport: { width: 960, height: 600 }, locale: "en-GB", timezoneId: "UTC" });
    const page = await context.newPage();
    page.on("pageerror", (err) => print({ event: "pageerror", page: name, message: String(err) }));
    page.on("console", (msg) => {
      if (msg.type() === "error" || msg.type() === "warning") {
        print({ event: "console", page: name, type: msg.type(), text: msg.text() });
      }
    });
    pages.set(name, page);
    await page.goto(url + "/" + query);
    await waitIn(name, "the login form", () => document.getElementById("login").getClientRects().length > 0);
    return {};
  },

  async login({ page: name, name: username, room }) {
    const page = pageOf(name);
    await page.fill("#name", username);
    await page.fill("#room", room);
    await page.click("#login button");
    await waitIn(name, `in room ${room}`, (room) =>
      document.getElementById("chat").getClientRects().length > 0 &&
      document.getElementById("room-name").textContent === room, room);
    return {};
  },

  async type({ page: name, text }) {
    await pageOf(name).locator("#text").pressSequentially(text, { delay: 20 });
    return {};
  },

  async send({ page: name, text }) {
    const page = pageOf(name);
    const before = await page.locator("#messages li.mine").count();
    await page.fill("#text", text);
    await page.press("#text", "Enter");
    await waitIn(name, `the tick on "${text}"`, (n) => {
      const mine = document.querySelectorAll("#messages li.mine");
      return mine.length > n && mine[mine.length - 1].querySelector(".tick").textContent === "✓";
    }, before);
    return {};
  },

  async switch({ page: name, room }) {
    const page = pageOf(name);
    await page.fill("#switch-room", room);
    await page.press("#switch-room", "Enter");
    await waitIn(name, `in room ${room}`, (room) => document.getElementById("room-name").textContent === room, room);
    return {};
  },

  async waitText({ page: name, selector, text, exact = false }) {
    await waitIn(name, `${selector} ${exact ? "is" : "contains"} ${JSON.stringify(text)}`, ([selector, text, exact]) => {
      const e = document.querySelector(selector);
      const got = e ? e.textContent.trim() : "";
      return exact ? got === text : got.includes(text);
    }, [selector, text, exact]);
    return {};
  },

  async waitVisible({ page: name, selector, visible = true }) {
    await waitIn(name, `${selector} ${visible ? "shown" : "hidden"}`, ([selector, visible]) => {
      const e = document.querySelector(selector);
      return (!!e && e.getClientRects().length > 0) === visible;
    }, [selector, visible]);
    return {};
  },

  // waitMessage waits for a message (not a notice) from who ("me" for the
  // page's own) with that text.
  async waitMessage({ page: name, who, text }) {
    await waitIn(name, `message ${who}: ${text}`, ([who, text]) =>
      [...document.querySelectorAll("#messages li:not(.notice)")].some((li) =>
        li.querySelector(".who")?.textContent === who &&
        [...li.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join("").trim() === text),
    [who, text]);
    return {};
  },

  async waitUsers({ page: name, users }) {
    await waitIn(name, `users ${users.join(", ")}`, (users) =>
      JSON.stringify([...document.getElementById("users").children].map((li) => li.textContent)) === JSON.stringify(users),
    users);
    return {};
  },

  async snapshot({ page: name }) {
    return { state: await pageOf(name).evaluate(snapshot) };
  },

  async screenshot({ page: name, name: label }) {
    shots++;
    const file = path.resolve(shotDir, `${String(shots).padStart(2, "0")}-${name}-${label}.png`);
    await pageOf(name).screenshot({ path: file });
    return { path: file };
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
await browser.close();
