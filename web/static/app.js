// The bus test page: signs an agent in on the Cisco channel, shows its state
// and its calls (and, for a supervisor, its teams' agents), logs every frame
// sent and received, and sends hand-written envelopes. It uses only
// ctibus.js, as any widget would.

import { CtiBus, CtiBusHost } from "./ctibus.js";

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
  callsCard: $("calls-card"),
  callsHeading: $("calls-heading"),
  callsCount: $("calls-count"),
  ringForm: /** @type {HTMLFormElement} */ ($("ring-form")),
  ringFrom: /** @type {HTMLInputElement} */ ($("ring-from")),
  ringVar1: /** @type {HTMLInputElement} */ ($("ring-var1")),
  ringVar2: /** @type {HTMLInputElement} */ ($("ring-var2")),
  ringKind: /** @type {HTMLSelectElement} */ ($("ring-kind")),
  ringButton: /** @type {HTMLButtonElement} */ ($("ring-button")),
  dialForm: /** @type {HTMLFormElement} */ ($("dial-form")),
  dialTo: /** @type {HTMLInputElement} */ ($("dial-to")),
  dialButton: /** @type {HTMLButtonElement} */ ($("dial-button")),
  callList: $("call-list"),
  callsStatus: $("calls-status"),
  teamCard: $("team-card"),
  teamHeading: $("team-heading"),
  teamTeams: $("team-teams"),
  teamList: $("team-list"),
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

