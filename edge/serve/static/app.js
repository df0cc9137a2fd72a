// SENSE live control page: plain JS, no build step, everything served by `sense serve` itself.
// The pairing token comes in the URL fragment (#token=...), is kept for this tab only, and goes with every call.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const MODE_NAMES = { everything: "Everything", beat: "Beat", bass: "Bass", vocals: "Vocals", speech: "Speech" };
const SEND_EVERY_MS = 80;          // sliders send at most this often while dragged
const STATUS_EVERY_MS = 2000;      // controls changed elsewhere (sense set, another phone) show up this soon

let token = null;
let status = null;
let circles = [];
let socket = null;
let reconnectMs = 500;
let framesSeen = 0;
let pending = {};
let sendTimer = null;
let busyUntil = 0;                 // while the user drags, the page does not overwrite the control
let socketToken = null;
let refreshing = null;

function readToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get("token");
  if (fromHash) {
    sessionStorage.setItem("sense-token", fromHash);
    history.replaceState(null, "", location.pathname);   // keep it out of the address bar and history
    return fromHash;
  }
  return sessionStorage.getItem("sense-token");
}

function say(text, kind) {
  const message = $("message");
  message.textContent = text || "";
  message.className = kind || "";
}

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) {
    if (response.status === 401 || response.status === 429) showPairing();
    throw new Error(data.error || response.status + " " + response.statusText);
  }
  return data;
}

function showPairing() {
  $("pair").hidden = false;
  $("link").textContent = "not paired";
  $("link").className = "pill bad";
}

// ------------------------------------------------------------------------------------------------- body map
function drawMap(rig) {
  const svg = $("map");
  svg.replaceChildren();
  const surfaces = [...new Set(rig.actuators.map((a) => a.surface))];
  const W = 170, H = 230, PAD = 14, TOP = 22;
  svg.setAttribute("viewBox", `0 0 ${surfaces.length * (W + PAD) + PAD} ${H + TOP + PAD}`);
  surfaces.forEach((surface, s) => {
    const x0 = PAD + s * (W + PAD);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", x0 + W / 2); label.setAttribute("y", 15);
    label.setAttribute("class", "surface"); label.textContent = surface;
    svg.append(label);
    const torso = document.createElementNS(SVG, "rect");
    Object.entries({ x: x0, y: TOP, width: W, height: H, rx: 34, class: "torso" }).forEach(([k, v]) => torso.setAttribute(k, v));
    svg.append(torso);
  });
  circles = rig.actuators.map((actuator) => {
    const s = surfaces.indexOf(actuator.surface);
    const cx = PAD + s * (W + PAD) + actuator.position[0] * W;
    const cy = TOP + (1 - actuator.position[1]) * H;
    const circle = document.createElementNS(SVG, "circle");
    Object.entries({ cx, cy, r: 15, class: "act", "data-id": actuator.id, "data-intensity": "0" })
      .forEach(([k, v]) => circle.setAttribute(k, v));
    const title = document.createElementNS(SVG, "title");
    title.textContent = actuator.id;
    circle.append(title);
    const text = document.createElementNS(SVG, "text");
    text.setAttribute("x", cx); text.setAttribute("y", cy);
    text.setAttribute("class", "act-label"); text.textContent = actuator.id;
    svg.append(circle, text);
    return circle;
  });
  paint(new Array(circles.length).fill(0));
}

function paint(intensities) {
  intensities.forEach((value, i) => {
    const circle = circles[i];
    if (!circle) return;
    const v = Math.max(0, Math.min(1, value));
    const r = Math.round(42 + v * (255 - 42)), g = Math.round(51 + v * (138 - 51)), b = 61;
    circle.setAttribute("fill", `rgb(${r},${g},${b})`);
    circle.setAttribute("r", (14 + 5 * v).toFixed(1));
    circle.setAttribute("data-intensity", v.toFixed(3));
  });
}

