// The chat page. Everything real-time goes through `socket`, the official
// socket.io-client, which reconnects by itself when the connection drops.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let socket = null; // created once the user has a name
let room = "";     // the room we are in
let users = [];    // who is in it

// ?transport=polling keeps the client on HTTP long-polling (for proxies
// that block WebSocket); ?transport=websocket skips polling altogether.
function transports() {
  const t = params.get("transport");
  return t === "polling" || t === "websocket" ? [t] : ["polling", "websocket"];
}

// --- Connecting ---------------------------------------------------------

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  room = $("room").value.trim();
  if (!name || !room) return;

  // The username travels in the handshake's auth payload; the server's
  // middleware refuses the connection without one.
  socket = io({ auth: { username: name }, transports: transports() });

  socket.on("connect", () => {
    $("banner").hidden = true;
    $("status").textContent = "connected over " + socket.io.engine.transport.name;
    socket.io.engine.once("upgrade", (t) => { $("status").textContent = "connected over " + t.name; });
    // After a reconnection the server has forgotten our room: join again.
    join(room);
  });
  socket.on("connect_error", (err) => {
    $("login-error").textContent = err.message;
    if (!socket.active) { // refused by the server: no automatic retry
      socket = null;
      showLogin();
    }
  });
  socket.on("disconnect", (reason) => {
    $("banner").hidden = false;
    $("status").textContent = "disconnected (" + reason + ")";
    if (reason === "io server disconnect") socket.connect(); // the server said bye: try again anyway
  });

  socket.on("chat message", (m) => addMessage(m));
  socket.on("user joined", ({ username }) => {
    setUsers([...users, username]);
    addNotice(username + " joined");
  });
  socket.on("user left", ({ username }) => {
    const i = users.indexOf(username);
    if (i >= 0) setUsers(users.slice(0, i).concat(users.slice(i + 1)));
    typingStopped(username);
    addNotice(username + " left");
  });
  socket.on("typing", ({ username }) => typingStarted(username));
  socket.on("stop typing", ({ username }) => typingStopped(username));
});

function showLogin() {
  $("chat").hidden = true;
  $("login").hidden = false;
}

// --- Rooms ----------------------------------------------------------------

// join asks the server to put us in a room; its acknowledgement says who
// is there.
async function join(name) {
  try {
    const res = await socket.timeout(5000).emitWithAck("join", name);
    if (res.error) throw new Error(res.error);
    if (res.room !== room) { $("messages").replaceChildren(); }
    room = res.room;
    setUsers(res.users);
    $("room-name").textContent = room;
    $("login").hidden = true;
    $("chat").hidden = false;
    $("text").focus();
  } catch (err) {
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

// --- Messages -------------------------------------------------------------

// Sending shows the message at once, greyed; the server's acknowledgement
// ticks it. The server also sends it back to us like to everyone in the
// room: that echo, matched by id, is not shown twice.
$("send").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text || !socket) return;
  $("text").value = "";
  stopTyping();
  const li = el("li", { class: "mine pending" },
    el("span", { class: "who" }, "me"), text, el("span", { class: "tick" }, "…"));
  $("messages").append(li);
  li.scrollIntoView();
  try {
    const ack = await socket.timeout(5000).emitWithAck("chat message", { room, text });
    if (ack.error) throw new Error(ack.error);
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
  li.scrollIntoView();
}

function addNotice(text) {
  const li = el("li", { class: "notice" }, text);
  $("messages").append(li);
  li.scrollIntoView();
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