// The widgets embedded in this page (the screen-pop sample) share its
// connection: the page relays the bus to the iframes of its own origin.
new CtiBusHost(bus, { widgetOrigins: [location.origin] });

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
  if (!agent.joined || team.owner !== user.loginId) {
    resetTeam(agent.joined ? user.loginId : "");
    if (agent.joined && user.issupervisor === true) {
      // The current state of the supervised teams; changes follow on their own.
      bus.request("Cisco", "Team", "GetTeamState").catch(requestFailed);
    }
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

/** Renders everything that follows the agent: its panel, its calls, its team. */
function renderAgent() {
  renderAgentPanel();
  renderCalls();
  renderTeam();
}

function renderAgentPanel() {
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

// ---- calls ------------------------------------------------------------------

/**
 * What the page knows of the agent's calls. Each CallsStateChange lists all
 * of them, so the list is replaced, never merged.
 */
const calls = {
  /** @type {any[]} the Dialogs of the last CallsStateChange */
  list: [],
  /** @type {Array<{id: string, label: string}>} the agent's wrap-up reasons (SetWrapupCode) */
  wrapUps: [],
  /** @type {Map<string, CallView>} the calls on screen, by dialog id */
  views: new Map(),
  /** @type {Set<string>} dialogs with a request waiting for its answer */
  pending: new Set(),
  /** a Ring me or Dial request is waiting for its answer */
  toolBusy: false,
};

/**
 * The buttons of a call. Each shows only when the agent's participant
 * allows it: its `actions`, as Finesse lists them. A campaign's preview
 * reservation offers ACCEPT, REJECT (skip the customer for now) and CLOSE
 * (never call the customer again).
 *
 * @type {Array<{key: string, label: string, className?: string,
 *   allowed: (actions: string[], p: any) => boolean,
 *   send: (call: any) => [string, string, object]}>}
 */
const CALL_BUTTONS = [
  { key: "answer", label: "Answer", className: "btn-ready", allowed: (a) => a.includes("ANSWER"),
    send: (c) => ["InboundCall", "SetAnswer", { CallID: c.id }] },
  { key: "accept", label: "Accept", className: "btn-ready", allowed: (a) => a.includes("ACCEPT"),
    send: (c) => ["OutboundCall", "SetACCEPT", { CallID: c.id }] },
  { key: "reject", label: "Reject (skip)", allowed: (a) => a.includes("REJECT"),
    send: (c) => ["OutboundCall", "SetREJECT", { CallID: c.id }] },
  { key: "close", label: "Close", className: "btn-danger", allowed: (a) => a.includes("CLOSE"),
    send: (c) => ["OutboundCall", "SetCLOSE", { CallID: c.id }] },
  { key: "hold", label: "Hold", className: "btn-notready", allowed: (a) => a.includes("HOLD"),
    send: (c) => ["InboundCall", "SetHOLD", { CallID: c.id }] },
  { key: "retrieve", label: "Retrieve", className: "btn-ready", allowed: (a) => a.includes("RETRIEVE"),
    send: (c) => ["InboundCall", "SetRETRIEVE", { CallID: c.id }] },
  { key: "transfer", label: "Transfer", className: "btn-primary", allowed: (a) => a.includes("TRANSFER"),
    send: (c) => ["InboundCall", "SetTRANSFER", { CallID: c.id }] },
  { key: "conference", label: "Conference", className: "btn-primary", allowed: (a) => a.includes("CONFERENCE"),
    send: (c) => ["InboundCall", "SetCONFERENCE", { CallID: c.id }] },
  { key: "barge", label: "Barge in", className: "btn-primary", allowed: (a) => a.includes("BARGE_CALL"),
    send: (c) => ["InboundCall", "SetBARGE CALL", bargeData(c)] },
  { key: "drop", label: "Drop", className: "btn-danger", allowed: (a) => a.includes("DROP"),
    send: (c) => ["InboundCall", "SetDROP", { CallID: c.id }] },
];

/** What a participant's state reads as. */
const PARTICIPANT_STATE = {
  ALERTING: "ringing", INITIATING: "dialing", INITIATED: "dialing", ACTIVE: "active", HELD: "on hold",
  FAILED: "failed", WRAP_UP: "wrap-up", DROPPED: "left", ACCEPTED: "accepted",
};

bus.on("Cisco/Call/CallsStateChange", (ev) => {
  calls.list = ev.message && Array.isArray(ev.message.calls) ? ev.message.calls : [];
  renderCalls();
  renderTeam(); // Monitor and Barge follow the supervisor's own calls
});

bus.on("Cisco/Agent/SetWrapupCode", (ev) => {
  const list = Array.isArray(ev.message && ev.message.data) ? ev.message.data : [];
  calls.wrapUps = list.map((c) => ({ id: String(c.id), label: String(c.label) }));
  for (const view of calls.views.values()) {
    fillWrapUps(view.wrapUpSelect);
  }
  renderCalls();
});

/** The extension the agent is signed in on. */
function myExtension() {
  return (agent.user && agent.user.extension) || "";
}

/** The agent's own participant in a call, or null. */
function myParticipant(call) {
  const ext = myExtension();
  return (Array.isArray(call.participants) ? call.participants : []).find((p) => p.mediaAddress === ext) || null;
}

/** The party at the other end: the caller of a call the agent received, the number it dialed otherwise. */
function otherParty(call) {
  const ext = myExtension();
  if (call.fromAddress && call.fromAddress !== ext) {
    return call.fromAddress;
  }
  return call.toAddress || call.fromAddress || "unknown";
}

/** A call's headline, in words. */
function callTitle(call, p) {
  const who = otherParty(call);
  const type = (call.mediaProperties && call.mediaProperties.callType) || "";
  if (type === "SUPERVISOR_MONITOR") {
    return `Monitoring ${who}`;
  }
  switch (p.state) {
    case "ALERTING":
      if (type === "OUTBOUND_PREVIEW") {
        return `Campaign preview: call ${who}?`;
      }
      return `${{ CONSULT: "Consult call", TRANSFER: "Transferred call", OUTBOUND: "Campaign call" }[type] || "Incoming call"} from ${who}`;
    case "ACCEPTED":
      return `Accepted: dialing ${who}`;
    case "INITIATING":
    case "INITIATED":
      return call.state === "ALERTING" ? `Ringing ${who}` : `Dialing ${who}`;
    case "ACTIVE": {
      const others = (call.participants || []).filter((q) => q !== p && q.state !== "DROPPED").map((q) => q.mediaAddress);
      if (others.length > 1) {
        return `Conference with ${others.join(", ")}`;
      }
      return type === "BARGE_IN" ? `Barged into the call with ${who}` : `Talking with ${who}`;
    }
    case "HELD":
      return `On hold: ${who}`;
    case "FAILED":
      return p.stateCause === "BUSY" ? `${who} is busy` : `${who} did not answer`;
    case "WRAP_UP":
      return `Wrap-up after the call with ${who}`;
    default:
      return `${who}: ${p.state}`;
  }
}

/**
 * @typedef {object} CallView
 * @property {string} id
 * @property {HTMLLIElement} li
 * @property {HTMLElement} type
 * @property {HTMLElement} title
 * @property {HTMLElement} state
 * @property {HTMLElement} time
 * @property {Record<string, HTMLElement>} facts
 * @property {HTMLElement} parties
 * @property {HTMLElement} vars
 * @property {Record<string, HTMLButtonElement>} buttons
 * @property {HTMLFormElement} consult
 * @property {HTMLInputElement} consultTo
 * @property {HTMLButtonElement} consultButton
 * @property {HTMLButtonElement} sstButton
 * @property {HTMLFormElement} wrapUp
 * @property {HTMLSelectElement} wrapUpSelect
 * @property {HTMLButtonElement} wrapUpButton
 * @property {any} call the Dialog last shown
 */

/**
 * Builds the elements of one call, once: later events only update them,
 * so that a field keeps what was typed in it and a button keeps the focus.
 *
 * @param {string} id
 * @returns {CallView}
 */
function createCallView(id) {
  const li = document.createElement("li");
  li.className = "call";
  li.dataset.testid = "call";
  li.dataset.callId = id;

  const head = document.createElement("div");
  head.className = "call-head";
  const type = span("call-type");
  type.dataset.testid = "call-type";
  const title = document.createElement("h3");
  title.className = "call-title";
  title.id = `call-${id}-title`;
  title.dataset.testid = "call-title";
  const state = span("state call-state");
  state.dataset.testid = "call-my-state";
  state.title = "Your participant's state";
  const time = span("call-time mono");
  time.dataset.testid = "call-time";
  time.title = "Time on the call";
  head.append(type, title, state, time);

  const factList = document.createElement("dl");
  factList.className = "call-facts";
  /** @type {Record<string, HTMLElement>} */
  const facts = {};
  for (const [key, label] of [["id", "Call"], ["from", "From"], ["to", "To"], ["dialog", "Dialog"], ["dnis", "DNIS"], ["wrapUp", "Wrap-up"]]) {
    const item = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.dataset.testid = `call-${key === "id" ? "id" : key === "dialog" ? "dialog-state" : key}`;
    item.append(dt, dd);
    factList.append(item);
    facts[key] = dd;
  }

  const parties = document.createElement("p");
  parties.className = "call-parties small";
  parties.dataset.testid = "call-parties";

  const vars = document.createElement("dl");
  vars.className = "call-vars";
  vars.dataset.testid = "call-vars";
  vars.setAttribute("aria-label", "Call variables");

  const controls = document.createElement("div");
  controls.className = "call-controls";
  const buttonRow = document.createElement("div");
  buttonRow.className = "call-buttons";
  /** @type {Record<string, HTMLButtonElement>} */
  const buttons = {};
  for (const def of CALL_BUTTONS) {
    const b = button(def.label, `btn ${def.className || ""}`.trim());
    b.dataset.action = def.key;
    b.setAttribute("aria-describedby", title.id);
    b.addEventListener("click", () => {
      const view = calls.views.get(id);
      if (view) {
        callRequest(view, b, ...def.send(view.call));
      }
    });
    buttons[def.key] = b;
    buttonRow.append(b);
  }

  // Consult and single-step transfer share the number; Enter consults.
  const consult = document.createElement("form");
  consult.className = "call-consult";
  const consultLabel = document.createElement("label");
  consultLabel.htmlFor = `call-${id}-consult-to`;
  consultLabel.textContent = "Consult or transfer to";
  const consultTo = document.createElement("input");
  consultTo.id = consultLabel.htmlFor;
  consultTo.inputMode = "tel";
  consultTo.autocomplete = "off";
  consultTo.spellcheck = false;
  consultTo.placeholder = "extension or number";
  consultTo.dataset.testid = "call-consult-to";
  const consultButton = button("Consult", "btn");
  consultButton.type = "submit";
  consultButton.dataset.action = "consult";
  const sstButton = button("Single-step transfer", "btn");
  sstButton.dataset.action = "transfer-sst";
  const consultCombo = document.createElement("div");
  consultCombo.className = "combo";
  consultCombo.append(consultTo, consultButton, sstButton);
  consult.append(consultLabel, consultCombo);
  const sendTo = (subtopic, b) => {
    const view = calls.views.get(id);
    const to = consultTo.value.trim();
    if (!view) {
      return;
    }
    if (to === "") {
      showNotice("Number needed", "Type the extension or number to consult or transfer to.");
      consultTo.focus();
      return;
    }
    callRequest(view, b, "InboundCall", subtopic, { CallID: id, toAddress: to });
  };
  consult.addEventListener("submit", (e) => {
    e.preventDefault();
    sendTo(consultButton.hidden ? "SetTRANSFER_SST" : "SetCONSULT", consultButton.hidden ? sstButton : consultButton);
  });
  sstButton.addEventListener("click", () => sendTo("SetTRANSFER_SST", sstButton));

  const wrapUp = document.createElement("form");
  wrapUp.className = "call-wrapup";
  const wrapUpLabel = document.createElement("label");
  wrapUpLabel.htmlFor = `call-${id}-wrapup`;
  wrapUpLabel.textContent = "Wrap-up reason";
  const wrapUpSelect = document.createElement("select");
  wrapUpSelect.id = wrapUpLabel.htmlFor;
  wrapUpSelect.dataset.testid = "call-wrapup-reason";
  fillWrapUps(wrapUpSelect);
  const wrapUpButton = button("Wrap up", "btn btn-primary");
  wrapUpButton.type = "submit";
  wrapUpButton.dataset.action = "wrap-up";
  const wrapUpCombo = document.createElement("div");
  wrapUpCombo.className = "combo";
  wrapUpCombo.append(wrapUpSelect, wrapUpButton);
  wrapUp.append(wrapUpLabel, wrapUpCombo);
  wrapUp.addEventListener("submit", (e) => {
    e.preventDefault();
    const view = calls.views.get(id);
    if (view && wrapUpSelect.value) {
      callRequest(view, wrapUpButton, "Agent", "WrapUpCall", { callID: id, wrapup: wrapUpSelect.value });
    }
  });

  controls.append(buttonRow, consult, wrapUp);
  li.append(head, factList, parties, vars, controls);
  return { id, li, type, title, state, time, facts, parties, vars, buttons, consult, consultTo, consultButton, sstButton,
    wrapUp, wrapUpSelect, wrapUpButton, call: null };
}

/**
 * @param {string} text
 * @param {string} className
 */
function button(text, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = text;
  return b;
}

/** @param {HTMLSelectElement} select */
function fillWrapUps(select) {
  const keep = select.value;
  select.replaceChildren(...calls.wrapUps.map((r) => new Option(r.label, r.id)));
  if (calls.wrapUps.some((r) => r.id === keep)) {
    select.value = keep;
  }
}

/**
 * @param {CallView} view
 * @param {any} call
 * @param {any} p the agent's participant
 * @param {boolean} live the connection is in the agent's workspace
 */
function updateCallView(view, call, p, live) {
  view.call = call;
  const media = call.mediaProperties || {};
  const actions = Array.isArray(p.actions) ? p.actions : [];
  view.li.dataset.myState = p.state;
  view.li.dataset.dialogState = call.state;
  view.li.dataset.type = media.callType || "";
  view.type.textContent = media.callType || "call";
  view.title.textContent = callTitle(call, p);
  view.state.textContent = p.state;
  view.state.dataset.state = p.state;
  view.facts.id.textContent = call.id;
  view.facts.from.textContent = call.fromAddress || "—";
  view.facts.to.textContent = call.toAddress || "—";
  view.facts.dialog.textContent = call.state;
  view.facts.dnis.textContent = media.DNIS || media.dialedNumber || "—";
  view.facts.dnis.parentElement.hidden = !(media.DNIS || media.dialedNumber);
  view.facts.wrapUp.textContent = media.wrapUpReason || "";
  view.facts.wrapUp.parentElement.hidden = !media.wrapUpReason;

  view.parties.replaceChildren(span("muted", "Parties "), ...(call.participants || []).flatMap((q, i) => {
    const who = q.mediaAddress === myExtension() ? `${q.mediaAddress} (you)` : q.mediaAddress;
    const what = PARTICIPANT_STATE[q.state] || q.state.toLowerCase();
    const cause = q.stateCause ? `, ${q.stateCause.toLowerCase()}` : "";
    return [...(i > 0 ? [span("sep", " · ")] : []), span("party", `${who} ${what}${cause}`)];
  }));

  const set = (Array.isArray(media.callvariables) ? media.callvariables : []).filter((v) => v && v.value !== "" && v.value != null);
  view.vars.replaceChildren(...(set.length === 0
    ? [Object.assign(document.createElement("div"), { className: "muted small", textContent: "No call variables set." })]
    : set.map((v) => {
      const item = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = v.name;
      const dd = document.createElement("dd");
      dd.textContent = v.value;
      item.append(dt, dd);
      return item;
    })));

  const waiting = calls.pending.has(view.id);
  const usable = (b) => {
    b.disabled = !live;
    b.setAttribute("aria-disabled", String(waiting));
  };
  for (const def of CALL_BUTTONS) {
    const b = view.buttons[def.key];
    b.hidden = !def.allowed(actions, p);
    usable(b);
  }

  view.consultButton.hidden = !actions.includes("CONSULT_CALL");
  view.sstButton.hidden = !actions.includes("TRANSFER_SST");
  view.consult.hidden = view.consultButton.hidden && view.sstButton.hidden;
  usable(view.consultButton);
  usable(view.sstButton);
  view.consultTo.disabled = !live;

  // WrapUpCall records the reason, during the call or in wrap-up; the agent
  // leaves wrap-up with Ready or Not Ready, as in Finesse.
  view.wrapUp.hidden = !actions.includes("UPDATE_CALL_DATA") || calls.wrapUps.length === 0;
  view.wrapUpButton.textContent = "Set reason";
  usable(view.wrapUpButton);
  view.wrapUpSelect.disabled = !live;
  view.li.setAttribute("aria-busy", String(waiting));
  renderCallTime(view);
}

/** @param {CallView} view */
function renderCallTime(view) {
  const p = view.call && myParticipant(view.call);
  const since = p && Date.parse(p.startTime);
  view.time.textContent = since ? formatDuration(Date.now() - agent.clockSkew - since) : "";
}

function renderCalls() {
  const u = agent.user;
  const signedIn = !!u && u.state !== "LOGOUT";
  el.callsCard.hidden = !signedIn;
  const live = signedIn && agent.joined && bus.status === "open";
  el.callsCard.classList.toggle("stale", signedIn && !agent.joined);
  el.ringButton.disabled = !live;
  el.dialButton.disabled = !live;
  el.ringButton.setAttribute("aria-disabled", String(calls.toolBusy));
  el.dialButton.setAttribute("aria-disabled", String(calls.toolBusy));

  const focused = document.activeElement instanceof HTMLElement && el.callList.contains(document.activeElement)
    ? document.activeElement : null;
  const focusedCall = focused && /** @type {HTMLElement} */ (focused.closest(".call")).dataset.callId;

  const shown = signedIn
    ? calls.list.map((c) => ({ call: c, p: myParticipant(c) })).filter(({ p }) => p && p.state !== "DROPPED")
    : [];
  const ids = new Set(shown.map(({ call }) => String(call.id)));
  for (const [id, view] of calls.views) {
    if (!ids.has(id)) {
      view.li.remove();
      calls.views.delete(id);
      if (signedIn && view.call) {
        announceCall(`The call with ${otherParty(view.call)} ended.`);
      }
    }
  }
  shown.forEach(({ call, p }, i) => {
    const id = String(call.id);
    let view = calls.views.get(id);
    if (!view) {
      view = createCallView(id);
      calls.views.set(id, view);
      if (p.state === "ALERTING") {
        announceCall(`${callTitle(call, p)}.`);
      }
    }
    updateCallView(view, call, p, live);
    if (el.callList.children[i] !== view.li) {
      el.callList.insertBefore(view.li, el.callList.children[i] || null);
    }
  });
  if (!signedIn) {
    calls.list = [];
    el.callsStatus.textContent = "";
  }
  el.callsCount.textContent = shown.length === 0 ? "No calls" : shown.length === 1 ? "1 call" : `${shown.length} calls`;
  el.callList.hidden = shown.length === 0;
  // The calls speak for themselves; the last news shows when there are none.
  el.callsStatus.classList.toggle("sr-only", shown.length > 0);

  // A button that the new state hides took the focus with it: give it to
  // the call's next control, or to the heading when the call is gone.
  if (focused && (!focused.isConnected || focused.closest("[hidden]") || /** @type {any} */ (focused).disabled)) {
    const view = focusedCall ? calls.views.get(focusedCall) : undefined;
    (view && firstControl(view.li) || el.callsHeading).focus();
  }
}

/**
 * The first control of a container that is shown and enabled.
 *
 * @param {HTMLElement} root
 * @returns {HTMLElement | null}
 */
function firstControl(root) {
  return /** @type {HTMLElement | null} */ ([...root.querySelectorAll("button, input, select")]
    .find((e) => !(/** @type {any} */ (e).disabled) && !e.closest("[hidden]")) || null);
}

/** @param {string} text */
function announceCall(text) {
  el.callsStatus.textContent = text;
}

/** The data of a barge-in on a monitor dialog: the monitored agent is on its toAddress. */
function bargeData(call) {
  const watched = [...team.agents.values()].find((a) => a.user.extension && a.user.extension === call.toAddress);
  return {
    fromAddress: myExtension(),
    toAddress: call.toAddress,
    Username: watched ? watched.user.loginId : "",
    CallId: call.id,
  };
}

/**
 * Sends one request on a call. Its outcome arrives as CallsStateChange and
 * SetAgentState events; the request settles with the first of them. A
 * SetAPIError shows through its listener; other failures show here.
 *
 * @param {CallView} view
 * @param {HTMLButtonElement} b the button pressed
 * @param {string} topic
 * @param {string} subtopic
 * @param {object} data
 */
async function callRequest(view, b, topic, subtopic, data) {
  if (calls.pending.has(view.id) || b.disabled) {
    return;
  }
  hideNotice();
  calls.pending.add(view.id);
  b.setAttribute("aria-busy", "true");
  renderCalls();
  try {
    await bus.request("Cisco", topic, subtopic, data);
  } catch (err) {
    requestFailed(err);
  } finally {
    calls.pending.delete(view.id);
    b.removeAttribute("aria-busy");
    renderCalls();
  }
}

/**
 * Shows a failed request that the SetAPIError listener did not.
 *
 * @param {any} err a CtiBusError
 */
function requestFailed(err) {
  if (err.code === "api") {
    return;
  }
  if (err.code === "timeout") {
    showNotice("No answer", "The bus did not answer in time. Check the log, then try again.");
  } else {
    showNotice("Not sent", err.message);
  }
}

/**
 * Runs Ring me or Dial: its button waits for the answer.
 *
 * @param {HTMLButtonElement} b
 * @param {() => Promise<unknown>} send
 */
async function toolRequest(b, send) {
  if (calls.toolBusy || b.disabled) {
    return;
  }
  hideNotice();
  calls.toolBusy = true;
  b.setAttribute("aria-busy", "true");
  renderCalls();
  try {
    await send();
  } catch (err) {
    requestFailed(err);
  } finally {
    calls.toolBusy = false;
    b.removeAttribute("aria-busy");
    renderCalls();
  }
}

/** The call variables of the Ring me form that have a value. */
function ringVariables() {
  const vars = {};
  if (el.ringVar1.value.trim() !== "") {
    vars.callVariable1 = el.ringVar1.value.trim();
  }
  if (el.ringVar2.value.trim() !== "") {
    vars["user.acct"] = el.ringVar2.value.trim();
  }
  return vars;
}

el.ringForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const kind = el.ringKind.value;
  const vars = ringVariables();
  if (kind !== "inbound") {
    vars.BACampaign = "Demo campaign"; // a campaign's record carries Outbound Option's BA* variables
  }
  toolRequest(el.ringButton, () => bus.request("Cisco", "Simulator", "IncomingCall",
    { from: el.ringFrom.value.trim(), callVariables: vars, kind }));
});

