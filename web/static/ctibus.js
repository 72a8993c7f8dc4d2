// ctibus.js is the browser client of the ctibus message bus: an ES module
// with no dependencies and no build step. docs/client.md describes it with a
// complete example.
//
//	import { CtiBus } from "/ctibus.js";
//	const bus = new CtiBus({ url: "ws://127.0.0.1:8080/ws", app: "softphone", channels: ["Cisco"] });
//	bus.on("Cisco/Agent/SetAgentState", (ev) => console.log(ev.message.data.state));
//	await bus.connect();
//	await bus.request("Cisco", "Agent", "SetUserInfo", { username, password, extension },
//	  { expect: "Cisco/Agent/SetAgentState" });

/**
 * An envelope that the bus sends to apps.
 *
 * @typedef {object} BusEvent
 * @property {string} id             unique id the bus gave the event
 * @property {string} channel        for example "Cisco"
 * @property {string} topic          for example "Agent"
 * @property {string} subtopic       for example "SetAgentState"
 * @property {string} source         the app that caused the event; "ctibus" for the bus's own
 * @property {*} message             the payload
 * @property {string} [correlationId] the id of the request that caused the event
 * @property {string} timestamp      when the bus sent it: ISO-8601 UTC with milliseconds
 */

/**
 * An envelope that an app sends to the bus.
 *
 * @typedef {object} BusRequest
 * @property {string} [id]       echoed as the correlationId of the events it causes
 * @property {string} channel
 * @property {string} topic
 * @property {string} subtopic
 * @property {string} [source]   the app's name
 * @property {*} [data]          the payload
 */

/**
 * A subscription pattern: each segment is a name, matched ignoring case, or
 * "*" for any one segment.
 *
 * @typedef {object} Subscription
 * @property {string} channel
 * @property {string} topic
 * @property {string} subtopic
 */

/**
 * The state of the connection to the bus.
 *
 * - "connecting": a WebSocket is being opened.
 * - "open": the WebSocket is open and the registrations and subscriptions
 *   have been sent again.
 * - "closed": no WebSocket is open; {@link StatusChange.retryIn} says when the
 *   next attempt starts, or is null when the client will not retry.
 *
 * @typedef {"connecting" | "open" | "closed"} ConnectionStatus
 */

/**
 * What a status listener receives.
 *
 * @typedef {object} StatusChange
 * @property {ConnectionStatus} status
 * @property {number} attempt          consecutive attempts that failed before this change; 0 once open
 * @property {number} [code]           the WebSocket close code, when status is "closed"
 * @property {string} [reason]         the close reason, when status is "closed"
 * @property {number | null} [retryIn] milliseconds until the next attempt, when status is
 *                                     "closed"; null when the client will not retry
 */

/**
 * What an app presents when it registers, one of:
 *
 * - `token`: the agent's workspace token, from the PubSub/Workspace/Token
 *   event the signing-in app receives. Another app of the same desktop joins
 *   the agent's workspace with it, without the password.
 * - `secret` or `jwt`: a server-side app's credential from the server's apps
 *   file. Keep these out of pages that agents can read.
 *
 * @typedef {{token: string} | {secret: string} | {jwt: string}} Credential
 */

/**
 * Options of {@link CtiBus}.
 *
 * @typedef {object} CtiBusOptions
 * @property {string} url                 the bus's WebSocket endpoint, such as "ws://127.0.0.1:8080/ws"
 * @property {string} app                 the app's name: the "source" of every request and the name it registers under
 * @property {string[]} [channels]        channels to register on, at every connect
 * @property {Credential} [credential]    presented with every PubSub/App/Register, so that a new connection is admitted again
 * @property {Subscription[]} [subscriptions] patterns to subscribe to, at every connect
 * @property {boolean} [reconnect=true]   open a new connection when one closes
 * @property {number} [backoffBase=500]   milliseconds: the ceiling of the first retry delay
 * @property {number} [backoffCap=30000]  milliseconds: the largest retry delay
 * @property {number} [requestTimeout=10000] milliseconds a request waits for its answer by default; 0 waits forever
 * @property {{new (url: string): WebSocket}} [WebSocket] the WebSocket class; tests pass a fake
 * @property {() => number} [random]      a number in [0, 1), for the jitter; default Math.random
 * @property {(fn: () => void, ms: number) => *} [setTimeout]   starts a timer; default globalThis.setTimeout
 * @property {(handle: *) => void} [clearTimeout]               stops a timer; default globalThis.clearTimeout
 */

/**
 * Options of {@link CtiBus#request}.
 *
 * @typedef {object} RequestOptions
 * @property {number} [timeout] milliseconds to wait for the answer; 0 waits forever;
 *                              default the client's requestTimeout
 * @property {string} [expect]  a pattern such as "Cisco/Agent/SetAgentState": resolve with
 *                              the first correlated event that matches it, not merely the first
 */

/**
 * Why a request, a publish or a registration failed:
 *
 * - "api": the bus answered with a SetAPIError; see errorType, errorMessage and msg.
 * - "timeout": no answer came in time.
 * - "not-connected": the connection is not open, so nothing was sent. The
 *   client never queues a frame for later: it may hold a password.
 * - "closed": the connection closed, or close() was called, before the answer came.
 * - "cancelled": a registration or subscription waiting for a connection was withdrawn.
 *
 * @typedef {"api" | "timeout" | "not-connected" | "closed" | "cancelled"} CtiBusErrorCode
 */

/** The WebSocket readyState of an open socket. */
const OPEN = 1;

/** The close code the client sends when close() is given none. */
const NORMAL_CLOSURE = 1000;

