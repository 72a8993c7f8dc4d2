// The calls panel: the agent's calls with their controls, and the Ring me
// and Dial tools of the simulator.

import { bus } from "./bus.js";
import { $, button, firstControl, formatDuration, span } from "./dom.js";
import { hideNotice, requestFailed, showNotice } from "./notice.js";
import { agent } from "./agent.js";
import { renderTeam, team } from "./team.js";

/** The calls panel's elements. */
const el = {
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
};

/**
 * What the page knows of the agent's calls. Each CallsStateChange lists all
 * of them, so the list is replaced, never merged.
 */
export const calls = {
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

/** The extension the agent is signed in on. */
export function myExtension() {
  return (agent.user && agent.user.extension) || "";
}

/** The agent's own participant in a call, or null. */
export function myParticipant(call) {
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

export function renderCalls() {
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

/** @param {string} text */
function announceCall(text) {
  el.callsStatus.textContent = text;
}

/** The data of a barge-in on a monitor dialog: the monitored agent is on its toAddress. */
export function bargeData(call) {
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

/**
 * What the Ring me and Dial forms hold, for the composer's templates.
 *
 * @returns {{from: string, to: string}}
 */
export function toolFields() {
  return { from: el.ringFrom.value, to: el.dialTo.value };
}

/** Follows the agent's calls and wires the Ring me and Dial tools. */
export function startCalls() {
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

  setInterval(() => {
    for (const view of calls.views.values()) {
      renderCallTime(view);
    }
  }, 1000);
}
