// The event log: every frame the page sends and receives, newest first,
// with a filter, a pause, and each frame's JSON with its secrets masked.

import { bus } from "./bus.js";
import { $, span } from "./dom.js";

/** Entries the log keeps; the oldest go first. */
const LOG_LIMIT = 1000;

/** What a password or another credential looks like in the log. */
const MASK = "••••";

/** The fields the log masks: a password, and what admits an app as a password would. */
const SECRET_FIELD = /^\s*(password|token|secret|jwt)\s*$/i;

/** The log's elements. */
const el = {
  logCount: $("log-count"),
  filter: /** @type {HTMLInputElement} */ ($("log-filter")),
  pause: /** @type {HTMLButtonElement} */ ($("log-pause")),
  clear: /** @type {HTMLButtonElement} */ ($("log-clear")),
  list: $("log-list"),
  detailTitle: $("log-detail-title"),
  detail: $("log-detail"),
};

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

/** @param {Date} d */
function clockTime(d) {
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

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

function renderPause() {
  el.pause.textContent = log.paused ? "Resume" : "Pause";
}

/** Logs every frame from now on, and wires the log's controls. */
export function startLog() {
  bus.on("*/*/*", (ev) => addEntry("in", ev));
  bus.onSent((frame) => addEntry("out", frame));

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

  renderCount();
}
