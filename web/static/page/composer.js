// The composer: sends a hand-written envelope, exactly as written, starting
// from a template of each documented request.

import { APP, bus } from "./bus.js";
import { $ } from "./dom.js";
import { hideNotice } from "./notice.js";
import { agent, firstReason, signInFields } from "./agent.js";
import { calls, myExtension, toolFields } from "./calls.js";
import { team } from "./team.js";

/** The composer's elements. */
const el = {
  composer: /** @type {HTMLFormElement} */ ($("composer")),
  template: /** @type {HTMLSelectElement} */ ($("composer-template")),
  text: /** @type {HTMLTextAreaElement} */ ($("composer-text")),
  composerError: $("composer-error"),
};

let composed = 0;

/** The documented requests, as envelopes to start from. */
const templates = [
  {
    group: "Cisco", name: "Agent/SetUserInfo (sign in)",
    make: () => cisco("Agent", "SetUserInfo", signInFields()),
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
    make: () => cisco("Simulator", "IncomingCall", { from: toolFields().from || "4085551234", callVariables: { callVariable1: "ACC-42", "user.acct": "42" } }),
  },
  { group: "Cisco calls", name: "InboundCall/SetMakeCall (dial)", make: () => cisco("InboundCall", "SetMakeCall", { toAddress: toolFields().to || "4085551234" }) },
  {
    group: "Cisco calls", name: "Simulator/IncomingCall (campaign preview)",
    make: () => cisco("Simulator", "IncomingCall", { from: toolFields().from || "4085551234", kind: "preview", callVariables: { BACampaign: "Demo campaign", BAAccountNumber: "ACC-42" } }),
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

function fillTemplate() {
  const t = templates[Number(el.template.value)];
  if (t) {
    el.text.value = JSON.stringify(t.make(), null, 2);
    el.composerError.hidden = true;
  }
}

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

/** Fills the template list and wires the composer. */
export function startComposer() {
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
}