/** The error every request rejects with. */
export class CtiBusError extends Error {
  /**
   * @param {CtiBusErrorCode} code
   * @param {string} message
   * @param {{errorType?: string, errorMessage?: string, msg?: string, event?: BusEvent}} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = "CtiBusError";
    /** @type {CtiBusErrorCode} why it failed */
    this.code = code;
    /** @type {string | undefined} the category of a SetAPIError, such as "Account Locked" */
    this.errorType = details.errorType;
    /** @type {string | undefined} the technical detail of a SetAPIError */
    this.errorMessage = details.errorMessage;
    /** @type {string | undefined} what went wrong and what to do, for a person */
    this.msg = details.msg;
    /** @type {BusEvent | undefined} the SetAPIError event itself */
    this.event = details.event;
  }

  /**
   * Makes the error that a SetAPIError event stands for.
   *
   * @param {BusEvent} event
   * @returns {CtiBusError}
   */
  static fromEvent(event) {
    const d = (event.message && event.message.data) || {};
    return new CtiBusError("api", d.msg || d.errorMessage || d.errorType || "the bus refused the request", {
      errorType: d.errorType,
      errorMessage: d.errorMessage,
      msg: d.msg,
      event,
    });
  }
}

/**
 * Reports whether an event is a SetAPIError: an error the bus sent back.
 *
 * @param {BusEvent} event
 * @returns {boolean}
 */
export function isAPIError(event) {
  return lower(event.topic) === "error" && lower(event.subtopic) === "setapierror";
}

/**
 * Reports whether an event matches a pattern such as "Cisco/Agent/*": three
 * segments, each a name matched ignoring case or "*" for any one segment.
 *
 * @param {string} pattern
 * @param {{channel: string, topic: string, subtopic: string}} event
 * @returns {boolean}
 * @throws {TypeError} if the pattern does not have three non-empty segments
 */
export function matches(pattern, event) {
  return matchesParsed(parsePattern(pattern), event);
}

/**
 * The retry delay after `attempt` consecutive failures, with full jitter: a
 * uniformly random number of milliseconds in [0, min(cap, base * 2^attempt)).
 * Full jitter spreads the desktops of a whole floor over the window, so that
 * a restarted bus is not hit by all of them at once.
 *
 * @param {number} attempt  failures so far, from 0
 * @param {number} base     milliseconds: the ceiling for attempt 0
 * @param {number} cap      milliseconds: the largest ceiling
 * @param {() => number} [random] a number in [0, 1)
 * @returns {number} whole milliseconds
 */
export function backoffDelay(attempt, base, cap, random = Math.random) {
  // 2^30 times any sensible base is past any sensible cap; stop there so
  // that the product stays a finite number.
  const ceiling = Math.min(cap, base * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * ceiling);
}

/**
 * A connection to the ctibus message bus that reconnects by itself.
 *
 * It remembers the channels it registered on and the patterns it subscribed
 * to, and sends them again on every new connection. It never queues other
 * frames: a request made while the connection is down fails at once with
 * the code "not-connected".
 */
export class CtiBus {
  /** @type {Required<Omit<CtiBusOptions, "channels" | "subscriptions" | "credential">>} */
  #opts;
  /** @type {Credential | null} */
  #credential = null;
  /** @type {WebSocket | null} the current socket; events of older ones are ignored */
  #ws = null;
  /** @type {ConnectionStatus} */
  #status = "closed";
  /** @type {boolean} true until connect() and after close(): no reconnecting */
  #stopped = true;
  /** consecutive failed attempts; picks the backoff ceiling */
  #attempt = 0;
  /** @type {*} the timer of the next attempt */
  #retryTimer = null;
  /** @type {string} makes this client's request ids unlikely to collide with another's */
  #idPrefix;
  #seq = 0;

  /** @type {Set<{pattern: string[], listener: (ev: BusEvent) => void}>} */
  #listeners = new Set();
  /** @type {Set<(change: StatusChange) => void>} */
  #statusListeners = new Set();
  /** @type {Set<(frame: BusRequest) => void>} */
  #sentListeners = new Set();
  /** @type {Map<string, {expect: string[] | null, resolve: (ev: BusEvent) => void, reject: (err: Error) => void, timer: *}>} */
  #pending = new Map();
  /** @type {Array<{resolve: () => void, reject: (err: Error) => void}>} callers of connect() waiting for "open" */
  #openWaiters = [];
  /** @type {Map<string, {channel: string, waiters: Array<{resolve: (ev: BusEvent) => void, reject: (err: Error) => void}>}>} by lower-case channel */
  #channels = new Map();
  /** @type {Map<string, {sub: Subscription, waiters: Array<{resolve: (ev: BusEvent) => void, reject: (err: Error) => void}>}>} by lower-case pattern */
  #subscriptions = new Map();

