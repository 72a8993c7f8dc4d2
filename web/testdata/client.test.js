// Unit tests of ctibus.js, run in a real browser against a fake WebSocket and
// fake timers. The page reports to the DOM: #summary gets data-passed and
// data-failed, each case is an <li class="pass|fail">, and body gets
// data-done="true" when every case has run. window.ctibusTestResults holds
// the same as {passed, failed, failures: [{name, error}]}.

import { backoffDelay, CtiBus, CtiBusError, CtiBusHost, isAPIError, matches } from "../static/ctibus.js";

/** @type {Array<{name: string, fn: () => (void | Promise<void>)}>} */
const cases = [];

function test(name, fn) {
  cases.push({ name, fn });
}

class AssertionError extends Error {}

function assert(cond, msg) {
  if (!cond) {
    throw new AssertionError(msg);
  }
}

function equal(got, want, msg) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) {
    throw new AssertionError(`${msg}:\n  got  ${g}\n  want ${w}`);
  }
}

/** Lets every queued promise job and task run. */
function tick() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Tracks a promise so that a test can look at its outcome without awaiting it. */
function track(promise) {
  const t = { state: "pending", value: undefined, error: undefined };
  promise.then(
    (v) => Object.assign(t, { state: "resolved", value: v }),
    (e) => Object.assign(t, { state: "rejected", error: e }),
  );
  return t;
}

/** Timers that run only when the test advances the clock. */
class FakeClock {
  now = 0;
  #timers = new Map();
  #next = 1;

  setTimeout = (fn, ms) => {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, ms, fn });
    return id;
  };

  clearTimeout = (id) => {
    this.#timers.delete(id);
  };

  /** @returns {number[]} the delays of the timers not yet run, in start order */
  get delays() {
    return [...this.#timers.values()].map((t) => t.ms);
  }

  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      let first = null;
      for (const [id, t] of this.#timers) {
        if (t.at <= until && (first === null || t.at < first[1].at)) {
          first = [id, t];
        }
      }
      if (first === null) {
        break;
      }
      this.#timers.delete(first[0]);
      this.now = first[1].at;
      first[1].fn();
    }
    this.now = until;
  }
}

/** A WebSocket class whose instances the test opens, feeds and drops by hand. */
function fakeNetwork() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      /** @type {object[]} the frames sent, parsed */
      this.sent = [];
      this.closedWith = null;
      sockets.push(this);
    }

    send(text) {
      if (this.readyState !== 1) {
        throw new Error("InvalidStateError: the socket is not open");
      }
      this.sent.push(JSON.parse(text));
    }

    close(code = 1000, reason = "") {
      this.closedWith = { code, reason };
      this.readyState = 3;
    }

    accept() {
      this.readyState = 1;
      this.onopen?.({});
    }

    receive(ev) {
      this.onmessage?.({ data: typeof ev === "string" ? ev : JSON.stringify(ev) });
    }

    drop(code = 1006, reason = "") {
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean: false });
    }
  }
  return {
    FakeWebSocket,
    sockets,
    get last() {
      return sockets[sockets.length - 1];
    },
  };
}

let eventSeq = 0;

/** An event of the bus answering request, as the bus encodes it. */
function answer(request, triple, message = {}) {
  const [channel, topic, subtopic] = triple.split("/");
  return {
    id: `ev-${++eventSeq}`, channel, topic, subtopic, source: "ctibus", message,
    correlationId: request.id, timestamp: "2026-11-30T15:40:10.123Z",
  };
}

function apiError(request, channel, errorType, msg) {
  return answer(request, `${channel}/Error/SetAPIError`, {
    packet: "apierror", data: { errorType, errorMessage: errorType.toUpperCase(), msg },
  });
}

const triple = (f) => `${f.channel}/${f.topic}/${f.subtopic}`;

/** A client on fakes, with its status changes recorded. */
function setup(options = {}) {
  const clock = new FakeClock();
  const net = fakeNetwork();
  const bus = new CtiBus({
    url: "ws://bus.test/ws", app: "widget", WebSocket: net.FakeWebSocket,
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, random: () => 0.5,
    ...options,
  });
  const statuses = [];
  bus.onStatus((s) => statuses.push(s));
  return { bus, clock, net, statuses };
}

// --- backoff ---------------------------------------------------------------

