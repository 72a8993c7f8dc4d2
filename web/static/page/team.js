// The team panel, for a supervisor: the agents of the teams it supervises,
// kept current, with the supervisor's buttons on each.

import { bus } from "./bus.js";
import { $, button, firstControl, formatDuration, initials, span } from "./dom.js";
import { hideNotice, requestFailed } from "./notice.js";
import { agent } from "./agent.js";
import { bargeData, calls, myExtension, myParticipant, renderCalls } from "./calls.js";

/** The team panel's elements. */
const el = {
  teamCard: $("team-card"),
  teamHeading: $("team-heading"),
  teamTeams: $("team-teams"),
  teamList: $("team-list"),
};

/**
 * The agents of the supervisor's teams: filled by Cisco/Team/GetTeamState
 * when a supervisor signs in, then kept current by the team feed.
 */
export const team = {
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
export function resetTeam(owner) {
  team.owner = owner;
  team.agents.clear();
  for (const row of team.rows.values()) {
    row.li.remove();
  }
  team.rows.clear();
}

export function renderTeam() {
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

/** Follows the supervised teams' agents. */
export function startTeam() {
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

  setInterval(() => {
    for (const row of team.rows.values()) {
      renderTeamTime(row);
    }
  }, 1000);
}