  /**
   * Makes a client; call {@link CtiBus#connect} to open the connection.
   *
   * @param {CtiBusOptions} options
   */
  constructor(options) {
    if (!options || typeof options.url !== "string" || options.url === "") {
      throw new TypeError("CtiBus: options.url is required, such as ws://127.0.0.1:8080/ws");
    }
    if (typeof options.app !== "string" || options.app === "") {
      throw new TypeError("CtiBus: options.app is required: the app's name");
    }
    this.#opts = {
      url: options.url,
      app: options.app,
      reconnect: options.reconnect ?? true,
      backoffBase: options.backoffBase ?? 500,
      backoffCap: options.backoffCap ?? 30000,
      requestTimeout: options.requestTimeout ?? 10000,
      WebSocket: options.WebSocket ?? globalThis.WebSocket,
      random: options.random ?? Math.random,
      // Wrapped: some browsers refuse a detached window.setTimeout.
      setTimeout: options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms)),
      clearTimeout: options.clearTimeout ?? ((handle) => globalThis.clearTimeout(handle)),
    };
    this.#idPrefix = Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, "0");
    this.setCredential(options.credential ?? null);
    for (const channel of options.channels ?? []) {
      this.#rememberChannel(channel);
    }
    for (const s of options.subscriptions ?? []) {
      this.#rememberSubscription(s.channel, s.topic, s.subtopic);
    }
  }

  /** @returns {ConnectionStatus} the state of the connection now */
  get status() {
    return this.#status;
  }

  /** @returns {string} the app's name */
  get app() {
    return this.#opts.app;
  }

  /** @returns {string[]} the channels the app registers on at every connect */
  get channels() {
    return [...this.#channels.values()].map((entry) => entry.channel);
  }

  /**
   * Opens the connection, and keeps it open until {@link CtiBus#close}. The
   * promise resolves when the connection is open; it rejects only if close()
   * is called first or reconnecting is off and the attempt fails.
   *
   * @returns {Promise<void>}
   */
  connect() {
    const opened = this.#whenOpen();
    if (this.#stopped) {
      this.#stopped = false;
      this.#attempt = 0;
      try {
        this.#open();
      } catch (err) {
        // The WebSocket constructor refused the URL: retrying cannot help.
        this.#stopped = true;
        this.#rejectOpenWaiters(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return opened;
  }

  /**
   * Closes the connection and stops reconnecting. Pending requests reject
   * with the code "closed". The registrations and subscriptions are kept for
   * a later connect().
   *
   * @param {number} [code=1000]
   * @param {string} [reason]
   */
  close(code = NORMAL_CLOSURE, reason = "") {
    this.#stopped = true;
    if (this.#retryTimer !== null) {
      this.#opts.clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
    }
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      try {
        ws.close(code, reason);
      } catch {
        // Browsers allow only 1000 and 3000-4999 from a page.
        code = NORMAL_CLOSURE;
        ws.close(code);
      }
    }
    const err = new CtiBusError("closed", "the client was closed");
    this.#rejectPending(err);
    this.#rejectOpenWaiters(err);
    for (const entry of [...this.#channels.values(), ...this.#subscriptions.values()]) {
      for (const w of entry.waiters.splice(0)) {
        w.reject(err);
      }
    }
    this.#setStatus({ status: "closed", attempt: 0, code, reason, retryIn: null });
  }

  /**
   * Sets what the app presents with each PubSub/App/Register from now on,
   * such as a fresher workspace token; null presents nothing. The bus checks
   * it when a registration is sent: call {@link CtiBus#register} to present
   * it at once, or let the next connection do so.
   *
   * @param {Credential | null} credential
   * @throws {TypeError} unless it is null or has exactly one of token, secret and jwt
   */
  setCredential(credential) {
    if (credential !== null) {
      const kinds = ["token", "secret", "jwt"].filter((k) => credential && typeof credential[k] === "string" && credential[k] !== "");
      if (kinds.length !== 1 || Object.keys(credential).length !== 1) {
        throw new TypeError("CtiBus: a credential is one of {token}, {secret} or {jwt}");
      }
      credential = { ...credential };
    }
    this.#credential = credential;
  }

  /**
   * Registers the app on a channel, so that it may send the channel's
   * requests and receives its events. The channel is remembered and
   * registered again on every new connection. The promise resolves with the
   * PubSub/App/Registered event, once the bus has answered (when the
   * connection is down, once it is back). The registration carries the
   * credential, if one is set; if the bus refuses it, for example a token
   * revoked because the agent signed out, the promise rejects and the
   * channel is forgotten.
   *
   * @param {string} channel such as "Cisco"
   * @returns {Promise<BusEvent>}
   */
  register(channel) {
    const entry = this.#rememberChannel(channel);
    const answered = new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
    if (this.#isOpen()) {
      this.#sendRegistration(entry);
    }
    return answered;
  }

  /**
   * Unregisters the app from a channel and forgets it. The promise resolves
   * with the PubSub/App/Unregistered event, or with null when the connection
   * is down or closes first: a closed connection holds no registration.
   *
   * @param {string} channel
   * @returns {Promise<BusEvent | null>}
   */
  unregister(channel) {
    const entry = this.#channels.get(lower(channel));
    this.#channels.delete(lower(channel));
    if (entry) {
      this.#cancelWaiters(entry, `the registration on ${channel} was withdrawn`);
    }
    if (!this.#isOpen()) {
      return Promise.resolve(null);
    }
    return this.request("PubSub", "App", "Unregister", { channel }, { expect: "PubSub/App/Unregistered" })
      .catch(goneWithConnection);
  }

  /**
   * Subscribes to the events that match a pattern, in the app's scope. The
   * pattern is remembered and subscribed again on every new connection.
   * The promise resolves with the PubSub/Subscription/Subscribed event.
   *
   * @param {string} channel  a name or "*"
   * @param {string} topic    a name or "*"
   * @param {string} subtopic a name or "*"
   * @returns {Promise<BusEvent>}
   */
  subscribe(channel, topic, subtopic) {
    const entry = this.#rememberSubscription(channel, topic, subtopic);
    const answered = new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
    if (this.#isOpen()) {
      this.#sendSubscription(entry);
    }
    return answered;
  }

  /**
   * Unsubscribes from a pattern and forgets it. The promise resolves with the
   * PubSub/Subscription/Unsubscribed event, or with null when the connection
   * is down or closes first: a closed connection holds no subscription.
   *
   * @param {string} channel
   * @param {string} topic
   * @param {string} subtopic
   * @returns {Promise<BusEvent | null>}
   */
  unsubscribe(channel, topic, subtopic) {
    const key = lower(`${channel}/${topic}/${subtopic}`);
    const entry = this.#subscriptions.get(key);
    this.#subscriptions.delete(key);
    if (entry) {
      this.#cancelWaiters(entry, `the subscription to ${channel}/${topic}/${subtopic} was withdrawn`);
    }
    if (!this.#isOpen()) {
      return Promise.resolve(null);
    }
    return this.request("PubSub", "Subscription", "Unsubscribe", { channel, topic, subtopic },
      { expect: "PubSub/Subscription/Unsubscribed" }).catch(goneWithConnection);
  }

  /**
   * Sends a message to the other apps in the scope that subscribed to it,
   * such as CRM/Screenpop/Show. Nothing answers a publish unless it fails;
   * a failure comes back as a SetAPIError whose correlationId is the
   * returned id.
   *
   * @param {string} channel
   * @param {string} topic
   * @param {string} subtopic
   * @param {*} [data]
   * @returns {string} the id the message was sent with
   * @throws {CtiBusError} with the code "not-connected" when the connection is not open
   */
  publish(channel, topic, subtopic, data) {
    const id = this.#nextId();
    this.#send(this.#envelope(id, channel, topic, subtopic, data));
    return id;
  }

  /**
   * Sends a request with a fresh id and resolves with the first event that
   * answers it: whose correlationId is that id and, with `expect`, that
   * matches the pattern. It rejects with a {@link CtiBusError}: "api" with
   * errorType, errorMessage and msg when the bus answers with a SetAPIError;
   * "timeout"; "not-connected" (nothing was sent); or "closed".
   *
   * @param {string} channel
   * @param {string} topic
   * @param {string} subtopic
   * @param {*} [data]
   * @param {RequestOptions} [options]
   * @returns {Promise<BusEvent>}
   */
  request(channel, topic, subtopic, data, options = {}) {
    return new Promise((resolve, reject) => {
      const expect = options.expect ? parsePattern(options.expect) : null;
      const timeout = options.timeout ?? this.#opts.requestTimeout;
      const id = this.#nextId();
      const entry = { expect, resolve, reject, timer: null };
      this.#pending.set(id, entry);
      try {
        this.#send(this.#envelope(id, channel, topic, subtopic, data));
      } catch (err) {
        this.#pending.delete(id);
        throw err;
      }
      if (timeout > 0 && this.#pending.has(id)) {
        entry.timer = this.#opts.setTimeout(() => {
          this.#pending.delete(id);
          reject(new CtiBusError("timeout", `no answer to ${channel}/${topic}/${subtopic} within ${timeout} ms`));
        }, timeout);
      }
    });
  }

  /**
   * Sends one envelope exactly as given: no id, source or anything else is
   * added. Prefer {@link CtiBus#request} and {@link CtiBus#publish}; this is
   * for tools that compose envelopes by hand.
   *
   * @param {BusRequest} envelope
   * @throws {CtiBusError} with the code "not-connected" when the connection is not open
   */
  send(envelope) {
    this.#send(envelope);
  }

  /**
   * Calls the listener with every event that matches the pattern, such as
   * "Cisco/Agent/*" or "*\/*\/*". A listener that throws does not stop the others.
   *
   * @param {string} pattern three segments, each a name (any case) or "*"
   * @param {(event: BusEvent) => void} listener
   * @returns {() => void} a function that removes the listener
   * @throws {TypeError} if the pattern does not have three non-empty segments
   */
  on(pattern, listener) {
    const entry = { pattern: parsePattern(pattern), listener };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /**
   * Calls the listener whenever the connection's status changes.
   *
   * @param {(change: StatusChange) => void} listener
   * @returns {() => void} a function that removes the listener
   */
  onStatus(listener) {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /**
   * Calls the listener with a copy of every envelope sent, after it was
   * handed to the socket: for logs and debugging tools. The copy holds what
   * was sent, passwords included; mask them before showing it.
   *
   * @param {(frame: BusRequest) => void} listener
   * @returns {() => void} a function that removes the listener
   */
  onSent(listener) {
    this.#sentListeners.add(listener);
    return () => this.#sentListeners.delete(listener);
  }

  #open() {
    this.#retryTimer = null;
    const ws = new this.#opts.WebSocket(this.#opts.url);
    this.#ws = ws;
    this.#status = "connecting";
    ws.onopen = () => {
      if (ws === this.#ws) {
        this.#opened();
      }
    };
    ws.onmessage = (e) => {
      if (ws === this.#ws) {
        this.#receive(e.data);
      }
    };
    ws.onclose = (e) => {
      if (ws === this.#ws) {
        this.#closed(e.code, e.reason);
      }
    };
    // A close event always follows an error event, and says more.
    ws.onerror = () => {};
    this.#emitStatus({ status: "connecting", attempt: this.#attempt });
  }

  #opened() {
    this.#attempt = 0;
    this.#status = "open";
    // Registrations first: the bus runs one connection's requests in order,
    // so the subscriptions that follow never race them.
    for (const entry of this.#channels.values()) {
      this.#sendRegistration(entry);
    }
    for (const entry of this.#subscriptions.values()) {
      this.#sendSubscription(entry);
    }
    for (const w of this.#openWaiters.splice(0)) {
      w.resolve();
    }
    this.#emitStatus({ status: "open", attempt: 0 });
  }

  /**
   * @param {number} code
   * @param {string} reason
   */
  #closed(code, reason) {
    this.#ws = null;
    this.#rejectPending(new CtiBusError("closed", `the connection closed (code ${code}) before the answer came`));
    if (!this.#opts.reconnect) {
      this.#stopped = true;
      this.#rejectOpenWaiters(new CtiBusError("closed", `the connection closed (code ${code})`));
      this.#setStatus({ status: "closed", attempt: this.#attempt, code, reason, retryIn: null });
      return;
    }
    const delay = backoffDelay(this.#attempt, this.#opts.backoffBase, this.#opts.backoffCap, this.#opts.random);
    this.#attempt++;
    this.#retryTimer = this.#opts.setTimeout(() => this.#retry(), delay);
    this.#setStatus({ status: "closed", attempt: this.#attempt, code, reason, retryIn: delay });
  }

  #retry() {
    try {
      this.#open();
    } catch (err) {
      // The URL worked before, so this is a passing fault: count it as a failed attempt.
      this.#ws = null;
      this.#closed(1006, err instanceof Error ? err.message : String(err));
    }
  }

  /** @param {*} data */
  #receive(data) {
    let ev;
    try {
      ev = JSON.parse(data);
    } catch {
      return; // the bus sends only JSON text frames
    }
    if (!ev || typeof ev !== "object" || typeof ev.channel !== "string") {
      return;
    }
    const waiting = typeof ev.correlationId === "string" ? this.#pending.get(ev.correlationId) : undefined;
    if (waiting) {
      if (isAPIError(ev)) {
        this.#settle(ev.correlationId, waiting);
        waiting.reject(CtiBusError.fromEvent(ev));
      } else if (!waiting.expect || matchesParsed(waiting.expect, ev)) {
        this.#settle(ev.correlationId, waiting);
        waiting.resolve(ev);
      }
    }
    for (const { pattern, listener } of [...this.#listeners]) {
      if (matchesParsed(pattern, ev)) {
        callSafely(listener, ev);
      }
    }
  }

  /**
   * @param {string} id
   * @param {{timer: *}} entry
   */
  #settle(id, entry) {
    this.#pending.delete(id);
    if (entry.timer !== null) {
      this.#opts.clearTimeout(entry.timer);
    }
  }

  /** @param {BusRequest} frame */
  #send(frame) {
    const ws = this.#ws;
    if (!this.#isOpen() || !ws) {
      throw new CtiBusError("not-connected",
        `not connected to the bus (${this.#status}): ${frame.channel}/${frame.topic}/${frame.subtopic} was not sent`);
    }
    const text = JSON.stringify(frame);
    ws.send(text);
    if (this.#sentListeners.size > 0) {
      for (const listener of [...this.#sentListeners]) {
        callSafely(listener, JSON.parse(text));
      }
    }
  }

  #isOpen() {
    return this.#status === "open" && this.#ws !== null && this.#ws.readyState === OPEN;
  }

  /**
   * @param {string} id
   * @param {string} channel
   * @param {string} topic
   * @param {string} subtopic
   * @param {*} data
   * @returns {BusRequest}
   */
  #envelope(id, channel, topic, subtopic, data) {
    /** @type {BusRequest} */
    const frame = { id, channel, topic, subtopic, source: this.#opts.app };
    if (data !== undefined) {
      frame.data = data;
    }
    return frame;
  }

  #nextId() {
    this.#seq++;
    return `${this.#idPrefix}-${this.#seq}`;
  }

  /** @param {string} channel */
  #rememberChannel(channel) {
    const key = lower(channel);
    let entry = this.#channels.get(key);
    if (!entry) {
      entry = { channel, waiters: [] };
      this.#channels.set(key, entry);
    }
    return entry;
  }

  /**
   * @param {string} channel
   * @param {string} topic
   * @param {string} subtopic
   */
  #rememberSubscription(channel, topic, subtopic) {
    const key = lower(`${channel}/${topic}/${subtopic}`);
    let entry = this.#subscriptions.get(key);
    if (!entry) {
      entry = { sub: { channel, topic, subtopic }, waiters: [] };
      this.#subscriptions.set(key, entry);
    }
    return entry;
  }

  /** @param {{channel: string, waiters: Array<{resolve: (ev: BusEvent) => void, reject: (err: Error) => void}>}} entry */
  #sendRegistration(entry) {
    this.#remembered(entry, this.#channels, lower(entry.channel),
      this.request("PubSub", "App", "Register", { channel: entry.channel, ...this.#credential },
        { expect: "PubSub/App/Registered" }));
  }

  /** @param {{sub: Subscription, waiters: Array<{resolve: (ev: BusEvent) => void, reject: (err: Error) => void}>}} entry */
  #sendSubscription(entry) {
    const { channel, topic, subtopic } = entry.sub;
    this.#remembered(entry, this.#subscriptions, lower(`${channel}/${topic}/${subtopic}`),
      this.request("PubSub", "Subscription", "Subscribe", { channel, topic, subtopic },
        { expect: "PubSub/Subscription/Subscribed" }));
  }

  /**
   * Settles the callers waiting for a registration or subscription with the
   * answer. One the bus refused is forgotten, since sending it again would
   * be refused again; one cut off by a dropped connection keeps its callers
   * waiting for the next connection.
   *
   * @param {{waiters: Array<{resolve: (ev: BusEvent) => void, reject: (err: Error) => void}>}} entry
   * @param {Map<string, *>} remembered
   * @param {string} key
   * @param {Promise<BusEvent>} answer
   */
  #remembered(entry, remembered, key, answer) {
    const waiters = entry.waiters.splice(0);
    answer.then(
      (ev) => {
        for (const w of waiters) {
          w.resolve(ev);
        }
      },
      (err) => {
        if (err.code === "closed" && !this.#stopped) {
          entry.waiters.unshift(...waiters);
          return;
        }
        if (err.code === "api" && remembered.get(key) === entry) {
          remembered.delete(key);
        }
        for (const w of waiters) {
          w.reject(err);
        }
      },
    );
  }

  /**
   * @param {{waiters: Array<{reject: (err: Error) => void}>}} entry
   * @param {string} why
   */
  #cancelWaiters(entry, why) {
    for (const w of entry.waiters.splice(0)) {
      w.reject(new CtiBusError("cancelled", why));
    }
  }

  /** @returns {Promise<void>} */
  #whenOpen() {
    if (this.#isOpen()) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#openWaiters.push({ resolve, reject }));
  }

  /** @param {Error} err */
  #rejectOpenWaiters(err) {
    for (const w of this.#openWaiters.splice(0)) {
      w.reject(err);
    }
  }

  /** @param {Error} err */
  #rejectPending(err) {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) {
      if (entry.timer !== null) {
        this.#opts.clearTimeout(entry.timer);
      }
      entry.reject(err);
    }
  }

  /** @param {StatusChange} change */
  #setStatus(change) {
    this.#status = change.status;
    this.#emitStatus(change);
  }

  /** @param {StatusChange} change */
  #emitStatus(change) {
    for (const listener of [...this.#statusListeners]) {
      callSafely(listener, change);
    }
  }
}