// ------------------------------------------------------------------------------------------------- live frames
function showFrame(frame) {
  framesSeen += 1;
  document.body.dataset.frames = String(framesSeen);
  paint(frame.intensities);
  $("preset").textContent = frame.preset;
  $("dropped").textContent = frame.n_dropped_hops;
  $("audio-s").textContent = frame.audio_s.toFixed(1) + " s";
  $("source-state").textContent = `${frame.source.spec} (${frame.source.state})`;
  const mute = $("mute");
  mute.setAttribute("aria-pressed", String(frame.muted));
  mute.textContent = frame.muted ? "Muted: tap to play" : "Mute all";
  const tags = $("tags");
  tags.replaceChildren(...frame.tags.map(([label, p]) => {
    const row = document.createElement("div");
    row.className = "tag";
    const name = document.createElement("span"); name.textContent = label;
    const bar = document.createElement("span"); bar.className = "bar";
    const fill = document.createElement("i"); fill.style.width = (p * 100).toFixed(0) + "%"; bar.append(fill);
    const value = document.createElement("span"); value.textContent = p.toFixed(2);
    row.append(name, bar, value);
    return row;
  }));
  if (frame.latency_ms) showLatency(frame.latency_ms);
  if (frame.links) showLinks(frame.links);
}

function showLatency(latency) {
  $("hop-p95").textContent = latency.hop.p95_ms.toFixed(2) + " ms";
  $("latency").tBodies[0].replaceChildren(...Object.entries(latency).map(([stage, v]) => {
    const row = document.createElement("tr");
    [stage, v.p50_ms.toFixed(3), v.p95_ms.toFixed(3), v.max_ms.toFixed(3)].forEach((text) => {
      const cell = document.createElement("td"); cell.textContent = text; row.append(cell);
    });
    return row;
  }));
}

function showLinks(links) {
  $("links").replaceChildren(...links.map((link) => {
    const item = document.createElement("li");
    const counters = Object.entries(link)
      .filter(([k, v]) => k !== "url" && !(Array.isArray(v) && v.length === 0))
      .map(([k, v]) => `${k.replace(/_/g, " ")} ${Array.isArray(v) ? v.join("; ") : v}`).join(", ");
    item.textContent = link.url + (counters ? ": " + counters : ": no link counters");
    return item;
  }));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socketToken = token;
  socket = new WebSocket(`${scheme}//${location.host}/api/live?token=${encodeURIComponent(token)}`);
  socket.onopen = () => { reconnectMs = 500; $("link").textContent = "live"; $("link").className = "pill ok"; };
  socket.onmessage = (event) => showFrame(JSON.parse(event.data));
  socket.onclose = (event) => {
    $("link").textContent = "reconnecting"; $("link").className = "pill bad";
    if (event.code === 4001 && socketToken === token) {
      say("The pairing token was rotated elsewhere: open the new URL.", "error"); showPairing(); return;
    }
    setTimeout(connect, reconnectMs);
    reconnectMs = Math.min(reconnectMs * 2, 8000);
  };
}

// ------------------------------------------------------------------------------------------------- controls
function option(select, value, text) {
  const item = document.createElement("option");
  item.value = value; item.textContent = text === undefined ? value : text;
  select.append(item);
}

function buildControls(s) {
  const modes = $("modes");
  modes.replaceChildren(...Object.entries(s.modes).map(([mode, playable]) => {
    const button = document.createElement("button");
    button.type = "button"; button.textContent = MODE_NAMES[mode] || mode;
    button.dataset.mode = mode; button.setAttribute("role", "radio"); button.disabled = !playable;
    button.onclick = () => send({ mode });
    return button;
  }));
  const groups = $("groups");
  groups.replaceChildren(...["all", ...Object.keys(s.rig.groups)].map((group) => {
    const label = document.createElement("label");
    label.className = "slider";
    label.append(document.createTextNode(group));
    const out = document.createElement("output"); out.id = "gain-value-" + group;
    const input = document.createElement("input");
    Object.entries({ type: "range", min: "0", max: "1", step: "0.01", value: "1" }).forEach(([k, v]) => input.setAttribute(k, v));
    input.dataset.group = group; input.id = "gain-" + group;
    input.oninput = () => { out.textContent = Math.round(input.value * 100) + " %"; queue({ group_gains: { [group]: Number(input.value) } }); };
    label.append(out, input);
    return label;
  }));
  const lock = $("preset-lock");
  lock.replaceChildren(); option(lock, "", "follow the tags");
  s.rig.presets.forEach((name) => option(lock, name));
  const source = $("source"); source.replaceChildren();
  s.choices.sources.forEach((name) => option(source, name));
  const rig = $("rig-choice"); rig.replaceChildren(); s.choices.rigs.forEach((name) => option(rig, name));
  const pack = $("pack-choice"); pack.replaceChildren(); s.choices.packs.forEach((name) => option(pack, name));
  $("offset-row").hidden = !("haptic_offset_ms" in s.live_params);
}