test("backoffDelay: full jitter spans [0, min(cap, base*2^attempt))", () => {
  const base = 500;
  const cap = 30000;
  const ceilings = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  ceilings.forEach((ceiling, attempt) => {
    equal(backoffDelay(attempt, base, cap, () => 0), 0, `attempt ${attempt}, random 0`);
    equal(backoffDelay(attempt, base, cap, () => 0.5), ceiling / 2, `attempt ${attempt}, random 0.5`);
    equal(backoffDelay(attempt, base, cap, () => 0.999999), ceiling - 1, `attempt ${attempt}, random just under 1`);
  });
  equal(backoffDelay(5000, base, cap, () => 0.5), 15000, "a huge attempt count stays at the cap");
});

test("backoffDelay: real randomness covers the whole window", () => {
  const samples = Array.from({ length: 2000 }, () => backoffDelay(3, 500, 30000));
  assert(samples.every((d) => Number.isInteger(d) && d >= 0 && d < 4000), "every delay is a whole ms in [0, 4000)");
  assert(Math.min(...samples) < 400, `full jitter reaches near 0; smallest was ${Math.min(...samples)}`);
  assert(Math.max(...samples) > 3600, `and near the ceiling; largest was ${Math.max(...samples)}`);
});

// --- reconnect -------------------------------------------------------------

test("reconnects with delays that double up to the cap, and resets once open", () => {
  const { bus, clock, net, statuses } = setup({ backoffBase: 100, backoffCap: 1000, random: () => 0.999 });
  bus.connect();
  equal(net.sockets.length, 1, "connect opens a socket");
  equal(net.last.url, "ws://bus.test/ws", "to the url");
  equal(bus.status, "connecting", "status while the socket opens");

  const want = [99, 199, 399, 799, 999, 999];
  for (const delay of want) {
    const before = net.sockets.length;
    net.last.drop(1006);
    equal(bus.status, "closed", "status after a failed attempt");
    equal(statuses.at(-1).retryIn, delay, "the delay of the next attempt");
    equal(clock.delays, [delay], "one retry timer, with that delay");
    clock.advance(delay - 1);
    equal(net.sockets.length, before, "no attempt before the delay");
    clock.advance(1);
    equal(net.sockets.length, before + 1, "a new attempt after the delay");
  }

  net.last.accept();
  equal(bus.status, "open", "status once open");
  equal(statuses.at(-1), { status: "open", attempt: 0 }, "open resets the attempts");
  net.last.drop(1001, "going away");
  equal(statuses.at(-1), { status: "closed", attempt: 1, code: 1001, reason: "going away", retryIn: 99 },
    "the first failure after an open waits at most the base again");
});

test("status listeners hear connecting, open and closed with the close code", () => {
  const { bus, clock, net, statuses } = setup({ backoffBase: 1000 });
  bus.connect();
  net.last.accept();
  net.last.drop(4008, "slow consumer");
  clock.advance(500);
  equal(statuses, [
    { status: "connecting", attempt: 0 },
    { status: "open", attempt: 0 },
    { status: "closed", attempt: 1, code: 4008, reason: "slow consumer", retryIn: 500 },
    { status: "connecting", attempt: 1 },
  ], "status changes");
});