/**
 * Resolves an unregister or unsubscribe cut off by a closed connection: what
 * it would undo went away with the connection.
 *
 * @param {CtiBusError} err
 * @returns {null}
 */
function goneWithConnection(err) {
  if (err.code === "closed") {
    return null;
  }
  throw err;
}

/**
 * @param {string} pattern
 * @returns {string[]} the three segments, lower-cased
 */
function parsePattern(pattern) {
  const segments = typeof pattern === "string" ? pattern.split("/") : [];
  if (segments.length !== 3 || segments.some((s) => s === "")) {
    throw new TypeError(`CtiBus: pattern ${JSON.stringify(pattern)} must be Channel/Topic/Subtopic, each a name or "*"`);
  }
  return segments.map(lower);
}

/**
 * @param {string[]} pattern lower-cased segments
 * @param {{channel: string, topic: string, subtopic: string}} ev
 */
function matchesParsed(pattern, ev) {
  const names = [ev.channel, ev.topic, ev.subtopic];
  return pattern.every((p, i) => p === "*" || p === lower(names[i]));
}

/** @param {*} s */
function lower(s) {
  return String(s).toLowerCase();
}

/**
 * Calls a listener; an exception is reported as uncaught, so that it shows
 * in the console, without keeping the other listeners from their event.
 *
 * @template T
 * @param {(arg: T) => void} listener
 * @param {T} arg
 */
