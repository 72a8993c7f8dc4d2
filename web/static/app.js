// The bus test page: signs an agent in on the Cisco channel, shows its state,
// logs every frame sent and received, and sends hand-written envelopes. It
// uses only ctibus.js, as any widget would.

import { CtiBus } from "./ctibus.js";

/** The name the page registers under. */
const APP = "ctibus-test-page";

/** Entries the log keeps; the oldest go first. */
const LOG_LIMIT = 1000;

/** What a password or another credential looks like in the log. */
const MASK = "••••";

/** The fields the log masks: a password, and what admits an app as a password would. */
const SECRET_FIELD = /^\s*(password|token|secret|jwt)\s*$/i;

/** How long a sign-in may take: it reads everything its 15 events describe. */
const SIGN_IN_TIMEOUT = 15000;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const el = {
  busURL: $("bus-url"),
  status: $("conn-status"),
  notice: $("notice"),
  noticeTitle: $("notice-title"),
  noticeText: $("notice-text"),
  noticeDismiss: $("notice-dismiss"),
  agentPanel: $("agent-panel"),
  initials: $("agent-initials"),
  name: $("agent-name"),
  login: $("agent-login"),
  state: $("agent-state"),
  extension: $("agent-extension"),
  time: $("agent-time"),
  reason: $("agent-reason"),
  team: $("agent-team"),
  tokenRow: $("token-row"),
  tokenExpiry: $("token-expiry"),
  tokenCopy: /** @type {HTMLButtonElement} */ ($("token-copy")),
  ready: /** @type {HTMLButtonElement} */ ($("ready-button")),
  notReadyReason: /** @type {HTMLSelectElement} */ ($("not-ready-reason")),
  notReady: /** @type {HTMLButtonElement} */ ($("not-ready-button")),
  logoutReason: /** @type {HTMLSelectElement} */ ($("logout-reason")),
  logout: /** @type {HTMLButtonElement} */ ($("logout-button")),
  loginForm: /** @type {HTMLFormElement} */ ($("login-form")),
  username: /** @type {HTMLInputElement} */ ($("username")),
  password: /** @type {HTMLInputElement} */ ($("password")),
  ext: /** @type {HTMLInputElement} */ ($("extension")),
  loginButton: /** @type {HTMLButtonElement} */ ($("login-button")),
  composer: /** @type {HTMLFormElement} */ ($("composer")),
  template: /** @type {HTMLSelectElement} */ ($("composer-template")),
  text: /** @type {HTMLTextAreaElement} */ ($("composer-text")),
  composerError: $("composer-error"),
  logCount: $("log-count"),
  filter: /** @type {HTMLInputElement} */ ($("log-filter")),
  pause: /** @type {HTMLButtonElement} */ ($("log-pause")),
  clear: /** @type {HTMLButtonElement} */ ($("log-clear")),
  list: $("log-list"),
  detailTitle: $("log-detail-title"),
  detail: $("log-detail"),
};

const wsURL = new URL("/ws", location.href);
wsURL.protocol = location.protocol === "https:" ? "wss:" : "ws:";
el.busURL.textContent = wsURL.href;

const bus = new CtiBus({
  url: wsURL.href,
  app: APP,
  channels: ["Cisco"],
  // Everything in the page's scope, so that the log shows what other apps
  // in the agent's workspace publish too.
  subscriptions: [{ channel: "*", topic: "*", subtopic: "*" }],
});

// ---- agent ------------------------------------------------------------------

/** What the page knows of the agent. */
const agent = {
  /** @type {any} the Finesse User of the last SetAgentState */
  user: null,
  /** @type {Record<string, string>} READY, NOT_READY, LOGOUT: "Enable" or "Disable" */
  actions: {},
  /** milliseconds to add to the bus's clock to get the browser's */
  clockSkew: 0,
  /** this connection is in the agent's workspace */
  joined: false,
  /** @type {Record<string, Array<{id: string, label: string}>>} reason codes by category */
  reasons: { NOT_READY: [], LOGOUT: [] },
  /** a request of the agent panel is waiting for its answer */
  busy: false,
  /** @type {{token: string, expiresAt: string} | null} the workspace token of the last sign-in */
  token: null,
};

