// The chat page. Everything real-time goes through `socket`, the official
// socket.io-client, which reconnects by itself when the connection drops.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let socket = null;  // created once the user has a name
let room = "";      // the room we are in, or are joining
let users = [];     // who is in it
let joining = null; // while a join is on its way: who came and went meanwhile

// ?transport=polling keeps the client on HTTP long-polling (for proxies
// that block WebSocket); ?transport=websocket skips polling altogether.
function transports() {
  const t = params.get("transport");
  return t === "polling" || t === "websocket" ? [t] : ["polling", "websocket"];
}

// --- Connecting ---------------------------------------------------------

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  if (socket) return; // already connecting
  const name = $("name").value.trim();
  room = $("room").value.trim();
  if (!name || !room) return;

  // The username travels in the handshake's auth payload; the server's
  // middleware refuses the connection without one.
  socket = io({ auth: { username: name }, transports: transports() });

  socket.on("connect", () => {
    $("banner").hidden = true;
    $("login-error").textContent = "";
    $("status").textContent = "connected over " + socket.io.engine.transport.name;
    socket.io.engine.once("upgrade", (t) => { $("status").textContent = "connected over " + t.name; });
    // After a reconnection the server has forgotten our room: join again.
    join(room);
  });
  socket.on("connect_error", (err) => {
    if (!socket.active) { // refused by the server: no automatic retry
      $("login-error").textContent = err.message;
      socket = null;
      showLogin();
    } else { // the server is out of reach: the client tries again
      $("login-error").textContent = "Cannot reach the server (" + err.message + "), retrying…";
    }
  });
  // A dropped connection ("transport close", "ping timeout"...) leaves the
  // socket active: the client reconnects by itself, and "connect" comes
  // again. A server that disconnects us on purpose ("io server disconnect")
  // means it: the client does not retry, and neither do we.
  socket.on("disconnect", (reason) => {
    $("banner").hidden = false;
    $("status").textContent = "disconnected (" + reason + ")";
    if (!socket.active) $("banner").textContent = "Disconnected by the server. Reload the page to come back.";
  });

  // Every event names its room: one about the room we just left may still
  // be on its way, and is dropped.
  socket.on("chat message", (m) => addMessage(m));
  socket.on("user joined", (p) => {
    if (p.room !== room) return;
    cameOrWent(p.username, true);
    addNotice(p.username + " joined");
  });
  socket.on("user left", (p) => {
    if (p.room !== room) return;
    cameOrWent(p.username, false);
    typingStopped(p.username);
    addNotice(p.username + " left");
  });
  socket.on("typing", (p) => { if (p.room === room) typingStarted(p.username); });
  socket.on("stop typing", (p) => { if (p.room === room) typingStopped(p.username); });
});

function showLogin() {
  $("chat").hidden = true;
  $("login").hidden = false;
}

// --- Rooms ----------------------------------------------------------------

// join asks the server to put us in a room; its acknowledgement says who
// is there. The server tells the room about comings and goings as they
// happen, so news of someone may overtake that list: what comes meanwhile
// is noted, and applied again on top of the list.
async function join(name) {
  room = name;
  const seen = joining = [];
  try {
    const res = await socket.timeout(5000).emitWithAck("join", name);
    if (res.error) throw new Error(res.error);
    if (seen !== joining) return; // another join has started since
    joining = null;
    setUsers(res.users);
    for (const [username, here] of seen) cameOrWent(username, here);
    $("room-name").textContent = room;
    if ($("chat").hidden) { // the first time in
      $("login").hidden = true;
      $("chat").hidden = false;
      $("text").focus();
    }
  } catch (err) {
    if (seen !== joining) return; // superseded: its failure no longer matters
    joining = null;
    addNotice("could not join " + name + ": " + err.message);
  }
}

$("switch").addEventListener("submit", (e) => {
  e.preventDefault();
  const next = $("switch-room").value.trim();
  if (next && next !== room) {
    $("messages").replaceChildren();
    typists.clear();
    renderTyping();
    join(next);
  }
  $("switch-room").value = "";
});

function setUsers(list) {
  users = [...new Set(list)].sort();
  $("users").replaceChildren(...users.map((u) => el("li", {}, u)));
}

// cameOrWent updates the list for someone who came (here) or went; while
// a join is on its way, it also notes the change for join to apply again.
function cameOrWent(username, here) {
  joining?.push([username, here]);
  setUsers(here ? [...users, username] : users.filter((u) => u !== username));
}

// --- Messages -------------------------------------------------------------

// Sending shows the message at once, greyed; the server's acknowledgement
// ticks it. The server also sends the message to us, like to everyone in
// the room, and that copy comes first (the acknowledgement follows the
// handler's return): matched by id, it gives way to ours.
$("send").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text || !socket?.connected) return; // while disconnected, the text stays in the box
  $("text").value = "";
  stopTyping();
  const li = el("li", { class: "mine pending" },
    el("span", { class: "who" }, "me"), text, el("span", { class: "tick" }, "…"));
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
  try {
    const ack = await socket.timeout(5000).emitWithAck("chat message", { room, text });
    if (ack.error) throw new Error(ack.error);
    $("messages").querySelector(`li[data-id="${ack.id}"]`)?.remove();
    li.dataset.id = ack.id;
    li.classList.remove("pending");
    li.querySelector(".tick").textContent = "✓";
    li.prepend(el("span", { class: "meta" }, time(ack.ts)));
  } catch (err) {
    li.querySelector(".tick").textContent = "✗ " + err.message;
  }
});

function addMessage(m) {
  if (m.room !== room || document.querySelector(`#messages li[data-id="${m.id}"]`)) return;
  typingStopped(m.username);
  const li = el("li", { "data-id": m.id },
    el("span", { class: "meta" }, time(m.ts)), el("span", { class: "who" }, m.username), m.text);
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function addNotice(text) {
  const li = el("li", { class: "notice" }, text);
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
}

// --- Typing ---------------------------------------------------------------

// We say "typing" on the first key and "stop typing" after two quiet
// seconds or on sending.
let typingTimer = null;
$("text").addEventListener("input", () => {
  if (!socket) return;
  if (!typingTimer) socket.emit("typing", { room });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, 2000);
});
function stopTyping() {
  if (typingTimer && socket) socket.emit("stop typing", { room });
  clearTimeout(typingTimer);
  typingTimer = null;
}

const typists = new Set();
function typingStarted(name) { typists.add(name); renderTyping(); }
function typingStopped(name) { typists.delete(name); renderTyping(); }
function renderTyping() {
  const names = [...typists];
  $("typing").textContent = names.length === 0 ? "" :
    names.join(", ") + (names.length === 1 ? " is typing..." : " are typing...");
}

// --- Helpers --------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function time(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