function callSafely(listener, arg) {
  try {
    listener(arg);
  } catch (err) {
    if (typeof globalThis.reportError === "function") {
      globalThis.reportError(err);
    } else {
      console.error(err);
    }
  }
}

// ---------------------------------------------------------------------------
// Widgets in one page share one connection.
//
// A desktop page (the host) that embeds widgets in iframes relays the bus to
// them over postMessage: a widget opens no WebSocket and needs neither the
// password nor a workspace token. Every message is checked both ways: the
// host accepts messages only from its own iframes whose origin is one of its
// allowed widget origins, and posts to a widget only with that origin as the
// target; a widget accepts messages only from its parent window and its
// configured host origin. The host names each widget (the iframe's
// data-ctibus-app attribute), and stamps that name as the source of what the
// widget publishes to the other widgets of the page, so that no widget can
// speak for another.

/** The key that marks a bridge message, and its version. */
const BRIDGE = "ctibus-bridge";
const BRIDGE_VERSION = 1;

/** Bounds on what one widget may ask of the host. */
const MAX_WIDGET_SUBSCRIPTIONS = 100;
const MAX_WIDGET_NAME = 128;
const MAX_WIDGET_DATA = 64 * 1024; // bytes of JSON: the bus's own frame limit is larger, never smaller
const MAX_WIDGET_PENDING = 100; // requests of one widget waiting for their answer

