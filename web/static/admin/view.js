// Renders a snapshot of GET /api/admin/snapshot (docs/admin.md): the bus's
// counters and plots, the wallboard by team, the agents, the locked
// accounts and the cluster. Everything is set as text, never as HTML.

import { $, span, formatDuration } from "../page/dom.js";
import { drawPlot } from "./plot.js";

const el = {
  node: $("admin-node"),
  at: $("admin-at"),
  connections: $("count-connections"),
  agents: $("count-agents"),
  slow: $("count-slow"),
  limited: $("count-limited"),
  invalid: $("count-invalid"),
  plotConnections: /** @type {SVGSVGElement} */ (/** @type {unknown} */ ($("plot-connections"))),
  plotMessages: /** @type {SVGSVGElement} */ (/** @type {unknown} */ ($("plot-messages"))),
  topConnections: $("top-connections"),
  topMessages: $("top-messages"),
  wallboard: $("wallboard"),
  agentsBody: $("agents-body"),
  agentsNote: $("agents-note"),
  lockouts: $("lockouts"),
  cluster: $("cluster"),
};

/** @param {number | null} s */
const seconds = (s) => (s == null ? "—" : formatDuration(s * 1000));

/** @param {string} state */
function stateBadge(state) {
  const b = span("state", state);
  b.dataset.state = state;
  return b;
}

/** @param {string[]} cells */
function row(...cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    td.append(c);
    tr.append(td);
  }
  return tr;
}

/** @param {string} text */
function item(text) {
  const li = document.createElement("li");
  li.textContent = text;
  return li;
}

/** @param {any} snap */
export function render(snap) {
  el.node.textContent = `node ${snap.node}`;
  el.at.textContent = snap.at;
  el.connections.textContent = String(snap.counters.connections);
  el.agents.textContent = String(snap.agentsTotal);
  el.slow.textContent = String(snap.counters.slowConsumerDisconnects);
  el.limited.textContent = String(snap.counters.rateLimitedFrames);
  el.invalid.textContent = String(snap.counters.invalidFrames);

  el.topConnections.textContent = `max ${drawPlot(el.plotConnections, [{ values: snap.rates.connections, className: "line-conns" }])}`;
  el.topMessages.textContent = `max ${drawPlot(el.plotMessages, [
    { values: snap.rates.messagesIn, className: "line-in" },
    { values: snap.rates.messagesOut, className: "line-out" },
  ])}/s`;

  el.wallboard.replaceChildren(...snap.teams.map(teamCard));
  if (snap.teams.length === 0) {
    el.wallboard.append(span("muted", "No agent is signed in."));
  }

  el.agentsBody.replaceChildren(...snap.agents.map(agentRow));
  el.agentsNote.textContent = snap.agents.length < snap.agentsTotal
    ? `the first ${snap.agents.length} of ${snap.agentsTotal}` : "";

  const locks = [
    ...snap.lockouts.agents.map((l) => item(`agent ${l.name} until ${l.until}`)),
    ...snap.lockouts.apps.map((l) => item(`app ${l.name} until ${l.until}`)),
  ];
  if (snap.lockouts.unknownNames > 0) {
    locks.push(item(`${snap.lockouts.unknownNames} username(s) that name nobody`));
  }
  el.lockouts.replaceChildren(...(locks.length ? locks : [item("None.")]));

  if (!snap.cluster) {
    el.cluster.replaceChildren(item(`A node alone (${snap.node}): no cluster.`));
  } else {
    const c = snap.cluster;
    el.cluster.replaceChildren(...c.nodes.map((n) => {
      const li = item(n);
      li.dataset.node = n;
      if (n === c.leaseholder) {
        li.append(" ", span("state", "runs the contact center"));
      }
      return li;
    }));
    if (c.error) {
      el.cluster.append(item(c.error));
    }
  }
}

/** @param {any} team */
function teamCard(team) {
  const card = document.createElement("div");
  card.className = "team";
  card.dataset.teamId = team.teamId;
  card.dataset.testid = "team";
  const name = document.createElement("div");
  name.className = "team-name";
  name.textContent = `${team.teamName || "Team"} · ${team.teamId} · ${team.agents} agent${team.agents === 1 ? "" : "s"}`;
  const states = document.createElement("div");
  states.className = "team-states";
  for (const [state, n] of Object.entries(team.states).sort()) {
    const b = stateBadge(`${state} ${n}`);
    b.dataset.state = state;
    b.dataset.count = String(n);
    states.append(b);
  }
  const longest = document.createElement("div");
  longest.className = "team-longest";
  longest.dataset.testid = "team-longest";
  const l = team.longestNotReady;
  longest.textContent = l
    ? `Longest NOT_READY: ${l.name || l.loginId} ${formatDuration(l.seconds * 1000)}${l.reason ? ` (${l.reason})` : ""}`
    : "Nobody NOT_READY.";
  card.append(name, states, longest);
  return card;
}

/** @param {any} a */
function agentRow(a) {
  const who = span("", `${a.name} · ${a.loginId}`);
  const state = stateBadge(a.state);
  state.dataset.testid = "agent-state";
  const tr = row(who, state, a.reason || "—", seconds(a.secondsInState), a.extension,
    a.teamName ? `${a.teamName} (${a.teamId})` : a.teamId,
    a.nodes.map((n) => `${n.node}: ${n.apps}`).join(", ") || "—", String(a.apps));
  tr.dataset.testid = "agent-row";
  tr.dataset.loginId = a.loginId;
  tr.dataset.state = a.state;
  return tr;
}
