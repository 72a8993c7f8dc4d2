// The bus test page: signs an agent in on the Cisco channel, shows its state
// and its calls (and, for a supervisor, its teams' agents), logs every frame
// sent and received, and sends hand-written envelopes. It uses only
// ctibus.js, as any widget would.
//
// Each panel is a module of page/: it keeps its own state and elements, and
// its start function subscribes it to the bus. They start here in a fixed
// order, which is the order their listeners see each event in; the bus
// connects last, once every panel listens.

import { CtiBusHost } from "./ctibus.js";
import { bus } from "./page/bus.js";
import { startStatus } from "./page/status.js";
import { startAgent } from "./page/agent.js";
import { startNotices } from "./page/notice.js";
import { startCalls } from "./page/calls.js";
import { startTeam } from "./page/team.js";
import { startLog } from "./page/log.js";
import { startComposer } from "./page/composer.js";

// The widgets embedded in this page (the screen-pop sample) share its
// connection: the page relays the bus to the iframes of its own origin.
new CtiBusHost(bus, { widgetOrigins: [location.origin] });

startAgent();
startNotices();
startCalls();
startTeam();
startStatus();
startLog();
startComposer();
bus.connect();