bus.on("Cisco/Agent/SetAgentState", (ev) => {
  const user = ev.message && ev.message.data;
  if (!user) {
    return;
  }
  agent.user = user;
  agent.actions = (ev.message.rules && ev.message.rules.SequentialActions && ev.message.rules.SequentialActions.items) || {};
  const sent = Date.parse(ev.timestamp);
  agent.clockSkew = Number.isNaN(sent) ? 0 : Date.now() - sent;
  agent.joined = user.state !== "LOGOUT";
  if (!agent.joined) {
    agent.token = null; // a sign-out revokes it
  }
  renderAgent();
});

// The signing-in connection alone gets the token that lets the agent's other
// apps join the workspace. The page offers it to copy, never shows it.
bus.on("PubSub/Workspace/Token", (ev) => {
  const m = ev.message || {};
  agent.token = typeof m.token === "string" && m.token !== "" ? { token: m.token, expiresAt: String(m.expiresAt || "") } : null;
  renderAgent();
});

bus.on("Cisco/Agent/SetNotReadyReasonCodes", (ev) => setReasons("NOT_READY", ev));
bus.on("Cisco/Agent/SetLogOutReasonCodes", (ev) => setReasons("LOGOUT", ev));

bus.on("*/Error/SetAPIError", (ev) => {
  const d = (ev.message && ev.message.data) || {};
  showNotice(d.errorType || "Error", d.msg || d.errorMessage || "The bus refused the request.");
});

function setReasons(category, ev) {
  const list = Array.isArray(ev.message && ev.message.data) ? ev.message.data : [];
  agent.reasons[category] = list.map((c) => ({ id: String(c.id), label: String(c.label) }));
  const select = category === "NOT_READY" ? el.notReadyReason : el.logoutReason;
  const keep = select.value;
  select.replaceChildren(...agent.reasons[category].map((c) => new Option(c.label, c.id)));
  if (agent.reasons[category].some((c) => c.id === keep)) {
    select.value = keep;
  }
  renderAgent();
}

function renderAgent() {
  const u = agent.user;
  el.agentPanel.hidden = !u;
  el.loginForm.hidden = agent.joined;
  if (!u) {
    return;
  }
  const name = [u.firstName, u.lastName].filter(Boolean).join(" ") || u.loginName || u.loginId;
  el.initials.textContent = initials(name);
  el.name.textContent = name;
  el.login.textContent = [u.loginName, u.loginId].filter(Boolean).join(" · ");
  el.state.textContent = u.state;
  el.state.dataset.state = u.state;
  el.extension.textContent = u.extension || "—";
  el.reason.textContent = reasonLabel(u);
  el.team.textContent = u.teamName || "—";
  el.agentPanel.classList.toggle("stale", !agent.joined && u.state !== "LOGOUT");
  el.tokenRow.hidden = !agent.token;
  if (agent.token) {
    const expires = new Date(agent.token.expiresAt);
    el.tokenExpiry.textContent = Number.isNaN(expires.getTime())
      ? "lets the agent's other apps join"
      : `lets the agent's other apps join · expires ${expires.toLocaleString([], { dateStyle: "short", timeStyle: "short" })}`;
  }
  renderTime();

  const can = (action) => agent.joined && !agent.busy && bus.status === "open" && agent.actions[action] !== "Disable";
  el.ready.disabled = !can("READY");
  el.notReady.disabled = !can("NOT_READY") || agent.reasons.NOT_READY.length === 0;
  el.notReadyReason.disabled = el.notReady.disabled;
  el.logout.disabled = !can("LOGOUT") || agent.reasons.LOGOUT.length === 0;
  el.logoutReason.disabled = el.logout.disabled;
}

function reasonLabel(u) {
  if (u.ReasonCode && u.ReasonCode.label) {
    return u.ReasonCode.label;
  }
  if (!u.reasonCodeId || u.reasonCodeId === "-1") {
    return "—";
  }
  const known = [...agent.reasons.NOT_READY, ...agent.reasons.LOGOUT].find((c) => c.id === String(u.reasonCodeId));
  return known ? known.label : `code ${u.reasonCodeId}`;
}

function initials(name) {
  const letters = name.split(/\s+/).filter(Boolean).map((w) => w[0]);
  return (letters.slice(0, 2).join("") || "?").toUpperCase();
}

function renderTime() {
  const since = agent.user && Date.parse(agent.user.stateChangeTime);
  if (!since) {
    el.time.textContent = "—";
    return;
  }
  el.time.textContent = formatDuration(Date.now() - agent.clockSkew - since);
}

/** @param {number} ms */
function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  const hms = s >= 3600 ? [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60] : [Math.floor(s / 60), s % 60];
  return hms.map(pad).join(":");
}