test("registers and subscribes again, in order, after every reconnect", async () => {
  const { bus, clock, net } = setup({
    channels: ["Cisco"],
    subscriptions: [{ channel: "CRM", topic: "Screenpop", subtopic: "*" }],
  });
  bus.connect();
  net.last.accept();
  const first = net.last.sent;
  equal(first.map(triple), ["PubSub/App/Register", "PubSub/Subscription/Subscribe"], "frames on open");
  equal(first[0].source, "widget", "Register names the app");
  equal(first[0].data, { channel: "Cisco" }, "Register names the channel");
  equal(first[1].data, { channel: "CRM", topic: "Screenpop", subtopic: "*" }, "Subscribe names the pattern");

  const media = track(bus.register("Media"));
  const agent = track(bus.subscribe("Cisco", "Agent", "*"));
  equal(net.last.sent.length, 4, "register and subscribe send at once while open");
  net.last.receive(answer(net.last.sent[2], "PubSub/App/Registered", { app: "widget", channel: "Media" }));
  net.last.receive(answer(net.last.sent[3], "PubSub/Subscription/Subscribed", {}));
  await tick();
  equal([media.state, agent.state], ["resolved", "resolved"], "both answered");
  equal(media.value.message.channel, "Media", "register resolves with Registered");

  net.last.drop(1001);
  clock.advance(1000);
  net.last.accept();
  equal(net.last.sent.map((f) => `${triple(f)} ${JSON.stringify(f.data)}`), [
    `PubSub/App/Register {"channel":"Cisco"}`,
    `PubSub/App/Register {"channel":"Media"}`,
    `PubSub/Subscription/Subscribe {"channel":"CRM","topic":"Screenpop","subtopic":"*"}`,
    `PubSub/Subscription/Subscribe {"channel":"Cisco","topic":"Agent","subtopic":"*"}`,
  ], "everything again after the reconnect");

  const unsubscribed = track(bus.unsubscribe("crm", "SCREENPOP", "*"));
  const unregistered = track(bus.unregister("MEDIA"));
  equal(net.last.sent.slice(4).map(triple), ["PubSub/Subscription/Unsubscribe", "PubSub/App/Unregister"],
    "unsubscribe and unregister are sent while open");
  net.last.drop(1006);
  await tick();
  equal([unsubscribed.state, unsubscribed.value, unregistered.state, unregistered.value], ["resolved", null, "resolved", null],
    "a drop before the answer resolves them with null: the new connection holds neither");
  clock.advance(1000);
  net.last.accept();
  equal(net.last.sent.map((f) => `${triple(f)} ${JSON.stringify(f.data)}`), [
    `PubSub/App/Register {"channel":"Cisco"}`,
    `PubSub/Subscription/Subscribe {"channel":"Cisco","topic":"Agent","subtopic":"*"}`,
  ], "what was withdrawn is forgotten, whatever its case");
});

test("the credential goes with every Register, after a reconnect too", async () => {
  const { bus, clock, net } = setup({ channels: ["Cisco"], credential: { token: "tok-1" } });
  bus.connect();
  net.last.accept();
  equal(net.last.sent[0].data, { channel: "Cisco", token: "tok-1" }, "the first Register");
  bus.register("Media");
  equal(net.last.sent[1].data, { channel: "Media", token: "tok-1" }, "a later Register");

  bus.setCredential({ token: "tok-2" });
  net.last.drop(1001);
  clock.advance(1000);
  net.last.accept();
  equal(net.last.sent.map((f) => f.data), [{ channel: "Cisco", token: "tok-2" }, { channel: "Media", token: "tok-2" }],
    "the new connection presents the newest credential");

  const refused = track(bus.register("CRM"));
  net.last.receive(apiError(net.last.sent[2], "PubSub", "Invalid Credentials", "This workspace token is not valid."));
  await tick();
  equal([refused.state, refused.error.errorType], ["rejected", "Invalid Credentials"], "a refused credential rejects");

  bus.setCredential(null);
  bus.register("Cisco");
  equal(net.last.sent.at(-1).data, { channel: "Cisco" }, "null presents nothing");
  for (const bad of [{}, { token: "" }, { token: "a", secret: "b" }, { password: "x" }, "tok"]) {
    let err = null;
    try {
      bus.setCredential(bad);
    } catch (e) {
      err = e;
    }
    assert(err instanceof TypeError, `${JSON.stringify(bad)} is refused`);
  }
});

test("register() before connect resolves once the bus answers", async () => {
  const { bus, net } = setup();
  const registered = track(bus.register("Cisco"));
  const opened = track(bus.connect());
  await tick();
  equal(registered.state, "pending", "waits for a connection");
  net.last.accept();
  await tick();
  equal(opened.state, "resolved", "connect() resolves once open");
  equal(net.last.sent.map(triple), ["PubSub/App/Register"], "sent on open");
  net.last.receive(answer(net.last.sent[0], "PubSub/App/Registered", { app: "widget", channel: "Cisco" }));
  await tick();
  equal(registered.state, "resolved", "resolves with the answer");
});

test("a registration cut off by a drop waits for the next connection", async () => {
  const { bus, clock, net } = setup();
  bus.connect();
  net.last.accept();
  const registered = track(bus.register("Cisco"));
  net.last.drop(1006);
  await tick();
  equal(registered.state, "pending", "still waiting");
  clock.advance(1000);
  net.last.accept();
  net.last.receive(answer(net.last.sent[0], "PubSub/App/Registered", {}));
  await tick();
  equal(registered.state, "resolved", "answered on the new connection");
});

