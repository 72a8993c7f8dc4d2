// The page's one connection to the bus, which its panels share.

import { CtiBus } from "../ctibus.js";

/** The name the page registers under. */
export const APP = "ctibus-test-page";

/** The bus's WebSocket endpoint, on the server that served the page. */
export const busURL = new URL("/ws", location.href);
busURL.protocol = location.protocol === "https:" ? "wss:" : "ws:";

export const bus = new CtiBus({
  url: busURL.href,
  app: APP,
  channels: ["Cisco"],
  // Everything in the page's scope, so that the log shows what other apps
  // in the agent's workspace publish too.
  subscriptions: [{ channel: "*", topic: "*", subtopic: "*" }],
});
