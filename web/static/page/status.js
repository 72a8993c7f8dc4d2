// The page's header: the bus's address and the state of the connection.

import { bus, busURL } from "./bus.js";
import { $ } from "./dom.js";
import { connectionChanged } from "./agent.js";

/** The header's elements. */
const el = {
  busURL: $("bus-url"),
  status: $("conn-status"),
};

/** @param {import("../ctibus.js").StatusChange} change */
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

/** Shows the bus's address, and the connection's state as it changes. */
export function startStatus() {
  el.busURL.textContent = busURL.href;

  bus.onStatus((change) => {
    el.status.dataset.status = change.status;
    el.status.textContent = statusText(change);
    el.status.title = change.status === "closed" && change.code ? `Close code ${change.code}${change.reason ? `: ${change.reason}` : ""}` : "";
    connectionChanged(change);
  });
}
