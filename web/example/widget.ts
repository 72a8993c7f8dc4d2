// An agent-state widget in TypeScript, written against the declarations
// of the ctibus package (web/static). CI packs the package, installs it
// beside this file and compiles it with tsc --noEmit, so that the types
// cannot drift from the contract without this failing. The lines under an
// expect-error directive must not compile: they show what the types catch.
import { CtiBus, CtiBusError, type AgentState, type EventOf, type State } from "ctibus";

const bus = new CtiBus({ url: "ws://127.0.0.1:8080/ws", app: "state-widget", channels: ["Cisco"] });

function show(state: State, reason: string): void {
  console.log(`agent ${state} (${reason})`);
}

// The listener's event is typed by the pattern: its message is AgentState.
bus.on("Cisco/Agent/SetAgentState", (ev) => {
  const user = ev.message.data;
  show(user.state, user.ReasonCode?.label ?? user.reasonCodeId);
  const changed: ("state" | "reasonCodeId" | "pendingState" | "extension")[] = ev.message.changed;
  console.log(changed, ev.correlationId ?? "caused by no request of this app");
  // @ts-expect-error: the User has no field "stat"
  console.log(user.stat);
});

// A wildcard pattern gives the union of the events it matches, told apart
// by their subtopic.
bus.on("Cisco/Call/*", (ev) => {
  if (ev.subtopic === "CallsStateChange") {
    for (const call of ev.message.calls) {
      console.log(call.id, call.state, call.mediaProperties.callType);
    }
  }
});

// The errors of the desktop's apps.
bus.on("Cisco/Error/SetAPIError", (ev) => {
  console.log(ev.message.data.errorType, ev.message.data.msg);
});

// A free channel's events carry a payload the contract does not know.
bus.on("CRM/Screenpop/*", (ev) => {
  console.log(ev.source, ev.message);
});

export async function signIn(username: string, password: string, extension: string): Promise<AgentState> {
  await bus.connect();
  try {
    // The data is typed by the request's triple; the answer by `expect`.
    const ev: EventOf<"Cisco/Agent/SetAgentState"> = await bus.request(
      "Cisco", "Agent", "SetUserInfo", { username, password, extension },
      { expect: "Cisco/Agent/SetAgentState" },
    );
    return ev.message;
  } catch (err) {
    if (err instanceof CtiBusError && err.code === "api") {
      console.log(err.errorType, err.msg);
    }
    throw err;
  }
}

export async function goReady(): Promise<void> {
  await bus.request("Cisco", "Agent", "SetReadyState");
  await bus.request("Cisco", "Agent", "SetNotReadyState", { ReasonCodeId: "2" });
  await bus.request("Cisco", "OutboundCall", "SetANSWER", { CallID: "16777217" });
  // @ts-expect-error: a sign-in needs a password
  await bus.request("Cisco", "Agent", "SetUserInfo", { username: "ciscotest", extension: "5064" });
  // @ts-expect-error: a call request names its call
  await bus.request("Cisco", "InboundCall", "SetHOLD", { MediaAddress: "5064" });
  // @ts-expect-error: a campaign call kind is one of inbound, preview or progressive
  await bus.request("Cisco", "Simulator", "IncomingCall", { from: "4085551234", kind: "predictive" });
}