setInterval(renderTime, 1000);

/**
 * Runs one request of the agent panel: the panel's buttons wait for it, and
 * a failure that is not a SetAPIError (those show through the listener) is
 * shown here.
 *
 * @param {HTMLButtonElement} button
 * @param {() => Promise<unknown>} send
 */
async function agentAction(button, send) {
  hideNotice();
  agent.busy = true;
  button.setAttribute("aria-busy", "true");
  renderAgent();
  try {
    await send();
  } catch (err) {
    if (err.code !== "api") {
      showNotice("Not sent", err.message);
    }
  } finally {
    agent.busy = false;
    button.removeAttribute("aria-busy");
    renderAgent();
  }
}

el.ready.addEventListener("click", () =>
  agentAction(el.ready, () => bus.request("Cisco", "Agent", "SetReadyState", undefined, { expect: "Cisco/Agent/SetAgentState" })));

el.notReady.addEventListener("click", () =>
  agentAction(el.notReady, () => bus.request("Cisco", "Agent", "SetNotReadyState", { ReasonCodeId: el.notReadyReason.value },
    { expect: "Cisco/Agent/SetAgentState" })));

el.logout.addEventListener("click", () =>
  agentAction(el.logout, () => bus.request("Cisco", "Connection", "Logout", { ReasonCodeId: el.logoutReason.value },
    { expect: "Cisco/Agent/SetAgentState" })));

el.tokenCopy.addEventListener("click", async () => {
  if (!agent.token) {
    return;
  }
  if (await copyText(agent.token.token)) {
    el.tokenCopy.textContent = "Copied";
    setTimeout(() => {
      el.tokenCopy.textContent = "Copy token";
    }, 1500);
  } else {
    showNotice("Not copied", "The browser refused the clipboard. Pages served over plain http from another host may not use it.");
  }
});

/**
 * Puts text on the clipboard. The Clipboard API needs a secure origin
 * (https, localhost, 127.0.0.1); elsewhere the older copy command may work.
 *
 * @param {string} text
 * @returns {Promise<boolean>}
 */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    } finally {
      area.remove();
      el.tokenCopy.focus();
    }
  }
}

el.loginForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (el.loginButton.disabled) {
    return;
  }
  hideNotice();
  el.loginButton.disabled = true;
  el.loginButton.setAttribute("aria-busy", "true");
  el.loginButton.textContent = "Signing in…";
  try {
    await bus.request("Cisco", "Agent", "SetUserInfo", {
      username: el.username.value.trim(),
      password: el.password.value,
      extension: el.ext.value.trim(),
    }, { expect: "Cisco/Agent/SetAgentState", timeout: SIGN_IN_TIMEOUT });
  } catch (err) {
    if (err.code !== "api") {
      showNotice("Not signed in", err.message);
    }
  } finally {
    el.loginButton.removeAttribute("aria-busy");
    el.loginButton.textContent = "Sign in";
    el.loginButton.disabled = bus.status !== "open";
  }
});

// ---- connection and notices -------------------------------------------------

bus.onStatus((change) => {
  el.status.dataset.status = change.status;
  el.status.textContent = statusText(change);
  el.status.title = change.status === "closed" && change.code ? `Close code ${change.code}${change.reason ? `: ${change.reason}` : ""}` : "";
  if (change.status === "closed" && agent.joined) {
    // The bus keeps the agent signed in for a grace period, but a new
    // connection starts outside its workspace.
    agent.joined = false;
    showNotice("Connection lost", "The connection to the bus closed. Once it is back, sign in again to rejoin the agent's workspace.", "info");
  }
  if (!el.loginButton.hasAttribute("aria-busy")) {
    el.loginButton.disabled = change.status !== "open";
  }
  renderAgent();
});

/** @param {import("./ctibus.js").StatusChange} change */
function statusText(change) {
  switch (change.status) {
    case "open":
      return "Connected";
    case "connecting":
      return change.attempt > 0 ? `Reconnecting (attempt ${change.attempt + 1})…` : "Connecting…";
    default: {
      const code = change.code ? ` (${change.code})` : "";
      const retry = change.retryIn != null ? ` · retrying in ${(change.retryIn / 1000).toFixed(1)} s` : "";
      return `Disconnected${code}${retry}`;
    }
  }
}

/**
 * @param {string} title
 * @param {string} text
 * @param {"error" | "info"} [kind]
 */
