// widget.js is a sample widget: a screen-pop panel that lives in an iframe of
// the desktop page and only listens. It talks to the bus through the page
// (CtiBusWidget), with no connection, password or token of its own.
import { CtiBusWidget } from "./ctibus.js";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const bus = new CtiBusWidget({ app: "screenpop" });

bus.on("Cisco/Agent/SetAgentState", (ev) => {
  $("widget-agent").textContent = ev.message?.data?.state ?? "—";
});

bus.on("Cisco/Call/CallsStateChange", (ev) => {
  const calls = Array.isArray(ev.message?.calls) ? ev.message.calls : [];
  const call = calls.find((c) => c.state !== "DROPPED" && c.state !== "FAILED");
  $("pop").hidden = !call;
  $("pop-none").hidden = Boolean(call);
  if (!call) {
    return;
  }
  $("pop").dataset.state = call.state;
  $("pop").dataset.callId = call.id;
  $("pop-from").textContent = call.fromAddress;
  $("pop-state").textContent = call.state;
  const list = $("pop-variables");
  list.replaceChildren();
  for (const v of call.mediaProperties?.callvariables ?? []) {
    if (!v.value) {
      continue;
    }
    const dt = document.createElement("dt");
    dt.textContent = v.name;
    const dd = document.createElement("dd");
    dd.textContent = v.value;
    list.append(dt, dd);
  }
});

try {
  const name = await bus.connect();
  await Promise.all([
    bus.subscribe("Cisco", "Agent", "SetAgentState"),
    bus.subscribe("Cisco", "Call", "CallsStateChange"),
  ]);
  $("widget-status").textContent = `Listening through the desktop page as ${name}.`;
  $("widget-status").dataset.status = "open";
} catch (err) {
  $("widget-status").textContent = `Not connected: ${err instanceof Error ? err.message : String(err)}`;
  $("widget-status").dataset.status = "closed";
}