/** Milliseconds between a widget's hellos while no host has answered. */
const HELLO_INTERVAL = 200;

/**
 * Options of {@link CtiBusHost}.
 *
 * @typedef {object} CtiBusHostOptions
 * @property {string[]} [widgetOrigins] origins whose iframes may use the bus, such as
 *                                      the origin of widgets.example.com served over TLS; default this page's own origin
 * @property {string[]} [refuse]        request patterns a widget may not send; default
 *                                      "Cisco/Agent/SetUserInfo" (a widget never signs an agent in on the
 *                                      desktop's connection). PubSub requests are always the host's own.
 * @property {Window} [window]          the host page's window; tests pass another
 */

/**
 * CtiBusHost relays one {@link CtiBus} connection to the widgets embedded in
 * the page's iframes.
 */
export class CtiBusHost {
  /** @type {CtiBus} */
  #bus;
  /** @type {Window} */
  #window;
  /** @type {Set<string>} */
  #origins;
  /** @type {string[][]} */
  #refuse;
  /** @type {Map<Window, {app: string, origin: string, patterns: Map<string, string[]>, pending: number}>} */
  #widgets = new Map();
  /** @type {() => void} */
  #stopListening;
  /** @type {(e: MessageEvent) => void} */
  #onMessage;

  /**
   * Starts relaying bus to the page's widgets.
   *
   * @param {CtiBus} bus the desktop's connection
   * @param {CtiBusHostOptions} [options]
   */
  constructor(bus, options = {}) {
    this.#bus = bus;
    this.#window = options.window ?? globalThis.window;
    this.#origins = new Set(options.widgetOrigins ?? [this.#window.location.origin]);
    if ([...this.#origins].some((o) => o === "*" || o === "null")) {
      throw new TypeError('CtiBusHost: widgetOrigins are exact origins; "*" and "null" are refused');
    }
    this.#refuse = (options.refuse ?? ["Cisco/Agent/SetUserInfo"]).map(parsePattern);
    this.#onMessage = (e) => this.#receive(e);
    this.#window.addEventListener("message", this.#onMessage);
    this.#stopListening = bus.on("*/*/*", (ev) => this.#relay(ev, null));
  }

  /** @returns {string[]} the names of the widgets that said hello, in order */
  get widgets() {
    return [...this.#widgets.values()].map((w) => w.app);
  }

  /** Stops relaying; the widgets hear nothing more. */
  close() {
    this.#window.removeEventListener("message", this.#onMessage);
    this.#stopListening();
    this.#widgets.clear();
  }

  /** @param {MessageEvent} e */
  #receive(e) {
    const msg = e.data;
    if (!msg || typeof msg !== "object" || msg[BRIDGE] !== BRIDGE_VERSION || !this.#origins.has(e.origin)) {
      return;
    }
    const frame = this.#frameOf(e.source);
    if (!frame) {
      return; // not one of this page's iframes
    }
    const source = /** @type {Window} */ (e.source);
    let widget = this.#widgets.get(source);
    if (msg.type === "hello") {
      // A hello starts the widget afresh (a reloaded frame keeps its
      // window): it keeps its name, and subscribes again.
      const app = widget && widget.origin === e.origin ? widget.app : this.#nameFor(frame, msg.app);
      widget = { app, origin: e.origin, patterns: new Map(), pending: 0 };
      this.#widgets.set(source, widget);
      this.#post(source, widget, { type: "welcome", app: widget.app });
      return;
    }
    if (!widget || widget.origin !== e.origin) {
      return; // a frame that navigated elsewhere says hello again first
    }
    try {
      switch (msg.type) {
        case "subscribe":
          this.#subscribe(source, widget, msg);
          break;
        case "unsubscribe":
          widget.patterns.delete(lower(patternOf(msg)));
          this.#answer(source, widget, msg.id, null);
          break;
        case "request":
          this.#request(source, widget, msg);
          break;
        case "publish":
          this.#publish(source, widget, msg);
          break;
        default:
          throw new CtiBusError("api", `unknown bridge message type ${JSON.stringify(String(msg.type)).slice(0, 40)}`,
            { errorType: "Invalid Input", msg: "Use the CtiBusWidget of ctibus.js to talk to the host." });
      }
    } catch (err) {
      this.#fail(source, widget, msg.id, err);
    }
  }

  /**
   * @param {*} source
   * @returns {HTMLIFrameElement | undefined} the iframe of this page whose window sent it
   */
  #frameOf(source) {
    if (!source) {
      return undefined;
    }
    return [...this.#window.document.querySelectorAll("iframe")].find((f) => f.contentWindow === source);
  }

  /**
   * The widget's name: the iframe's data-ctibus-app, chosen by the host
   * page; else the name the widget gave, made unique in the page.
   *
   * @param {HTMLIFrameElement} frame
   * @param {*} asked
   */
  #nameFor(frame, asked) {
    const given = frame.dataset.ctibusApp;
    if (given) {
      return given.slice(0, MAX_WIDGET_NAME);
    }
    const base = (typeof asked === "string" && asked !== "" ? asked : "widget").slice(0, MAX_WIDGET_NAME);
    const taken = new Set([this.#bus.app, ...this.widgets]);
    let name = base;
    for (let n = 2; taken.has(name); n++) {
      name = `${base}#${n}`;
    }
    return name;
  }

  #subscribe(source, widget, msg) {
    const key = patternOf(msg);
    const parsed = parsePattern(key);
    if (!widget.patterns.has(lower(key)) && widget.patterns.size >= MAX_WIDGET_SUBSCRIPTIONS) {
      throw new CtiBusError("api", `a widget may hold at most ${MAX_WIDGET_SUBSCRIPTIONS} subscriptions`,
        { errorType: "Limit Exceeded", msg: "Unsubscribe from a pattern first." });
    }
    widget.patterns.set(lower(key), parsed);
    // The host's connection hears its registered channels already; any
    // other channel is subscribed on the bus, and stays so for the page.
    const needsBus = parsed[0] === "*" || !this.#bus.channels.map(lower).includes(parsed[0]);
    if (needsBus && this.#bus.status === "open") {
      this.#bus.subscribe(msg.channel, msg.topic, msg.subtopic).catch(() => {});
    }
    this.#answer(source, widget, msg.id, null);
  }

  #request(source, widget, msg) {
    const key = patternOf(msg);
    const parsed = parsePattern(key);
    if (parsed[0] === "pubsub" || this.#refuse.some((p) => matchesParsed(p, msg))) {
      throw new CtiBusError("api", `a widget may not send ${key}: the desktop page does`,
        { errorType: "Forbidden", msg: "Ask the desktop page to do this; a widget shares its connection." });
    }
    const data = boundedData(msg.data);
    if (widget.pending >= MAX_WIDGET_PENDING) {
      throw new CtiBusError("api", `a widget may have at most ${MAX_WIDGET_PENDING} requests waiting`,
        { errorType: "Limit Exceeded", msg: "Wait for an answer before sending more." });
    }
    widget.pending++;
    const options = {};
    if (typeof msg.expect === "string") {
      options.expect = msg.expect;
    }
    if (typeof msg.timeout === "number" && msg.timeout > 0) {
      options.timeout = msg.timeout;
    }
    this.#bus.request(msg.channel, msg.topic, msg.subtopic, data, options).then(
      (ev) => this.#answer(source, widget, msg.id, ev),
      (err) => this.#fail(source, widget, msg.id, err),
    ).finally(() => {
      widget.pending--;
    });
  }

  #publish(source, widget, msg) {
    const key = patternOf(msg);
    const parsed = parsePattern(key);
    if (parsed.includes("*") || parsed[0] === "pubsub") {
      throw new CtiBusError("api", `a widget may not publish on ${key}`,
        { errorType: "Invalid Input", msg: "Publish on a channel, topic and subtopic of your own." });
    }
    const data = boundedData(msg.data);
    // To the other widgets of the page, in the widget's name...
    this.#relay({ channel: msg.channel, topic: msg.topic, subtopic: msg.subtopic, source: widget.app,
      message: data, timestamp: new Date().toISOString() }, source);
    // ...and to the other apps of the workspace, in the desktop's.
    const id = this.#bus.status === "open" ? this.#bus.publish(msg.channel, msg.topic, msg.subtopic, data) : null;
    this.#answer(source, widget, msg.id, id === null ? null : { id });
  }

  /**
   * Posts an event to every widget subscribed to it, but the one it came from.
   *
   * @param {BusEvent} ev
   * @param {Window | null} except
   */
  #relay(ev, except) {
    if (lower(ev.channel) === "pubsub") {
      return; // about the host's own connection, its workspace token included
    }
    for (const [win, widget] of this.#widgets) {
      if (win === except) {
        continue;
      }
      if (win.closed) {
        this.#widgets.delete(win);
        continue;
      }
      for (const pattern of widget.patterns.values()) {
        if (matchesParsed(pattern, ev)) {
          this.#post(win, widget, { type: "event", event: ev });
          break;
        }
      }
    }
  }

  #answer(win, widget, id, event) {
    this.#post(win, widget, { type: "answer", id, event });
  }

  #fail(win, widget, id, err) {
    const e = err instanceof CtiBusError ? err : new CtiBusError("api", String(err?.message ?? err));
    this.#post(win, widget, { type: "error", id, error: { code: e.code, message: e.message,
      errorType: e.errorType, errorMessage: e.errorMessage, msg: e.msg } });
  }

  #post(win, widget, body) {
    // The target origin is the widget's: if the frame has navigated to
    // another origin since, the browser drops the message.
    win.postMessage({ [BRIDGE]: BRIDGE_VERSION, ...body }, widget.origin);
  }
}