test("a registration the bus refuses rejects and is forgotten", async () => {
  const { bus, clock, net } = setup();
  bus.connect();
  net.last.accept();
  const refused = track(bus.register("PubSub"));
  net.last.receive(apiError(net.last.sent[0], "PubSub", "Invalid Input", "PubSub needs no registration."));
  await tick();
  equal(refused.state, "rejected", "rejected");
  equal([refused.error.code, refused.error.errorType], ["api", "Invalid Input"], "with the bus's error");
  net.last.drop(1006);
  clock.advance(1000);
  net.last.accept();
  equal(net.last.sent.length, 0, "not sent again");
});

test("close() stops reconnecting and rejects what waits", async () => {
  const { bus, clock, net, statuses } = setup({ channels: ["Cisco"] });
  bus.connect();
  net.last.accept();
  const req = track(bus.request("Cisco", "Agent", "GetAgentState"));
  const later = track(bus.subscribe("CRM", "Screenpop", "Show"));
  bus.close();
  await tick();
  equal(net.last.closedWith, { code: 1000, reason: "" }, "the socket is closed normally");
  equal(statuses.at(-1), { status: "closed", attempt: 0, code: 1000, reason: "", retryIn: null }, "no retry planned");
  equal([req.state, req.error.code], ["rejected", "closed"], "the pending request rejects");
  equal([later.state, later.error.code], ["rejected", "closed"], "the pending subscription rejects");
  clock.advance(10 * 60 * 1000);
  equal(net.sockets.length, 1, "no new attempt");

  const waiting = track(bus.connect());
  bus.close();
  await tick();
  equal([waiting.state, waiting.error.code], ["rejected", "closed"], "a connect() still waiting rejects");
  bus.connect();
  net.last.accept();
  equal(net.last.sent.map(triple), ["PubSub/App/Register", "PubSub/Subscription/Subscribe"],
    "a later connect() registers and subscribes again");
});

test("without reconnect a drop is final", async () => {
  const { bus, clock, net, statuses } = setup({ reconnect: false });
  const opened = track(bus.connect());
  net.last.drop(1006);
  await tick();
  equal(statuses.at(-1).retryIn, null, "no retry planned");
  equal([opened.state, opened.error.code], ["rejected", "closed"], "connect() rejects");
  clock.advance(60000);
  equal(net.sockets.length, 1, "no new attempt");
});

// --- requests --------------------------------------------------------------

test("request sends a fresh id and resolves with the event correlated with it", async () => {
  const { bus, net } = setup();
  bus.connect();
  net.last.accept();
  const a = track(bus.request("Cisco", "Agent", "GetAgentState"));
  const b = track(bus.request("Cisco", "General", "GetSystemInfo", { verbose: true }));
  const [fa, fb] = net.last.sent;
  equal(Object.keys(fa).sort(), ["channel", "id", "source", "subtopic", "topic"], "no data key when there is no data");
  equal([fa.channel, fa.topic, fa.subtopic, fa.source], ["Cisco", "Agent", "GetAgentState", "widget"], "the envelope");
  equal(fb.data, { verbose: true }, "data as given");
  assert(typeof fa.id === "string" && fa.id !== "" && fa.id !== fb.id, `fresh ids: ${fa.id}, ${fb.id}`);

  net.last.receive(answer({ id: "someone-else" }, "Cisco/Agent/SetAgentState"));
  net.last.receive(answer(fb, "Cisco/General/SetSystemInfo", { packet: "systeminfo" }));
  await tick();
  equal([a.state, b.state], ["pending", "resolved"], "only the correlated request resolves");
  equal(b.value.message, { packet: "systeminfo" }, "with its event");
  net.last.receive(answer(fa, "Cisco/Agent/SetAgentState", { data: { state: "READY" } }));
  await tick();
  equal([a.state, a.value.message.data.state], ["resolved", "READY"], "the other resolves with its own event");
});