el.dialForm.addEventListener("submit", (e) => {
  e.preventDefault();
  toolRequest(el.dialButton, () => bus.request("Cisco", "InboundCall", "SetMakeCall", { toAddress: el.dialTo.value.trim() }));
});

// ---- team (supervisors) -----------------------------------------------------

/**
 * The agents of the supervisor's teams: filled by Cisco/Team/GetTeamState
 * when a supervisor signs in, then kept current by the team feed.
 */
const team = {
  /** the loginId of the supervisor the list belongs to */
  owner: "",
  /** @type {Map<string, {teamId: string, user: any}>} by loginId */
  agents: new Map(),
  /** @type {Map<string, TeamRow>} rows on screen, by loginId */
  rows: new Map(),
  /** @type {Set<string>} agents with a request waiting for its answer */
  pending: new Set(),
};

/**
 * @typedef {object} TeamRow
 * @property {HTMLLIElement} li
 * @property {HTMLElement} initials
 * @property {HTMLElement} name
 * @property {HTMLElement} detail
 * @property {HTMLElement} state
 * @property {HTMLElement} reason
 * @property {HTMLElement} time
 * @property {HTMLElement} actions
 * @property {Record<string, HTMLButtonElement>} buttons
 * @property {any} user
 */

// The teams' state at sign-in (the answer to Cisco/Team/GetTeamState).
bus.on("Cisco/Team/SetTeamState", (ev) => {
  const m = ev.message || {};
  for (const u of Array.isArray(m.agents) ? m.agents : []) {
    if (u && u.loginId) {
      team.agents.set(String(u.loginId), { teamId: String(m.teamId || u.teamId || ""), user: u });
    }
  }
  renderTeam();
  renderCalls();
});

