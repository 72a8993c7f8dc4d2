// The agent panel: the sign-in form, then the agent's state, its reason
// codes, its workspace token and the Ready, Not Ready and Logout buttons.

import { bus } from "./bus.js";
import { $, formatDuration, initials } from "./dom.js";
import { hideNotice, requestFailed, showNotice } from "./notice.js";
import { renderCalls } from "./calls.js";
import { renderTeam, resetTeam, team } from "./team.js";

/** How long a sign-in may take: it reads everything its 15 events describe. */
const SIGN_IN_TIMEOUT = 15000;

/** The agent panel's and the sign-in form's elements. */
const el = {
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
};

/** What the page knows of the agent. */
export const agent = {
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
export function renderAgent() {
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

function renderTime() {
  const since = agent.user && Date.parse(agent.user.stateChangeTime);
  if (!since) {
    el.time.textContent = "—";
    return;
  }
  el.time.textContent = formatDuration(Date.now() - agent.clockSkew - since);
}

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

/**
 * What the sign-in form holds, for the composer's template.
 *
 * @returns {{username: string, password: string, extension: string}}
 */
export function signInFields() {
  return { username: el.username.value, password: el.password.value, extension: el.ext.value };
}

/** The reason code chosen in the panel, else the first known, else fallback. */
export function firstReason(category, fallback) {
  const select = category === "NOT_READY" ? el.notReadyReason : el.logoutReason;
  return select.value || (agent.reasons[category][0] && agent.reasons[category][0].id) || fallback;
}

/**
 * Follows the connection: a new connection starts outside the agent's
 * workspace, and the sign-in form waits for an open one.
 *
 * @param {import("../ctibus.js").StatusChange} change
 */
export function connectionChanged(change) {
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
}

/** Follows the agent's events and wires the panel's buttons and the sign-in form. */
export function startAgent() {
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

  setInterval(renderTime, 1000);

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

  el.loginButton.disabled = true; // until the connection opens
}