test("request with expect waits for the matching event", async () => {
  const { bus, net } = setup();
  bus.connect();
  net.last.accept();
  const login = track(bus.request("Cisco", "Agent", "SetUserInfo", { username: "u", password: "p", extension: "1" },
    { expect: "Cisco/Agent/SetAgentState" }));
  const frame = net.last.sent[0];
  net.last.receive(answer(frame, "Cisco/Connection/OpenConnection"));
  net.last.receive(answer(frame, "Cisco/Connection/SetConnectionStatus"));
  await tick();
  equal(login.state, "pending", "correlated events of other triples do not answer");
  net.last.receive(answer(frame, "cisco/AGENT/setagentstate", { data: { state: "NOT_READY" } }));
  await tick();
  equal([login.state, login.value.subtopic], ["resolved", "setagentstate"], "the expected event answers, in any case");
});

test("a SetAPIError answer rejects with errorType, errorMessage and msg", async () => {
  const { bus, net } = setup();
  bus.connect();
  net.last.accept();
  const login = track(bus.request("Cisco", "Agent", "SetUserInfo", {}, { expect: "Cisco/Agent/SetAgentState" }));
  const msg = "This account is locked after too many failed sign-ins. Try again in 300 seconds.";
  const ev = apiError(net.last.sent[0], "Cisco", "Account Locked", msg);
  net.last.receive(ev);
  await tick();
  equal(login.state, "rejected", "rejected although another event was expected");
  const err = login.error;
  assert(err instanceof CtiBusError && err instanceof Error, "a CtiBusError");
  equal([err.code, err.errorType, err.errorMessage, err.msg, err.message], ["api", "Account Locked", "ACCOUNT LOCKED", msg, msg],
    "the error's fields");
  equal(err.event.id, ev.id, "the event itself");
  assert(isAPIError(ev), "isAPIError knows it");
});

test("a request times out, and a late answer is only heard by listeners", async () => {
  const { bus, clock, net } = setup({ requestTimeout: 5000 });
  bus.connect();
  net.last.accept();
  const short = track(bus.request("Cisco", "Agent", "GetAgentState", undefined, { timeout: 2000 }));
  const usual = track(bus.request("Cisco", "Agent", "GetAgentState"));
  const forever = track(bus.request("Cisco", "Agent", "GetAgentState", undefined, { timeout: 0 }));
  clock.advance(1999);
  await tick();
  equal(short.state, "pending", "pending before its timeout");
  clock.advance(1);
  await tick();
  equal([short.state, short.error.code], ["rejected", "timeout"], "rejected at its timeout");
  assert(short.error.message.includes("Cisco/Agent/GetAgentState"), `the message names the request: ${short.error.message}`);
  clock.advance(3000);
  await tick();
  equal([usual.state, usual.error.code], ["rejected", "timeout"], "the default timeout is the client's");
  clock.advance(3600 * 1000);
  await tick();
  equal(forever.state, "pending", "timeout 0 waits forever");

  const heard = [];
  bus.on("Cisco/Agent/SetAgentState", (ev) => heard.push(ev.correlationId));
  net.last.receive(answer(net.last.sent[0], "Cisco/Agent/SetAgentState"));
  equal(heard, [net.last.sent[0].id], "a listener still hears the late answer");
  equal(clock.delays, [], "no timer is left behind");
});

test("an answer stops the request's timer", async () => {
  const { bus, clock, net } = setup();
  bus.connect();
  net.last.accept();
  const done = track(bus.request("Cisco", "Agent", "GetAgentState", undefined, { timeout: 1000 }));
  equal(clock.delays, [1000], "a timer runs");
  net.last.receive(answer(net.last.sent[0], "Cisco/Agent/SetAgentState"));
  await tick();
  equal([done.state, clock.delays], ["resolved", []], "resolved, and the timer is gone");
});

test("a dropped connection rejects the requests waiting on it", async () => {
  const { bus, net } = setup();
  bus.connect();
  net.last.accept();
  const pending = track(bus.request("Cisco", "Agent", "GetAgentState"));
  net.last.drop(1006);
  await tick();
  equal([pending.state, pending.error.code], ["rejected", "closed"], "rejected");
  assert(pending.error.message.includes("1006"), `the message has the close code: ${pending.error.message}`);
});