bus.on("Cisco/Team/SetTeamAgentState", (ev) => {
  const m = ev.message || {};
  const u = m.data;
  if (!u || !u.loginId) {
    return;
  }
  team.agents.set(String(u.loginId), { teamId: String(m.teamId || u.teamId || ""), user: u });
  renderTeam();
  renderCalls(); // a monitor dialog's Barge needs the agent's loginId
});

/**
 * The supervisor's buttons on a team row. Each is enabled in the states
 * the bus accepts it in.
 *
 * @type {Array<{key: string, label: string, className?: string,
 *   allowed: (u: any) => boolean, send: (u: any) => [string, string, object]}>}
 */
const TEAM_BUTTONS = [
  { key: "not-ready", label: "Not Ready", className: "btn-notready",
    allowed: (u) => ["READY", "WORK", "WORK_READY"].includes(u.state),
    send: (u) => ["Team", "SetTeamAgentNotReadyState",
      { UserName: u.loginId, State: "NotReady", ReasonCodeId: "-1" }] },
  { key: "sign-out", label: "Sign out", className: "btn-danger",
    allowed: (u) => u.state !== "LOGOUT",
    send: (u) => ["Team", "SetTeamAgentLogout", { UserName: u.loginId, State: "Logout" }] },
  { key: "monitor", label: "Monitor",
    allowed: (u) => u.state === "TALKING" && !monitorDialog(u) && !myLiveCall(),
    send: (u) => ["Team", "SetSilentMonitoring",
      { fromAddress: myExtension(), toAddress: u.extension, UserName: u.loginId }] },
  { key: "barge", label: "Barge in", className: "btn-primary",
    allowed: (u) => !!monitorDialog(u),
    send: (u) => ["InboundCall", "SetBARGE CALL",
      { ...bargeData(/** @type {any} */ (monitorDialog(u))), Username: u.loginId }] },
];