function showNotice(title, text, kind = "error") {
  el.noticeTitle.textContent = title;
  el.noticeText.textContent = text;
  el.notice.dataset.kind = kind;
  el.notice.hidden = false;
}

function hideNotice() {
  el.notice.hidden = true;
}

el.noticeDismiss.addEventListener("click", hideNotice);

// ---- event log --------------------------------------------------------------

/**
 * @typedef {object} LogEntry
 * @property {number} seq
 * @property {"in" | "out"} dir
 * @property {Date} at
 * @property {string} triple   Channel/Topic/Subtopic
 * @property {string} ref      the correlationId of an event, the id of a request
 * @property {boolean} error
 * @property {string} json     pretty-printed, passwords masked
 */

const log = {
  seq: 0,
  /** @type {Map<number, LogEntry>} by seq, for the detail view */
  entries: new Map(),
  paused: false,
  /** @type {LogEntry[]} entries that arrived while paused */
  held: [],
  /** @type {number | null} */
  selected: null,
  /** @type {HTMLElement | null} the one row reached with Tab; arrows move between rows */
  tabStop: null,
};

bus.on("*/*/*", (ev) => addEntry("in", ev));
bus.onSent((frame) => addEntry("out", frame));

/**
 * @param {"in" | "out"} dir
 * @param {any} envelope
 */
function addEntry(dir, envelope) {
  const entry = {
    seq: ++log.seq,
    dir,
    at: new Date(),
    triple: [envelope.channel, envelope.topic, envelope.subtopic].map((s) => String(s ?? "?")).join("/"),
    ref: String((dir === "in" ? envelope.correlationId : envelope.id) ?? ""),
    error: String(envelope.subtopic).toLowerCase() === "setapierror",
    // The page's own frames may carry a password, and the bus sends the
    // workspace token: both admit whoever reads them.
    json: JSON.stringify(maskSecrets(envelope), null, 2),
  };
  if (log.paused) {
    log.held.push(entry);
    renderCount();
    return;
  }
  insertRow(entry);
  renderCount();
}

/**
 * Returns a copy of value with every password, token, secret and jwt field,
 * at any depth and in any case, replaced by the mask.
 *
 * @param {any} value
 * @returns {any}
 */
function maskSecrets(value) {
  if (Array.isArray(value)) {
    return value.map(maskSecrets);
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) =>
      [k, SECRET_FIELD.test(k) && v != null && v !== "" ? MASK : maskSecrets(v)]));
  }
  return value;
}

/** @param {LogEntry} entry */
function insertRow(entry) {
  log.entries.set(entry.seq, entry);
  const li = document.createElement("li");
  li.hidden = !passesFilter(entry);
  const row = document.createElement("button");
  row.type = "button";
  row.tabIndex = -1;
  row.className = entry.error ? "row is-error" : "row";
  row.dataset.testid = "log-row";
  row.dataset.seq = String(entry.seq);
  row.dataset.dir = entry.dir;
  row.dataset.triple = entry.triple;
  row.setAttribute("aria-label", `${entry.dir === "in" ? "Received" : "Sent"} ${entry.triple}${entry.ref ? `, ${entry.dir === "in" ? "answers" : "id"} ${entry.ref}` : ""}`);

  const time = span("row-time", clockTime(entry.at));
  const dir = span("row-dir", entry.dir);
  const triple = span("row-triple");
  entry.triple.split("/").forEach((seg, i) => {
    if (i > 0) {
      triple.append(span("sep", "/"));
    }
    triple.append(span(["seg-channel", "seg-topic", "seg-subtopic"][i] || "seg-subtopic", seg));
  });
  const ref = span("row-corr", entry.ref ? `#${entry.ref}` : "");
  row.append(time, dir, triple, ref);
  li.append(row);
  el.list.prepend(li);

  while (el.list.childElementCount > LOG_LIMIT) {
    const last = /** @type {HTMLElement} */ (el.list.lastElementChild);
    const seq = Number(/** @type {HTMLElement} */ (last.firstElementChild).dataset.seq);
    log.entries.delete(seq);
    last.remove();
  }
  updateTabStop();
}

/**
 * Keeps exactly one row in the tab order: the selected one when it is shown,
 * else the newest shown. A thousand rows are one Tab stop, not a thousand.
 */
function updateTabStop() {
  const selected = log.selected === null ? null : el.list.querySelector(`li:not([hidden]) > .row[data-seq="${log.selected}"]`);
  const stop = /** @type {HTMLElement | null} */ (selected || el.list.querySelector("li:not([hidden]) > .row"));
  if (stop === log.tabStop) {
    return;
  }
  if (log.tabStop) {
    log.tabStop.tabIndex = -1;
  }
  if (stop) {
    stop.tabIndex = 0;
  }
  log.tabStop = stop;
}