function showControls(s) {
  const p = s.live_params;
  $("rig-name").textContent = s.rig.name;
  $("pack").textContent = s.pack || "DSP only";
  if (Date.now() < busyUntil) return;
  document.querySelectorAll("#modes button").forEach((b) => b.setAttribute("aria-checked", String(b.dataset.mode === p.mode)));
  $("master").value = p.master; $("master-value").textContent = Math.round(p.master * 100) + " %";
  document.querySelectorAll("#groups input").forEach((input) => {
    const gain = p.group_gains[input.dataset.group] ?? 1;
    input.value = gain; $("gain-value-" + input.dataset.group).textContent = Math.round(gain * 100) + " %";
  });
  if ("haptic_offset_ms" in p) { $("offset").value = p.haptic_offset_ms; $("offset-value").textContent = p.haptic_offset_ms + " ms"; }
  $("preset-lock").value = p.preset_lock || "";
  $("source").value = s.source.spec;
}

async function refresh(rebuild) {
  const s = await api("/api/status");
  const shape = JSON.stringify([s.rig, s.choices, Object.keys(s.live_params)]);
  if (rebuild || !status || shape !== JSON.stringify([status.rig, status.choices, Object.keys(status.live_params)])) {
    drawMap(s.rig);
    buildControls(s);
  }
  status = s;
  showControls(s);
  if (s.latency_ms) showLatency(s.latency_ms);
  if (s.links) showLinks(s.links);
}

async function send(values) {
  try {
    const answer = await api("/api/set", values);
    status.live_params = answer.live_params;
    showControls(status);
    say("", "");
  } catch (error) {
    say(error.message, "error");
    refresh(false).catch(() => {});
  }
}

function queue(values) {   // slider drags: merge, send at most every SEND_EVERY_MS
  busyUntil = Date.now() + 600;
  for (const [key, value] of Object.entries(values)) {
    pending[key] = typeof value === "object" ? { ...(pending[key] || {}), ...value } : value;
  }
  if (sendTimer) return;
  sendTimer = setTimeout(() => { const values = pending; pending = {}; sendTimer = null; send(values); }, SEND_EVERY_MS);
}

async function action(path, body, done) {
  try {
    const answer = await api(path, body);
    say(done(answer), "ok");
    await refresh(true);
  } catch (error) {
    say(error.message, "error");
  }
}

function wire() {
  $("master").oninput = (e) => { $("master-value").textContent = Math.round(e.target.value * 100) + " %"; queue({ master: Number(e.target.value) }); };
  $("offset").oninput = (e) => { $("offset-value").textContent = e.target.value + " ms"; queue({ haptic_offset_ms: Number(e.target.value) }); };
  $("mute").onclick = () => send({ muted: $("mute").getAttribute("aria-pressed") !== "true" });
  $("preset-lock").onchange = (e) => send({ preset_lock: e.target.value || null });
  $("source").onchange = (e) => action("/api/source", { source: e.target.value }, (a) => "Playing " + a.source);
  $("reload").onclick = () => action("/api/reload", { rig: $("rig-choice").value, pack: $("pack-choice").value }, () => "Reloaded");
  $("save").onclick = () => action("/api/save", {}, (a) => "Saved to " + a.saved);
  $("rotate").onclick = () => action("/api/token/rotate", {}, (a) => {
    token = a.token;
    sessionStorage.setItem("sense-token", token);
    const url = `${location.origin}/#token=${token}`;
    return "New pairing URL (the old one no longer works): " + url;
  });
  $("pair").onsubmit = (e) => {
    e.preventDefault();
    token = $("token-input").value.trim();
    sessionStorage.setItem("sense-token", token);
    start();
  };
}

async function start() {
  if (!token) { showPairing(); say("Open the URL printed by sense serve, or enter its pairing token.", ""); return; }
  try {
    await refresh(true);
  } catch (error) {
    say(error.message, "error");
    return;
  }
  $("pair").hidden = true;
  $("main").hidden = false;
  say("", "");
  if (!socket || socket.readyState > 1) connect();
  if (!refreshing) refreshing = setInterval(() => refresh(false).catch(() => {}), STATUS_EVERY_MS);
}

wire();
token = readToken();
start();