/** The supervisor's monitor dialog on an agent's call, if it may barge in. */
function monitorDialog(u) {
  return calls.list.find((c) => {
    const p = myParticipant(c);
    return u.extension && c.toAddress === u.extension && p && Array.isArray(p.actions) && p.actions.includes("BARGE_CALL");
  }) || null;
}

/** Whether the signed-in user is on a call (monitoring included). */
function myLiveCall() {
  return calls.list.some((c) => {
    const p = myParticipant(c);
    return p && !["DROPPED", "WRAP_UP"].includes(p.state);
  });
}

/** @param {string} loginId */
function createTeamRow(loginId) {
  const li = document.createElement("li");
  li.className = "team-agent";
  li.dataset.testid = "team-agent";
  li.dataset.loginId = loginId;

  const who = document.createElement("div");
  who.className = "ta-who";
  const avatar = document.createElement("div");
  avatar.className = "avatar avatar-sm";
  avatar.setAttribute("aria-hidden", "true");
  const text = document.createElement("div");
  text.className = "ta-text";
  const name = document.createElement("div");
  name.className = "ta-name";
  name.id = `team-${loginId}-name`;
  name.dataset.testid = "team-agent-name";
  const detail = document.createElement("div");
  detail.className = "muted small ta-detail";
  text.append(name, detail);
  who.append(avatar, text);

  const status = document.createElement("div");
  status.className = "ta-status";
  const state = span("state");
  state.dataset.testid = "team-agent-state";
  const reason = span("muted small ta-reason");
  const time = span("mono small ta-time");
  time.title = "Time in state";
  status.append(state, reason, time);

  const actions = document.createElement("div");
  actions.className = "ta-actions";
  /** @type {Record<string, HTMLButtonElement>} */
  const buttons = {};
  for (const def of TEAM_BUTTONS) {
    const b = button(def.label, `btn btn-small ${def.className || ""}`.trim());
    b.dataset.action = def.key;
    b.setAttribute("aria-describedby", name.id);
    b.addEventListener("click", () => {
      const row = team.rows.get(loginId);
      if (row) {
        teamRequest(loginId, b, ...def.send(row.user));
      }
    });
    buttons[def.key] = b;
    actions.append(b);
  }
  li.append(who, status, actions);
  return { li, initials: avatar, name, detail, state, reason, time, actions, buttons, user: null };
}