/**
 * Options of {@link CtiBusWidget}.
 *
 * @typedef {object} CtiBusWidgetOptions
 * @property {string} app                    the name the widget asks for; the host page may give another
 * @property {string} [hostOrigin]           the origin of the desktop page; default this widget's own origin
 * @property {number} [requestTimeout=10000] milliseconds a request waits for its answer
 * @property {Window} [window]               the widget's window; tests pass another
 */

/**
 * CtiBusWidget is the bus as a widget in an iframe sees it: through the
 * desktop page that embeds it ({@link CtiBusHost}), with no WebSocket of its
 * own, no password and no token.
 */
export class CtiBusWidget {
  #app;
  #hostOrigin;
  #timeout;
  /** @type {Window} */
  #window;
  #seq = 0;
  /** @type {Set<{pattern: string[], listener: (ev: BusEvent) => void}>} */
  #listeners = new Set();
  /** @type {Map<string, {resolve: (v: *) => void, reject: (err: Error) => void, timer: *}>} */
  #pending = new Map();
  /** @type {{resolve: (app: string) => void, reject: (err: Error) => void, timer: *} | null} */
  #welcome = null;
  /** @type {(e: MessageEvent) => void} */
  #onMessage;
  /** @type {string | null} the name the host gave */
  name = null;