/**
 * @param {string} className
 * @param {string} [text]
 */
function span(className, text = "") {
  const s = document.createElement("span");
  s.className = className;
  s.textContent = text;
  return s;
}

/** @param {Date} d */
function clockTime(d) {
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

el.list.addEventListener("click", (e) => {
  const row = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (e.target).closest(".row"));
  if (row) {
    select(Number(row.dataset.seq));
  }
});

// Arrow keys, Home and End move between rows, as in a list box.
el.list.addEventListener("keydown", (e) => {
  const rows = [...el.list.querySelectorAll("li:not([hidden]) .row")];
  const at = rows.indexOf(/** @type {Element} */ (document.activeElement));
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 }[e.key];
  if (to === undefined) {
    return;
  }
  const next = rows[to];
  if (next) {
    e.preventDefault();
    /** @type {HTMLElement} */ (next).focus();
    select(Number(/** @type {HTMLElement} */ (next).dataset.seq));
  }
});

/** @param {number} seq */
function select(seq) {
  const entry = log.entries.get(seq);
  if (!entry) {
    return;
  }
  log.selected = seq;
  for (const r of el.list.querySelectorAll('.row[aria-current="true"]')) {
    r.removeAttribute("aria-current");
  }
  el.list.querySelector(`.row[data-seq="${seq}"]`)?.setAttribute("aria-current", "true");
  updateTabStop();
  el.detailTitle.textContent = `${entry.dir === "in" ? "Received" : "Sent"} ${entry.triple} at ${clockTime(entry.at)}`;
  el.detail.replaceChildren(...highlightJSON(entry.json));
}

/**
 * Splits pretty-printed JSON into text nodes and coloured spans. Everything
 * is set as text, never as HTML.
 *
 * @param {string} json
 * @returns {Node[]}
 */