/**
 * Empties the team list, for a new sign-in or a sign-out.
 *
 * @param {string} owner the loginId of the supervisor now signed in, or ""
 */
function resetTeam(owner) {
  team.owner = owner;
  team.agents.clear();
  for (const row of team.rows.values()) {
    row.li.remove();
  }
  team.rows.clear();
}

function renderTeam() {
  const u = agent.user;
  const show = !!u && u.issupervisor === true && u.state !== "LOGOUT";
  el.teamCard.hidden = !show;
  if (!show) {
    return;
  }
  const live = agent.joined && bus.status === "open";
  el.teamCard.classList.toggle("stale", !agent.joined);
  const teams = Array.isArray(u.teams) ? u.teams : [];
  el.teamTeams.textContent = teams.length > 0 ? `Supervising ${teams.map((t) => `${t.name} (${t.id})`).join(", ")}` : "";

  const focused = document.activeElement instanceof HTMLElement && el.teamList.contains(document.activeElement)
    ? document.activeElement : null;
  const focusedRow = focused && /** @type {HTMLElement} */ (focused.closest(".team-agent")).dataset.loginId;

  const list = [...team.agents.entries()].sort(([, a], [, b]) =>
    `${a.user.firstName} ${a.user.lastName}`.localeCompare(`${b.user.firstName} ${b.user.lastName}`));
  list.forEach(([loginId, entry], i) => {
    let row = team.rows.get(loginId);
    if (!row) {
      row = createTeamRow(loginId);
      team.rows.set(loginId, row);
    }
    updateTeamRow(row, entry, loginId === u.loginId, live);
    if (el.teamList.children[i] !== row.li) {
      el.teamList.insertBefore(row.li, el.teamList.children[i] || null);
    }
  });
  if (focused && (focused.closest("[hidden]") || /** @type {any} */ (focused).disabled)) {
    const row = focusedRow ? team.rows.get(focusedRow) : undefined;
    (row && firstControl(row.li) || el.teamHeading).focus();
  }
}