test("nothing is sent or queued while disconnected", async () => {
  const { bus, net } = setup({ channels: ["Cisco"] });
  const creds = { username: "ciscotest", password: "s3cret!", extension: "5064" };
  const before = track(bus.request("Cisco", "Agent", "SetUserInfo", creds));
  await tick();
  equal([before.state, before.error?.code], ["rejected", "not-connected"], "a request before connect rejects");
  assert(before.error.message.includes("Cisco/Agent/SetUserInfo"), `the message names it: ${before.error.message}`);

  bus.connect();
  const connecting = track(bus.request("Cisco", "Agent", "SetUserInfo", creds));
  let thrown = null;
  try {
    bus.publish("CRM", "Screenpop", "Show", { phone: "5551234" });
  } catch (err) {
    thrown = err;
  }
  await tick();
  equal([connecting.state, connecting.error?.code], ["rejected", "not-connected"], "a request while connecting rejects");
  equal(thrown?.code, "not-connected", "publish throws");
  try {
    bus.send({ channel: "Cisco", topic: "Agent", subtopic: "SetUserInfo", data: creds });
    thrown = null;
  } catch (err) {
    thrown = err;
  }
  equal(thrown?.code, "not-connected", "send throws");

  net.last.accept();
  equal(net.last.sent.map(triple), ["PubSub/App/Register"], "only the registration is sent on open");
  assert(!JSON.stringify(net.last.sent).includes("s3cret!"), "the password was never queued");
});

test("publish sends the app as source and returns the id", () => {
  const { bus, net } = setup();
  bus.connect();
  net.last.accept();
  const id = bus.publish("CRM", "Screenpop", "Show", { phone: "5551234" });
  equal(net.last.sent[0], { id, channel: "CRM", topic: "Screenpop", subtopic: "Show", source: "widget", data: { phone: "5551234" } },
    "the frame");
  bus.send({ channel: "X", topic: "Y", subtopic: "Z" });
  equal(net.last.sent[1], { channel: "X", topic: "Y", subtopic: "Z" }, "send adds nothing");
});

test("onSent hears a copy of each frame sent", () => {
  const { bus, net } = setup();
  const seen = [];
  const off = bus.onSent((f) => {
    seen.push(triple(f));
    f.channel = "changed";
  });
  bus.connect();
  net.last.accept();
  bus.publish("CRM", "Screenpop", "Show");
  off();
  bus.publish("CRM", "Screenpop", "Hide");
  equal(seen, ["CRM/Screenpop/Show"], "heard until off");
  equal(net.last.sent[0].channel, "CRM", "a listener cannot change what was sent");
});

// --- listeners -------------------------------------------------------------

test("patterns match ignoring case, and * is one whole segment", () => {
  const ev = { channel: "Cisco", topic: "Agent", subtopic: "SetAgentState" };
  const tests = [
    ["Cisco/Agent/SetAgentState", true],
    ["cisco/AGENT/setagentstate", true],
    ["Cisco/Agent/*", true],
    ["*/*/*", true],
    ["*/Agent/*", true],
    ["Cisco/Call/*", false],
    ["Cisco/Agent/SetAgent", false],
    ["CRM/*/*", false],
  ];
  for (const [pattern, want] of tests) {
    equal(matches(pattern, ev), want, pattern);
  }
  for (const bad of ["Cisco/*", "Cisco/Agent/*/x", "Cisco//x", "", undefined]) {
    let err = null;
    try {
      matches(bad, ev);
    } catch (e) {
      err = e;
    }
    assert(err instanceof TypeError, `${JSON.stringify(bad)} is refused`);
  }
});

test("on() delivers matching events until its off function is called", () => {
  const { bus, net } = setup();
  const agent = [];
  const all = [];
  const off = bus.on("Cisco/Agent/*", (ev) => agent.push(ev.subtopic));
  bus.on("*/*/*", (ev) => all.push(ev.subtopic));
  bus.connect();
  net.last.accept();
  net.last.receive(answer({}, "Cisco/Agent/SetAgentState"));
  net.last.receive(answer({}, "CISCO/agent/Login"));
  net.last.receive(answer({}, "Cisco/Call/CallsStateChange"));
  off();
  net.last.receive(answer({}, "Cisco/Agent/SetWrapupCode"));
  net.last.receive("not json");
  equal(agent, ["SetAgentState", "Login"], "the pattern's events until off");
  equal(all, ["SetAgentState", "Login", "CallsStateChange", "SetWrapupCode"], "*/*/* hears everything");
  let err = null;
  try {
    bus.on("Cisco/Agent", () => {});
  } catch (e) {
    err = e;
  }
  assert(err instanceof TypeError, "a bad pattern is refused at once");
});