function highlightJSON(json) {
  const token = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(?:true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  const nodes = [];
  let last = 0;
  for (const m of json.matchAll(token)) {
    if (m.index > last) {
      nodes.push(document.createTextNode(json.slice(last, m.index)));
    }
    if (m[1] !== undefined && m[2] !== undefined) {
      nodes.push(span("j-key", m[1]), document.createTextNode(m[2]));
    } else if (m[1] !== undefined) {
      nodes.push(span(m[1] === JSON.stringify(MASK) ? "j-str j-mask" : "j-str", m[1]));
    } else if (/^[tfn]/.test(m[0])) {
      nodes.push(span("j-lit", m[0]));
    } else {
      nodes.push(span("j-num", m[0]));
    }
    last = m.index + m[0].length;
  }
  nodes.push(document.createTextNode(json.slice(last)));
  return nodes;
}

/** @param {LogEntry} entry */
function passesFilter(entry) {
  const words = el.filter.value.toLowerCase().split(/\s+/).filter(Boolean);
  const hay = entry.triple.toLowerCase();
  return words.every((w) => hay.includes(w));
}

function renderCount() {
  const total = el.list.childElementCount;
  const shown = el.list.querySelectorAll("li:not([hidden])").length;
  let text = `${total} ${total === 1 ? "event" : "events"}`;
  if (shown !== total) {
    text += ` · ${shown} shown`;
  }
  if (log.held.length > 0) {
    text += ` · ${log.held.length} held`;
  }
  el.logCount.textContent = text;
}

el.filter.addEventListener("input", () => {
  for (const li of el.list.children) {
    const seq = Number(/** @type {HTMLElement} */ (li.firstElementChild).dataset.seq);
    const entry = log.entries.get(seq);
    /** @type {HTMLElement} */ (li).hidden = !entry || !passesFilter(entry);
  }
  updateTabStop();
  renderCount();
});

el.pause.addEventListener("click", () => {
  log.paused = !log.paused;
  el.pause.setAttribute("aria-pressed", String(log.paused));
  if (!log.paused) {
    for (const entry of log.held.splice(0)) {
      insertRow(entry);
    }
  }
  renderPause();
  renderCount();
});

function renderPause() {
  el.pause.textContent = log.paused ? "Resume" : "Pause";
}

el.clear.addEventListener("click", () => {
  el.list.replaceChildren();
  log.entries.clear();
  log.held.length = 0;
  log.selected = null;
  log.tabStop = null;
  el.detailTitle.textContent = "Select an event to see its JSON.";
  el.detail.replaceChildren();
  renderCount();
});

// ---- composer ---------------------------------------------------------------

let composed = 0;

/** The documented requests, as envelopes to start from. */
const templates = [
  {
    group: "Cisco", name: "Agent/SetUserInfo (sign in)",
    make: () => cisco("Agent", "SetUserInfo", { username: el.username.value, password: el.password.value, extension: el.ext.value }),
  },
  { group: "Cisco", name: "Agent/SetReadyState", make: () => cisco("Agent", "SetReadyState") },
  { group: "Cisco", name: "Agent/SetNotReadyState", make: () => cisco("Agent", "SetNotReadyState", { ReasonCodeId: firstReason("NOT_READY", "1") }) },
  { group: "Cisco", name: "Connection/Logout", make: () => cisco("Connection", "Logout", { ReasonCodeId: firstReason("LOGOUT", "28") }) },
  { group: "Cisco", name: "Agent/GetAgentState", make: () => cisco("Agent", "GetAgentState") },
  { group: "Cisco", name: "General/GetAppState", make: () => cisco("General", "GetAppState") },
  { group: "Cisco", name: "General/GetSystemInfo", make: () => cisco("General", "GetSystemInfo") },
  { group: "Cisco", name: "Agent/GetWrapupReasonCode", make: () => cisco("Agent", "GetWrapupReasonCode") },
  { group: "Cisco", name: "Agent/GetPhoneDirectory", make: () => cisco("Agent", "GetPhoneDirectory") },
  { group: "Cisco", name: "Call/GetCallState", make: () => cisco("Call", "GetCallState") },
  {
    group: "PubSub", name: "Subscription/Subscribe",
    make: () => envelope("PubSub", "Subscription", "Subscribe", { channel: "CRM", topic: "Screenpop", subtopic: "*" }),
  },
  {
    group: "PubSub", name: "Subscription/Unsubscribe",
    make: () => envelope("PubSub", "Subscription", "Unsubscribe", { channel: "CRM", topic: "Screenpop", subtopic: "*" }),
  },
  {
    group: "App to app", name: "CRM/Screenpop/Show (publish)",
    make: () => envelope("CRM", "Screenpop", "Show", { ani: "5551234", callId: "example" }),
  },
];

function envelope(channel, topic, subtopic, data) {
  const env = { id: `composer-${++composed}`, channel, topic, subtopic, source: APP };
  if (data !== undefined) {
    env.data = data;
  }
  return env;
}

function cisco(topic, subtopic, data) {
  return envelope("Cisco", topic, subtopic, data);
}

function firstReason(category, fallback) {
  const select = category === "NOT_READY" ? el.notReadyReason : el.logoutReason;
  return select.value || (agent.reasons[category][0] && agent.reasons[category][0].id) || fallback;
}

{
  const groups = new Map();
  templates.forEach((t, i) => {
    let group = groups.get(t.group);
    if (!group) {
      group = document.createElement("optgroup");
      group.label = t.group;
      groups.set(t.group, group);
      el.template.append(group);
    }
    group.append(new Option(t.name, String(i)));
  });
  el.template.value = String(templates.findIndex((t) => t.name === "Agent/GetAgentState"));
  fillTemplate();
}

function fillTemplate() {
  const t = templates[Number(el.template.value)];
  if (t) {
    el.text.value = JSON.stringify(t.make(), null, 2);
    el.composerError.hidden = true;
  }
}

el.template.addEventListener("change", fillTemplate);

el.composer.addEventListener("submit", (e) => {
  e.preventDefault();
  sendComposed();
});

el.text.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    sendComposed();
  }
});

function sendComposed() {
  let env;
  try {
    env = JSON.parse(el.text.value);
  } catch (err) {
    return composerError(`Not valid JSON: ${err.message}`);
  }
  if (!env || typeof env !== "object" || Array.isArray(env)) {
    return composerError("An envelope is one JSON object: {\"channel\", \"topic\", \"subtopic\", \"data\"?}.");
  }
  try {
    bus.send(env);
  } catch (err) {
    return composerError(err.message);
  }
  el.composerError.hidden = true;
  hideNotice();
}

/** @param {string} text */
function composerError(text) {
  el.composerError.textContent = text;
  el.composerError.hidden = false;
}

// ---- start ------------------------------------------------------------------

el.loginButton.disabled = true;
renderCount();
bus.connect();