/**
 * @param {TeamRow} row
 * @param {{teamId: string, user: any}} entry
 * @param {boolean} self the row is the supervisor's own
 * @param {boolean} live
 */
function updateTeamRow(row, entry, self, live) {
  const u = entry.user;
  row.user = u;
  const name = [u.firstName, u.lastName].filter(Boolean).join(" ") || u.loginName || u.loginId;
  row.li.dataset.state = u.state;
  row.initials.textContent = initials(name);
  row.name.replaceChildren(document.createTextNode(name), ...(self ? [span("you", "you")] : []));
  const teamName = ((agent.user && agent.user.teams) || []).find((t) => String(t.id) === entry.teamId);
  row.detail.textContent = [u.loginName, u.loginId, u.extension ? `ext ${u.extension}` : "",
    teamName ? teamName.name : entry.teamId].filter(Boolean).join(" · ");
  row.state.textContent = u.state;
  row.state.dataset.state = u.state;
  const reason = teamReason(u);
  row.reason.textContent = reason;
  row.reason.hidden = reason === "";
  renderTeamTime(row);
  const waiting = team.pending.has(u.loginId);
  // A supervisor's own state is the agent panel's, and it cannot monitor itself.
  row.actions.hidden = self;
  for (const def of TEAM_BUTTONS) {
    const b = row.buttons[def.key];
    b.disabled = !live || self || !def.allowed(u);
    b.setAttribute("aria-disabled", String(waiting));
  }
}

/** The reason code of a team agent's state, in words, or "". */
function teamReason(u) {
  if (u.ReasonCode && u.ReasonCode.label) {
    return u.ReasonCode.label;
  }
  if (!u.reasonCodeId || u.reasonCodeId === "-1") {
    return "";
  }
  if (String(u.reasonCodeId) === "999") {
    return "set by a supervisor";
  }
  const known = [...agent.reasons.NOT_READY, ...agent.reasons.LOGOUT].find((c) => c.id === String(u.reasonCodeId));
  return known ? known.label : `code ${u.reasonCodeId}`;
}

/** @param {TeamRow} row */
function renderTeamTime(row) {
  const since = row.user && Date.parse(row.user.stateChangeTime);
  row.time.textContent = since ? formatDuration(Date.now() - agent.clockSkew - since) : "";
}