test("a listener that throws is reported and does not stop the others", () => {
  const { bus, net } = setup();
  const reported = [];
  const saved = globalThis.reportError;
  globalThis.reportError = (e) => reported.push(e.message);
  try {
    const heard = [];
    bus.on("*/*/*", () => {
      throw new Error("widget bug");
    });
    bus.on("*/*/*", (ev) => heard.push(ev.subtopic));
    bus.onStatus(() => {
      throw new Error("status bug");
    });
    bus.connect();
    net.last.accept();
    net.last.receive(answer({}, "Cisco/Agent/Login"));
    equal(heard, ["Login"], "the second listener still hears it");
    equal(reported, ["status bug", "status bug", "widget bug"], "the exceptions are reported");
  } finally {
    globalThis.reportError = saved;
  }
});

test("the constructor wants a url and an app name", () => {
  for (const opts of [undefined, {}, { url: "ws://x/ws" }, { app: "a" }, { url: "", app: "a" }]) {
    let err = null;
    try {
      new CtiBus(opts);
    } catch (e) {
      err = e;
    }
    assert(err instanceof TypeError, `${JSON.stringify(opts)} is refused`);
  }
  const bus = new CtiBus({ url: "ws://x/ws", app: "a" });
  equal([bus.status, bus.app], ["closed", "a"], "a new client is closed until connect()");
});

// --- the widget bridge -----------------------------------------------------

/** A widget's window: it records what the host posts to it. */
function fakeWidgetWindow() {
  return { closed: false, posted: [], postMessage(msg, origin) { this.posted.push({ msg, origin }); } };
}

/**
 * A host page with the given iframes ({app?, win}) on a fake window, over a
 * connected client on fakes; send(win, origin, body) delivers a message from
 * a widget.
 */
function hostSetup(frames, options = {}) {
  const { bus, net } = setup({ channels: ["Cisco"] });
  bus.connect();
  net.last.accept();
  const listeners = [];
  const page = {
    location: { origin: "https://desk.test" },
    addEventListener: (type, fn) => listeners.push(fn),
    removeEventListener: () => {},
    document: {
      querySelectorAll: () => frames.map((f) => ({ contentWindow: f.win, dataset: f.app ? { ctibusApp: f.app } : {} })),
    },
  };
  const host = new CtiBusHost(bus, { window: page, ...options });
  const send = (win, origin, body) => {
    for (const fn of listeners) {
      fn({ source: win, origin, data: { "ctibus-bridge": 1, ...body } });
    }
  };
  return { bus, net, host, send };
}

const bridged = (win) => win.posted.map((p) => ({ type: p.msg.type, origin: p.origin, app: p.msg.app, id: p.msg.id,
  event: p.msg.event && p.msg.event.subtopic, source: p.msg.event && p.msg.event.source, error: p.msg.error && p.msg.error.errorType }));

test("the host welcomes only its own iframes of an allowed origin, under the name it gives", () => {
  const mine = fakeWidgetWindow();
  const foreign = fakeWidgetWindow();
  const stranger = fakeWidgetWindow(); // not an iframe of the page
  const { host, send } = hostSetup([{ app: "screenpop", win: mine }, { win: foreign }]);
  send(mine, "https://desk.test", { type: "hello", app: "softphone" });
  send(foreign, "https://evil.test", { type: "hello", app: "screenpop" });
  send(stranger, "https://desk.test", { type: "hello", app: "crm" });
  equal(bridged(mine), [{ type: "welcome", origin: "https://desk.test", app: "screenpop" }], "named by the page, posted to its origin");
  equal(foreign.posted, [], "a foreign origin gets nothing");
  equal(stranger.posted, [], "a window that is not the page's iframe gets nothing");
  equal(host.widgets, ["screenpop"], "one widget");
  send(foreign, "https://evil.test", { type: "subscribe", id: "s", channel: "*", topic: "*", subtopic: "*" });
  equal(foreign.posted, [], "nor after asking for everything");
});