  /** @param {CtiBusWidgetOptions} options */
  constructor(options) {
    if (!options || typeof options.app !== "string" || options.app === "") {
      throw new TypeError("CtiBusWidget: options.app is required: the widget's name");
    }
    this.#window = options.window ?? globalThis.window;
    this.#app = options.app;
    this.#hostOrigin = options.hostOrigin ?? this.#window.location.origin;
    this.#timeout = options.requestTimeout ?? 10000;
    this.#onMessage = (e) => this.#receive(e);
    this.#window.addEventListener("message", this.#onMessage);
  }

  /**
   * Says hello to the host page; resolves with the name the host gave the
   * widget. It rejects if no host answers within the request timeout: the
   * page is not a ctibus desktop, or does not allow this widget's origin.
   *
   * @returns {Promise<string>}
   */
  connect() {
    if (this.#window.parent === this.#window) {
      return Promise.reject(new CtiBusError("not-connected", "the widget is not in an iframe: no desktop page hosts it"));
    }
    return new Promise((resolve, reject) => {
      // The page may start its host after this frame has loaded: say hello
      // again until it answers.
      const hello = () => this.#post({ type: "hello", app: this.#app });
      const again = globalThis.setInterval(hello, HELLO_INTERVAL);
      const timer = globalThis.setTimeout(() => {
        globalThis.clearInterval(again);
        this.#welcome = null;
        reject(new CtiBusError("timeout", `no desktop page at ${this.#hostOrigin} answered within ${this.#timeout} ms`));
      }, this.#timeout);
      this.#welcome = { resolve, reject, timer: { timer, again } };
      hello();
    });
  }

  /** Stops listening to the host. */
  close() {
    this.#window.removeEventListener("message", this.#onMessage);
    const err = new CtiBusError("closed", "the widget was closed");
    for (const p of this.#pending.values()) {
      globalThis.clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
  }

  /**
   * Calls the listener with every relayed event that matches the pattern.
   * Subscribe to the pattern too, so that the host relays it.
   *
   * @param {string} pattern
   * @param {(event: BusEvent) => void} listener
   * @returns {() => void} a function that removes the listener
   */
  on(pattern, listener) {
    const entry = { pattern: parsePattern(pattern), listener };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Asks the host to relay the events that match a pattern. */
  subscribe(channel, topic, subtopic) {
    return this.#call({ type: "subscribe", channel, topic, subtopic });
  }

  /** Asks the host to stop relaying a pattern. */
  unsubscribe(channel, topic, subtopic) {
    return this.#call({ type: "unsubscribe", channel, topic, subtopic });
  }

  /**
   * Sends a request over the host's connection; resolves with its answer,
   * as {@link CtiBus#request}. The host refuses PubSub requests and a
   * sign-in.
   */
  request(channel, topic, subtopic, data, options = {}) {
    return this.#call({ type: "request", channel, topic, subtopic, data, expect: options.expect, timeout: options.timeout });
  }

  /** Sends a message to the other widgets of the page and the other apps of the workspace. */
  publish(channel, topic, subtopic, data) {
    return this.#call({ type: "publish", channel, topic, subtopic, data });
  }

  #call(body) {
    return new Promise((resolve, reject) => {
      const id = `w-${++this.#seq}`;
      const timer = globalThis.setTimeout(() => {
        this.#pending.delete(id);
        reject(new CtiBusError("timeout", `the desktop page did not answer ${body.type} within ${this.#timeout} ms`));
      }, this.#timeout);
      this.#pending.set(id, { resolve, reject, timer });
      this.#post({ ...body, id });
    });
  }

  #post(body) {
    // The target origin is the host's: a page of another origin never
    // receives what the widget sends.
    this.#window.parent.postMessage({ [BRIDGE]: BRIDGE_VERSION, ...body }, this.#hostOrigin);
  }

  /** @param {MessageEvent} e */
  #receive(e) {
    const msg = e.data;
    if (e.source !== this.#window.parent || e.origin !== this.#hostOrigin ||
      !msg || typeof msg !== "object" || msg[BRIDGE] !== BRIDGE_VERSION) {
      return;
    }
    switch (msg.type) {
      case "welcome":
        if (this.#welcome) {
          globalThis.clearTimeout(this.#welcome.timer.timer);
          globalThis.clearInterval(this.#welcome.timer.again);
          this.name = String(msg.app);
          this.#welcome.resolve(this.name);
          this.#welcome = null;
        }
        return;
      case "event":
        for (const { pattern, listener } of [...this.#listeners]) {
          if (msg.event && matchesParsed(pattern, msg.event)) {
            callSafely(listener, msg.event);
          }
        }
        return;
      case "answer":
      case "error": {
        const p = this.#pending.get(msg.id);
        if (!p) {
          return;
        }
        this.#pending.delete(msg.id);
        globalThis.clearTimeout(p.timer);
        if (msg.type === "answer") {
          p.resolve(msg.event);
        } else {
          const e = msg.error ?? {};
          p.reject(new CtiBusError(e.code ?? "api", e.message ?? "the desktop page refused the request",
            { errorType: e.errorType, errorMessage: e.errorMessage, msg: e.msg }));
        }
      }
    }
  }
}

/**
 * @param {{channel: *, topic: *, subtopic: *}} msg
 * @returns {string} "channel/topic/subtopic", each bounded
 */
function patternOf(msg) {
  const parts = [msg.channel, msg.topic, msg.subtopic];
  if (parts.some((p) => typeof p !== "string" || p === "" || p.length > MAX_WIDGET_NAME || p.includes("/"))) {
    throw new CtiBusError("api", "channel, topic and subtopic must be non-empty strings without '/'",
      { errorType: "Invalid Input", msg: `Give each as a name of at most ${MAX_WIDGET_NAME} characters, or "*".` });
  }
  return parts.join("/");
}

/** @param {*} data the widget's payload, refused when its JSON is too large */
function boundedData(data) {
  if (data === undefined) {
    return undefined;
  }
  const text = JSON.stringify(data);
  if (text !== undefined && new TextEncoder().encode(text).length > MAX_WIDGET_DATA) {
    throw new CtiBusError("api", `data is larger than ${MAX_WIDGET_DATA} bytes of JSON`,
      { errorType: "Invalid Input", msg: "Send less data." });
  }
  return text === undefined ? undefined : JSON.parse(text);
}