/**
 * Sends one supervisor request about an agent. It settles with the first
 * event it causes in the supervisor's workspace: the team feed's
 * SetTeamAgentState, or the monitor dialog's CallsStateChange.
 *
 * @param {string} loginId
 * @param {HTMLButtonElement} b
 * @param {string} topic
 * @param {string} subtopic
 * @param {object} data
 */
async function teamRequest(loginId, b, topic, subtopic, data) {
  if (team.pending.has(loginId) || b.disabled) {
    return;
  }
  hideNotice();
  team.pending.add(loginId);
  b.setAttribute("aria-busy", "true");
  renderTeam();
  try {
    await bus.request("Cisco", topic, subtopic, data);
  } catch (err) {
    requestFailed(err);
  } finally {
    team.pending.delete(loginId);
    b.removeAttribute("aria-busy");
    renderTeam();
  }
}

setInterval(() => {
  for (const view of calls.views.values()) {
    renderCallTime(view);
  }
  for (const row of team.rows.values()) {
    renderTeamTime(row);
  }
}, 1000);

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
    group: "Cisco calls", name: "Simulator/IncomingCall (ring me)",
    make: () => cisco("Simulator", "IncomingCall", { from: el.ringFrom.value || "4085551234", callVariables: { callVariable1: "ACC-42", "user.acct": "42" } }),
  },
  { group: "Cisco calls", name: "InboundCall/SetMakeCall (dial)", make: () => cisco("InboundCall", "SetMakeCall", { toAddress: el.dialTo.value || "4085551234" }) },
  {
    group: "Cisco calls", name: "Simulator/IncomingCall (campaign preview)",
    make: () => cisco("Simulator", "IncomingCall", { from: el.ringFrom.value || "4085551234", kind: "preview", callVariables: { BACampaign: "Demo campaign", BAAccountNumber: "ACC-42" } }),
  },
  ...["SetAnswer", "SetHOLD", "SetRETRIEVE", "SetDROP"].map((sub) => ({
    group: "Cisco calls", name: `InboundCall/${sub}`, make: () => cisco("InboundCall", sub, { CallID: exampleCallID() }),
  })),
  ...["SetACCEPT", "SetREJECT", "SetCLOSE"].map((sub) => ({
    group: "Cisco calls", name: `OutboundCall/${sub} (preview)`, make: () => cisco("OutboundCall", sub, { CallID: exampleCallID() }),
  })),
  { group: "Cisco calls", name: "InboundCall/SetCONSULT", make: () => cisco("InboundCall", "SetCONSULT", { CallID: exampleCallID(), toAddress: "6123" }) },
  {
    group: "Cisco calls", name: "InboundCall/SetTRANSFER_SST (single step)",
    make: () => cisco("InboundCall", "SetTRANSFER_SST", { CallID: exampleCallID(), toAddress: "6123" }),
  },
  { group: "Cisco calls", name: "InboundCall/SetTRANSFER (complete a consult)", make: () => cisco("InboundCall", "SetTRANSFER", { CallID: exampleCallID() }) },
  { group: "Cisco calls", name: "InboundCall/SetCONFERENCE (complete a consult)", make: () => cisco("InboundCall", "SetCONFERENCE", { CallID: exampleCallID() }) },
  {
    group: "Cisco calls", name: "Agent/WrapUpCall",
    make: () => cisco("Agent", "WrapUpCall", { callID: exampleCallID(), wrapup: (calls.wrapUps[0] && calls.wrapUps[0].id) || "2", customwrapup: "", Iscustomwrapup: false }),
  },
  {
    group: "Cisco supervision", name: "Team/SetTeamAgentNotReadyState",
    make: () => cisco("Team", "SetTeamAgentNotReadyState", { UserName: exampleAgent().loginId, State: "NotReady", ReasonCodeId: "-1" }),
  },
  {
    group: "Cisco supervision", name: "Team/SetTeamAgentLogout",
    make: () => cisco("Team", "SetTeamAgentLogout", { UserName: exampleAgent().loginId, State: "Logout" }),
  },
  {
    group: "Cisco supervision", name: "Team/SetSilentMonitoring",
    make: () => cisco("Team", "SetSilentMonitoring", { fromAddress: myExtension() || "5090", toAddress: exampleAgent().extension, UserName: exampleAgent().loginId }),
  },
  {
    group: "Cisco supervision", name: "InboundCall/SetBARGE CALL",
    make: () => cisco("InboundCall", "SetBARGE CALL", {
      fromAddress: myExtension() || "5090", toAddress: exampleAgent().extension, Username: exampleAgent().loginId, CallId: exampleCallID(),
    }),
  },
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

/** The id of the agent's newest call, for a template; else an example. */
function exampleCallID() {
  const last = calls.list[calls.list.length - 1];
  return last ? String(last.id) : "16777217";
}

/** An agent of the supervisor's team, for a template; else the demo agent. */
function exampleAgent() {
  const first = [...team.agents.values()].find((a) => a.user.loginId !== (agent.user && agent.user.loginId));
  return first ? { loginId: String(first.user.loginId), extension: String(first.user.extension || "") } : { loginId: "100501", extension: "5064" };
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