test("the host relays to each widget what it subscribed to, never PubSub, with the publisher's name stamped", () => {
  const a = fakeWidgetWindow();
  const b = fakeWidgetWindow();
  const { net, send } = hostSetup([{ app: "screenpop", win: a }, { app: "notes", win: b }]);
  send(a, "https://desk.test", { type: "hello" });
  send(b, "https://desk.test", { type: "hello" });
  send(a, "https://desk.test", { type: "subscribe", id: "s1", channel: "Cisco", topic: "Call", subtopic: "*" });
  send(b, "https://desk.test", { type: "subscribe", id: "s2", channel: "*", topic: "*", subtopic: "*" });
  const sentBefore = net.last.sent.length;
  net.last.receive(answer({}, "Cisco/Call/CallsStateChange", { calls: [] }));
  net.last.receive(answer({}, "PubSub/Workspace/Token", { token: "secret-token" }));
  net.last.receive(answer({}, "Cisco/Agent/SetAgentState", {}));
  send(a, "https://desk.test", { type: "publish", id: "p", channel: "Notes", topic: "Memo", subtopic: "Post", data: { text: "hi" }, source: "notes" });
  equal(bridged(a).filter((m) => m.type === "event").map((m) => m.event), ["CallsStateChange"], "screenpop: its pattern only");
  equal(bridged(b).filter((m) => m.type === "event").map((m) => `${m.event} from ${m.source}`),
    ["CallsStateChange from ctibus", "SetAgentState from ctibus", "Post from screenpop"], "notes: no PubSub, the host's stamp");
  const published = net.last.sent.slice(sentBefore).find((f) => f.channel === "Notes");
  equal(published && published.source, "widget", "on the bus, in the page's name");
});

test("the host refuses a widget's sign-in and PubSub requests, and forwards the others", async () => {
  const w = fakeWidgetWindow();
  const { net, send } = hostSetup([{ app: "screenpop", win: w }]);
  send(w, "https://desk.test", { type: "hello" });
  send(w, "https://desk.test", { type: "request", id: "r1", channel: "Cisco", topic: "Agent", subtopic: "SetUserInfo",
    data: { username: "x", password: "y", extension: "5064" } });
  send(w, "https://desk.test", { type: "request", id: "r2", channel: "PubSub", topic: "App", subtopic: "Register", data: { channel: "X" } });
  equal(bridged(w).filter((m) => m.type === "error").map((m) => `${m.id} ${m.error}`), ["r1 Forbidden", "r2 Forbidden"], "refused");
  assert(!net.last.sent.some((f) => f.subtopic === "SetUserInfo"), "no sign-in reached the bus");
  send(w, "https://desk.test", { type: "request", id: "r3", channel: "Cisco", topic: "General", subtopic: "GetAppState" });
  const sent = net.last.sent.find((f) => f.subtopic === "GetAppState");
  assert(sent, "the request went over the page's connection");
  net.last.receive(answer(sent, "Cisco/General/GetAppState", { ctiState: { State: "LOGOUT" } }));
  await tick();
  equal(bridged(w).filter((m) => m.type === "answer" && m.id === "r3").map((m) => m.event), ["GetAppState"], "answered");
});

test("the host refuses a wildcard origin", () => {
  let err = null;
  try {
    hostSetup([], { widgetOrigins: ["*"] });
  } catch (e) {
    err = e;
  }
  assert(err instanceof TypeError, "a TypeError");
});

// --- runner ----------------------------------------------------------------

const perCaseTimeout = 5000;

async function runAll() {
  const list = document.getElementById("results");
  const failures = [];
  let passed = 0;
  for (const c of cases) {
    let error = null;
    try {
      await Promise.race([
        Promise.resolve().then(c.fn),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`did not finish within ${perCaseTimeout} ms`)), perCaseTimeout)),
      ]);
    } catch (err) {
      error = err instanceof AssertionError ? err.message : String(err && err.stack ? err.stack : err);
    }
    const li = document.createElement("li");
    li.dataset.testid = "case";
    if (error === null) {
      passed++;
      li.className = "pass";
      li.textContent = `ok  ${c.name}`;
    } else {
      failures.push({ name: c.name, error });
      li.className = "fail";
      li.textContent = `FAIL  ${c.name}\n${error}`;
    }
    list.append(li);
  }
  const summary = document.getElementById("summary");
  summary.dataset.passed = String(passed);
  summary.dataset.failed = String(failures.length);
  summary.textContent = `${passed} passed, ${failures.length} failed`;
  window.ctibusTestResults = { passed, failed: failures.length, failures };
  document.body.dataset.done = "true";
}

runAll();
