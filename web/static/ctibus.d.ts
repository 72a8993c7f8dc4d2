// TypeScript declarations of ctibus.js, the browser client of the ctibus
// message bus. The client's API is declared by hand below, beside
// ctibus.js; the payload types, and the maps from each triple to its
// payload, are generated from the JSON Schemas of docs/asyncapi.yaml, and a
// test of the repository (web/declarations_test.go) fails when they differ.
//
//	import { CtiBus } from "ctibus";
//	const bus = new CtiBus({ url: "ws://127.0.0.1:8080/ws", app: "softphone", channels: ["Cisco"] });
//	bus.on("Cisco/Agent/SetAgentState", (ev) => console.log(ev.message.data.state)); // ev.message is AgentState

/** An envelope that the bus sends to apps, with its payload typed M. */
export interface BusEvent<M = unknown> {
  /** A fresh UUID for the event. */
  id: string;
  channel: string;
  topic: string;
  subtopic: string;
  /** "ctibus" for the bus's own events; the sending app's name for an app-to-app message. */
  source: string;
  /** The payload. */
  message: M;
  /** Only on Error/SetAPIError: the same error, nested as the Acqueon sample nests it. */
  data?: ApiErrorNested;
  /** The id of the request that caused the event. */
  correlationId?: string;
  /** When the bus sent it: ISO-8601 UTC with milliseconds. */
  timestamp: string;
}

/** An envelope that an app sends to the bus. */
export interface BusRequest {
  id?: string;
  channel: string;
  topic: string;
  subtopic: string;
  source?: string;
  data?: unknown;
}

/** A subscription pattern: each segment a name, matched ignoring case, or "*". */
export interface Subscription {
  channel: string;
  topic: string;
  subtopic: string;
}

/** The event of triple K, with its payload and triple typed. */
export type TypedEvent<K extends keyof EventPayloads> = K extends `${infer C}/${infer T}/${infer S}`
  ? BusEvent<EventPayloads[K]> & { channel: C; topic: T; subtopic: S }
  : never;

/** A pattern segment as a template: "*" stands for any segment. */
type Segment<P extends string> = P extends "*" ? string : P;

/** The triples of the bus's events that pattern P (such as "Cisco/Agent/*") matches, spelled as the bus spells them. */
export type EventsMatching<P extends string> = P extends `${infer C}/${infer T}/${infer S}`
  ? Extract<keyof EventPayloads, `${Segment<C>}/${Segment<T>}/${Segment<S>}`>
  : never;

/**
 * What a listener of pattern P receives: the typed events the pattern
 * matches, told apart by their subtopic; a BusEvent of unknown payload for a
 * pattern of a free channel (or one spelled in another case).
 */
export type EventOf<P extends string> = [EventsMatching<P>] extends [never]
  ? BusEvent
  : { [K in EventsMatching<P>]: TypedEvent<K> }[EventsMatching<P>];

/** The data of the request on channel/topic/subtopic, or unknown for a free channel. */
export type DataOf<C extends string, T extends string, S extends string> =
  `${C}/${T}/${S}` extends keyof RequestData ? RequestData[`${C}/${T}/${S}`] : unknown;

/** The state of the connection to the bus. */
export type ConnectionStatus = "connecting" | "open" | "closed";

/** What a status listener receives. */
export interface StatusChange {
  status: ConnectionStatus;
  /** Consecutive attempts that failed before this change; 0 once open. */
  attempt: number;
  /** The WebSocket close code, when status is "closed". */
  code?: number;
  /** The close reason, when status is "closed". */
  reason?: string;
  /** Milliseconds until the next attempt, when status is "closed"; null when the client will not retry. */
  retryIn?: number | null;
}

/** What an app presents when it registers: a workspace token, or a server-side app's secret or JWT. */
export type Credential = { token: string } | { secret: string } | { jwt: string };

/** Options of CtiBus. */
export interface CtiBusOptions {
  /** The bus's WebSocket endpoint, such as "ws://127.0.0.1:8080/ws". */
  url: string;
  /** The app's name: the "source" of every request and the name it registers under. */
  app: string;
  /** Channels to register on, at every connect. */
  channels?: string[];
  /** Presented with every PubSub/App/Register. */
  credential?: Credential;
  /** Patterns to subscribe to, at every connect. */
  subscriptions?: Subscription[];
  /** Open a new connection when one closes; default true. */
  reconnect?: boolean;
  /** Milliseconds: the ceiling of the first retry delay; default 500. */
  backoffBase?: number;
  /** Milliseconds: the largest retry delay; default 30000. */
  backoffCap?: number;
  /** Milliseconds a request waits for its answer by default; 0 waits forever; default 10000. */
  requestTimeout?: number;
  /** The WebSocket class; tests pass a fake. */
  WebSocket?: { new (url: string): WebSocket };
  /** A number in [0, 1), for the jitter; default Math.random. */
  random?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
}

/** Options of a request; E is the pattern of the event that answers it. */
export interface RequestOptions<E extends string = string> {
  /** Milliseconds to wait for the answer; 0 waits forever; default the client's requestTimeout. */
  timeout?: number;
  /** Resolve with the first correlated event that matches this pattern, not merely the first. */
  expect?: E;
}

/** Why a request, a publish or a registration failed. */
export type CtiBusErrorCode = "api" | "timeout" | "not-connected" | "closed" | "cancelled";

/** The error every request rejects with. */
export class CtiBusError extends Error {
  constructor(
    code: CtiBusErrorCode,
    message: string,
    details?: { errorType?: string; errorMessage?: string; msg?: string; event?: BusEvent },
  );
  /** Why it failed. */
  code: CtiBusErrorCode;
  /** The category of a SetAPIError, such as "Account Locked". */
  errorType?: ApiErrorFields["errorType"];
  /** The technical detail of a SetAPIError. */
  errorMessage?: string;
  /** What went wrong and what to do, for a person. */
  msg?: string;
  /** The SetAPIError event itself. */
  event?: BusEvent<ApiError>;
  /** Makes the error that a SetAPIError event stands for. */
  static fromEvent(event: BusEvent): CtiBusError;
}

/** Reports whether an event is a SetAPIError: an error the bus sent back. */
export function isAPIError(event: BusEvent): event is BusEvent<ApiError>;

/** Reports whether an event matches a pattern such as "Cisco/Agent/*". */
export function matches(pattern: string, event: { channel: string; topic: string; subtopic: string }): boolean;

/** The retry delay after `attempt` consecutive failures, with full jitter. */
export function backoffDelay(attempt: number, base: number, cap: number, random?: () => number): number;

/** A connection to the ctibus message bus that reconnects by itself. */
export class CtiBus {
  constructor(options: CtiBusOptions);
  readonly status: ConnectionStatus;
  readonly app: string;
  readonly channels: string[];
  /** Opens the connection, and keeps it open until close(). */
  connect(): Promise<void>;
  /** Closes the connection and stops reconnecting. */
  close(code?: number, reason?: string): void;
  /** Sets what the app presents with each PubSub/App/Register from now on; null presents nothing. */
  setCredential(credential: Credential | null): void;
  /** Registers the app on a channel, now and on every new connection. */
  register(channel: string): Promise<TypedEvent<"PubSub/App/Registered">>;
  /** Unregisters the app from a channel and forgets it. */
  unregister(channel: string): Promise<TypedEvent<"PubSub/App/Unregistered"> | null>;
  /** Subscribes to a pattern, now and on every new connection. */
  subscribe(channel: string, topic: string, subtopic: string): Promise<TypedEvent<"PubSub/Subscription/Subscribed">>;
  /** Unsubscribes from a pattern and forgets it. */
  unsubscribe(channel: string, topic: string, subtopic: string): Promise<TypedEvent<"PubSub/Subscription/Unsubscribed"> | null>;
  /** Sends a message to the other apps of the scope; returns the id it was sent with. */
  publish(channel: string, topic: string, subtopic: string, data?: unknown): string;
  /**
   * Sends a request with a fresh id and resolves with the first event that
   * answers it (with `expect`, the first that matches that pattern). The
   * data is typed by the request's triple.
   */
  request<C extends string, T extends string, S extends string, E extends string = "*/*/*">(
    channel: C,
    topic: T,
    subtopic: S,
    data?: DataOf<C, T, S>,
    options?: RequestOptions<E>,
  ): Promise<EventOf<E>>;
  /** Sends one envelope exactly as given. */
  send(envelope: BusRequest): void;
  /** Calls the listener with every event that matches the pattern, typed by it. */
  on<P extends string>(pattern: P, listener: (event: EventOf<P>) => void): () => void;
  /** Calls the listener whenever the connection's status changes. */
  onStatus(listener: (change: StatusChange) => void): () => void;
  /** Calls the listener with a copy of every envelope sent (passwords included: mask them before showing). */
  onSent(listener: (frame: BusRequest) => void): () => void;
}

/** Options of CtiBusHost. */
export interface CtiBusHostOptions {
  /** Origins whose iframes may use the bus; default this page's own origin. */
  widgetOrigins?: string[];
  /** Request patterns a widget may not send; default "Cisco/Agent/SetUserInfo". */
  refuse?: string[];
  /** The host page's window; tests pass another. */
  window?: Window;
}

/** Relays one CtiBus connection to the widgets embedded in the page's iframes. */
export class CtiBusHost {
  constructor(bus: CtiBus, options?: CtiBusHostOptions);
  /** The names of the widgets that said hello, in order. */
  readonly widgets: string[];
  /** Stops relaying. */
  close(): void;
}

/** Options of CtiBusWidget. */
export interface CtiBusWidgetOptions {
  /** The name the widget asks for; the host page may give another. */
  app: string;
  /** The origin of the desktop page; default this widget's own origin. */
  hostOrigin?: string;
  /** Milliseconds a request waits for its answer; default 10000. */
  requestTimeout?: number;
  /** The widget's window; tests pass another. */
  window?: Window;
}

/** The bus as a widget in an iframe sees it, through the desktop page that embeds it. */
export class CtiBusWidget {
  constructor(options: CtiBusWidgetOptions);
  /** The name the host gave. */
  name: string | null;
  /** Says hello to the host page; resolves with the name the host gave the widget. */
  connect(): Promise<string>;
  /** Stops listening to the host. */
  close(): void;
  /** Calls the listener with every relayed event that matches the pattern, typed by it. */
  on<P extends string>(pattern: P, listener: (event: EventOf<P>) => void): () => void;
  /** Asks the host to relay the events that match a pattern. */
  subscribe(channel: string, topic: string, subtopic: string): Promise<null>;
  /** Asks the host to stop relaying a pattern. */
  unsubscribe(channel: string, topic: string, subtopic: string): Promise<null>;
  /** Sends a request over the host's connection; resolves with its answer. */
  request<C extends string, T extends string, S extends string, E extends string = "*/*/*">(
    channel: C,
    topic: T,
    subtopic: S,
    data?: DataOf<C, T, S>,
    options?: RequestOptions<E>,
  ): Promise<EventOf<E>>;
  /** Sends a message to the other widgets of the page and the other apps of the workspace. */
  publish(channel: string, topic: string, subtopic: string, data?: unknown): Promise<{ id: string } | null>;
}

// ---- generated from docs/asyncapi.yaml by `go test ./web -run TestDeclarations -update`: do not edit below ----
/** A name (protocol 2.2): 1 to 64 bytes of printable ASCII, no `*` or `/`, no space at either end. */
export type Name = string;

/** A segment of a subscription pattern: a name, or `*` alone. */
export type PatternSegment = Name | "*";

/** ISO-8601 in UTC with milliseconds. */
export type Timestamp = string;

/** An id or code: a string, or a JSON integer read as its digits exactly as written (protocol 5, request values). */
export type IdValue = string | number;

/** An id or code that may be empty: a string, or a JSON integer read as its digits. */
export type OptionalIdValue = string | number;

/** A flag: a JSON boolean, or the string `true` or `false` in any case. */
export type Flag = boolean | string;

/** A request envelope, app to bus (protocol 2.1). Keys match ignoring case and surrounding white space, and `message` is accepted in place of `data`; the schemas name the canonical spelling. Unknown keys are ignored. */
export interface RequestEnvelope {
  channel: Name;
  /** The payload; `null` is no data. */
  data?: unknown;
  /** Chosen by the app; copied into the `correlationId` of every event the request causes. `null` or `""` is no id. */
  id?: string | null;
  /** The app's name; read only by `PubSub/App/Register`. */
  source?: string;
  subtopic: Name;
  topic: Name;
}

/** An event envelope, bus to app (protocol 2.3). Keys come in this order: id, channel, topic, subtopic, source, message, data, correlationId, timestamp. */
export interface EventEnvelope {
  channel: Name;
  /** The `id` of the request that caused the event; absent otherwise. */
  correlationId?: string;
  /** Only on `Error/SetAPIError` (see ApiErrorNested). */
  data?: unknown;
  /** A fresh UUID for the event. */
  id: string;
  /** The payload. */
  message: unknown;
  /** `ctibus` for the bus's own events; the sender's registered name for an app-to-app message. */
  source: string;
  subtopic: Name;
  timestamp: Timestamp;
  topic: Name;
}

export interface ApiErrorFields {
  /** Only where Finesse gives one: the CTI error code of a `CF_...` message, the name of a missing parameter, or the action a Generic Error refused. */
  errorData?: string;
  /** The technical detail, at most 1,024 bytes. */
  errorMessage: string;
  /** The category; apps branch on it (protocol 4.7, 5.12). */
  errorType: "Invalid Frame" | "Invalid Input" | "Parameter Missing" | "Unknown API" | "Not Registered" | "Invalid Pattern" | "Limit Exceeded" | "Rate Limited" | "Forbidden" | "Invalid Credentials" | "Unavailable" | "Internal Error" | "Authorization Failure" | "Account Locked" | "Invalid Device" | "Device Busy" | "Call Operation Failure" | "Generic Error" | "Invalid State" | "User Not Found" | "Not Found" | "Invalid Supervisor";
  /** For a person: what went wrong and what to do. */
  msg: string;
}

/** The payload of `Error/SetAPIError` under `message`. */
export interface ApiError {
  data: ApiErrorFields;
  packet: "apierror";
}

/** The same error under `data`, nested as the Acqueon sample nests it (`data` then `"data "`, with the trailing space). */
export interface ApiErrorNested {
  "data ": ApiErrorFields;
  packet: "apierror";
}

/** At most one credential of `token`, `secret` and `jwt`. Unknown keys are ignored. */
export interface RegisterData {
  /** `true` lets the bus put several envelopes in one frame (4.1.1). */
  batch?: boolean;
  /** A channel to register on; not `PubSub`. */
  channel?: Name;
  /** A server-side app's JWT (4.5). */
  jwt?: string;
  /** A server-side app's secret (4.5). */
  secret?: string;
  /** A workspace token: joins the agent's workspace (4.5). */
  token?: string;
}

export interface UnregisterData {
  channel: Name;
}

export interface PatternData {
  channel: PatternSegment;
  subtopic: PatternSegment;
  topic: PatternSegment;
}

export interface Registration {
  app: Name;
  /** Present while the connection receives batched frames. */
  batch?: true;
  /** The channel just registered or unregistered; absent when the request named none. */
  channel?: Name;
  /** What the request changed: the channel, or `[]`. */
  channels: Name[];
}

export interface Pattern {
  channel: PatternSegment;
  subtopic: PatternSegment;
  topic: PatternSegment;
}

export interface WorkspaceToken {
  /** The loginId of the agent. */
  agentId: string;
  expiresAt: Timestamp;
  /** 256 random bits in URL-safe base64 without padding. */
  token: string;
}

export interface WorkspaceEnded {
  agentId: string;
  reason: string;
}

export type State = "LOGOUT" | "NOT_READY" | "READY" | "RESERVED" | "RESERVED_OUTBOUND" | "RESERVED_OUTBOUND_PREVIEW" | "TALKING" | "HOLD" | "WORK" | "WORK_READY" | "UNKNOWN";

export interface Team {
  id: string;
  name: string;
  uri: string;
}

export interface ReasonCode {
  category: "NOT_READY" | "LOGOUT";
  code: string;
  forAll: "true" | "false";
  id: string;
  label: string;
  systemCode: "true" | "false";
  uri: string;
}

/** The Finesse User (protocol 5.5). */
export interface User {
  ReasonCode?: ReasonCode;
  /** Time in the current state: mm:ss or hh:mm:ss. */
  agentTime: string;
  dialogs: string;
  /** The extension signed in on, 3 to 15 digits; empty when signed out. */
  extension: string;
  firstName: string;
  issupervisor: boolean;
  lastName: string;
  loginId: string;
  loginName: string;
  mediaType: "1";
  /** The state that applies when the agent's call ends. */
  pendingState: "" | "READY" | "NOT_READY" | "LOGOUT";
  reasonCodeId: string;
  roles: ("Agent" | "Supervisor")[];
  settings: {
    wrapUpOnIncoming: WrapUpSetting;
    wrapUpOnOutgoing: WrapUpSetting;
  };
  state: State;
  /** When the state last changed; empty before the first sign-in. */
  stateChangeTime: string;
  teamId: string;
  teamName: string;
  /** The teams a supervisor supervises; `[]` for an agent. */
  teams: Team[];
  uri: string;
  /** Seconds. */
  wrapUpTimer: string;
}

export type WrapUpSetting = "OPTIONAL" | "REQUIRED" | "NOT_ALLOWED" | "REQUIRED_WITH_WRAP_UP_DATA";

export interface CallVariable {
  name: string;
  value: string;
}

export interface Participant {
  actions: ("ANSWER" | "ACCEPT" | "CLOSE" | "REJECT" | "HOLD" | "RETRIEVE" | "DROP" | "UPDATE_CALL_DATA" | "CONSULT_CALL" | "TRANSFER_SST" | "TRANSFER" | "CONFERENCE" | "BARGE_CALL")[];
  mediaAddress: string;
  mediaAddressType: string;
  startTime: Timestamp;
  state: "INITIATED" | "ALERTING" | "ACCEPTED" | "ACTIVE" | "HELD" | "FAILED" | "WRAP_UP" | "DROPPED";
  stateCause: "" | "BUSY" | "OTHER";
  stateChangeTime: Timestamp;
}

/** A Finesse Dialog: one call (protocol 5.13). */
export interface Dialog {
  fromAddress: string;
  id: string;
  mediaProperties: {
    DNIS: string;
    callType: "ACD_IN" | "OUT" | "AGENT_INSIDE" | "CONSULT" | "TRANSFER" | "CONFERENCE" | "SUPERVISOR_MONITOR" | "OUTBOUND_PREVIEW" | "OUTBOUND";
    /** The loginId of the agent whose desktop gave the call variables. */
    callVariablesFrom?: string;
    /** callVariable1 to callVariable10, then a campaign's BA* variables, then ECC variables `user.<name>`. */
    callvariables: CallVariable[];
    dialedNumber: string;
    mediaId: string;
    /** The wrap-up reason, once set. */
    wrapUpReason?: string;
  };
  mediaType: "Voice";
  participants: Participant[];
  state: "INITIATED" | "ALERTING" | "ACCEPTED" | "ACTIVE" | "FAILED" | "DROPPED";
  toAddress: string;
  uri: string;
}

/** Which state requests the contact center accepts from the agent now, its calls and wrap-up included (protocol 5.5). */
export interface Rules {
  /** `user` is absent when no agent is signed in; `dialog` only in GetAppState, when the agent has a call. */
  ResponseActual: {
    dialog?: Dialog;
    user?: User;
  };
  ResponseText: "Success";
  ResponseType: 0;
  SequentialActions: {
    count: 3;
    items: {
      LOGOUT: "Enable" | "Disable";
      NOT_READY: "Enable" | "Disable";
      READY: "Enable" | "Disable";
    };
  };
}

/** `Cisco/Agent/SetAgentState`: the Finesse User and the rules (protocol 5.5). */
export interface AgentState {
  /** The fields of `data` this event changed, in the order state, reasonCodeId, pendingState, extension; `[]` for a report (an answer, a re-login, or a WrapUpCall that lets the agent leave wrap-up). */
  changed: ("state" | "reasonCodeId" | "pendingState" | "extension")[];
  data: User;
  rules: Rules;
}

/** The Acqueon Get APP State reply, without the password (protocol 5.6). */
export interface AppState {
  ctiState: {
    State: State;
    agentState: State;
    makeCall: null;
    rules: Rules;
    userInfo: {
      extension: string;
      ismobileagent: false;
      mobileagentmode: "";
      mobilenumber: "";
      username: string;
    };
  };
}

/** The agent's calls, oldest first (protocol 5.13). */
export interface CallsState {
  calls: Dialog[];
  isNonVoice: false;
  source: "api";
}

export interface Connection {
  connectionId: string;
  extension: string;
  loginId: string;
  resourceID: string;
  status: "opened" | "connected" | "disconnected";
}

export interface Login {
  relogin: boolean;
  status: "success";
  user: User;
}

export interface MRD {
  description: string;
  id: string;
  mediaClass: "voice" | "chat" | "email";
  name: string;
}

export interface MRDList {
  data: MRD[];
  packet: "MRDList";
}

export interface Media {
  description: string;
  dialogLogoutAction: "CLOSE" | "TRANSFER";
  id: string;
  interruptAction: "ACCEPT" | "IGNORE";
  interruptible: "true" | "false";
  maxDialogLimit: string;
  name: string;
  reasonCodeId: string;
  routable: "true" | "false";
  state: State;
  /** When the state last changed. */
  stateChangeTime: string;
  uri: string;
}

export interface MediaList {
  data: Media[];
  packet: "Media";
}

export interface Node {
  host: string;
  httpsPort: string;
  xmppPort: string;
  xmppSecurePort: string;
}

/** The Acqueon System Information reply: the Finesse SystemInfo (protocol 5.7). */
export interface SystemInfo {
  packet: "systeminfo";
  systeminfo: {
    ctiHeartbeatInterval: string;
    ctiVersion: string;
    currentTimestamp: Timestamp;
    deploymentType: "UCCE" | "UCCX";
    lastCTIHeartbeatStatus: "Success" | "Failure";
    /** Unix milliseconds. */
    lastSuccessCTIHeartbeatTime: string;
    license: string;
    peripheralId: string;
    primaryNode: Node;
    secondaryNode: Node;
    status: "IN_SERVICE" | "OUT_OF_SERVICE" | "PARTIAL_SERVICE";
    statusReason: string;
    systemAuthMode: "NON_SSO" | "SSO" | "HYBRID";
    timeDiffSeconds: number;
    /** Minutes east of UTC. */
    timezoneOffset: string;
    uri: "/finesse/api/SystemInfo";
    xmppDomain: string;
    xmppPubSubDomain: string;
  };
}

export interface MappedMRDList {
  data: ({
    id: string;
    mediaClass: "voice" | "chat" | "email";
    name: string;
    state: State;
  })[];
  packet: "MappedMRD";
}

export interface MediaMap {
  data: { [key: string]: string };
  packet: "Map";
}

export interface ReasonCodes {
  category: "NOT_READY" | "LOGOUT";
  data: ReasonCode[];
  packet: "ReasonCodes";
}

export interface PhoneBooks {
  data: ({
    contacts: {
      description: string;
      firstName: string;
      lastName: string;
      phoneNumber: string;
      uri: string;
    }[];
    name: string;
    type: "GLOBAL" | "TEAM";
    uri: string;
  })[];
  packet: "phoneBook";
}

export interface WrapUpCodes {
  data: ({
    forAll: "true" | "false";
    id: string;
    label: string;
    uri: string;
  })[];
  packet: "WrapUpCodes";
}

/** The team feed: an agent of a supervised team changed (protocol 5.14). */
export interface TeamAgentState {
  /** The fields of `data` this event changed, in the order state, reasonCodeId, pendingState, extension; `[]` for a report (an answer, a re-login, or a WrapUpCall that lets the agent leave wrap-up). */
  changed: ("state" | "reasonCodeId" | "pendingState" | "extension")[];
  data: User;
  teamId: string;
}

/** Every agent of one supervised team (protocol 5.14). */
export interface TeamState {
  agents: User[];
  teamId: string;
  teamName: string;
}

/** `data` is ignored. */
export type NoData = unknown;

export interface SetUserInfoData {
  /** 3 to 15 digits: a phone of the contact center. */
  extension: IdValue;
  /** At most 256 bytes; never echoed. */
  password: string;
  /** The agent's loginId (exact) or loginName (any case); at most 128 bytes. */
  username: IdValue;
}

export interface ReasonCodeData {
  /** The `id` of a reason code; absent, `""` or `"-1"` when the team has none. */
  ReasonCodeId?: OptionalIdValue;
}

/** Call variables: an object of name to value, or Finesse's list of `{name, value}`. */
export type CallVariables = { [key: string]: string } | CallVariable[];

export interface MakeCallData {
  callVariables?: CallVariables;
  toAddress: IdValue;
}

export interface CallActionData {
  /** The dialog's id. */
  CallID: IdValue;
  /** If given, the agent's extension. */
  MediaAddress?: OptionalIdValue;
}

export interface CallToData {
  CallID: IdValue;
  MediaAddress?: OptionalIdValue;
  /** The number to consult or transfer to. */
  toAddress: IdValue;
}

/** Either `wrapup` (Iscustomwrapup false or absent) or `customwrapup` (Iscustomwrapup true), never both. */
export interface WrapUpCallData {
  Iscustomwrapup?: Flag;
  callID: IdValue;
  /** A text of 1 to 39 bytes, with Iscustomwrapup true. */
  customwrapup?: string;
  /** The id or label of one of the agent's wrap-up reasons. */
  wrapup?: OptionalIdValue;
}

export interface TeamAgentNotReadyData {
  /** `-1` or absent. */
  ReasonCodeId?: OptionalIdValue;
  /** `NotReady`. */
  State: string;
  /** The agent's loginId or loginName (also `Username`). */
  UserName: IdValue;
}

export interface TeamAgentLogoutData {
  /** `Logout`, if given. */
  State?: string;
  UserName: IdValue;
}

export interface SilentMonitoringData {
  UserName: IdValue;
  fromAddress?: OptionalIdValue;
  toAddress?: OptionalIdValue;
}

export interface BargeData {
  /** The supervisor's monitor dialog. */
  CallId: IdValue;
  Username: IdValue;
  fromAddress?: OptionalIdValue;
  toAddress?: OptionalIdValue;
}

export interface IncomingCallData {
  callVariables?: CallVariables;
  dnis?: OptionalIdValue;
  from: IdValue;
  kind?: "" | "inbound" | "preview" | "progressive";
}

/** The data of each request the bus handles, by triple (aliases included). Keys of data match ignoring case. */
export interface RequestData {
  "Cisco/Agent/GetAgentState": NoData;
  "Cisco/Agent/GetPhoneDirectory": NoData;
  "Cisco/Agent/GetWrapupReasonCode": NoData;
  "Cisco/Agent/SetNotReadyState": ReasonCodeData;
  "Cisco/Agent/SetReadyState": NoData;
  "Cisco/Agent/SetSilentMonitoring": SilentMonitoringData;
  "Cisco/Agent/SetUserInfo": SetUserInfoData;
  "Cisco/Agent/WrapUpCall": WrapUpCallData;
  "Cisco/Call/GetAppState": NoData;
  "Cisco/Call/GetCallState": NoData;
  "Cisco/Connection/Logout": ReasonCodeData;
  "Cisco/General/GetAppState": NoData;
  "Cisco/General/GetSystemInfo": NoData;
  "Cisco/InboundCall/SetACCEPT": CallActionData;
  "Cisco/InboundCall/SetANSWER": CallActionData;
  "Cisco/InboundCall/SetAnswer": CallActionData;
  "Cisco/InboundCall/SetBARGE CALL": BargeData;
  "Cisco/InboundCall/SetCLOSE": CallActionData;
  "Cisco/InboundCall/SetCONFERENCE": CallActionData;
  "Cisco/InboundCall/SetCONSULT": CallToData;
  "Cisco/InboundCall/SetDROP": CallActionData;
  "Cisco/InboundCall/SetHOLD": CallActionData;
  "Cisco/InboundCall/SetMakeCall": MakeCallData;
  "Cisco/InboundCall/SetREJECT": CallActionData;
  "Cisco/InboundCall/SetRETRIEVE": CallActionData;
  "Cisco/InboundCall/SetTRANSFER": CallActionData;
  "Cisco/InboundCall/SetTRANSFER_SST": CallToData;
  "Cisco/OutboundCall/SetACCEPT": CallActionData;
  "Cisco/OutboundCall/SetANSWER": CallActionData;
  "Cisco/OutboundCall/SetAnswer": CallActionData;
  "Cisco/OutboundCall/SetBARGE CALL": BargeData;
  "Cisco/OutboundCall/SetCLOSE": CallActionData;
  "Cisco/OutboundCall/SetCONFERENCE": CallActionData;
  "Cisco/OutboundCall/SetCONSULT": CallToData;
  "Cisco/OutboundCall/SetDROP": CallActionData;
  "Cisco/OutboundCall/SetHOLD": CallActionData;
  "Cisco/OutboundCall/SetMakeCall": MakeCallData;
  "Cisco/OutboundCall/SetREJECT": CallActionData;
  "Cisco/OutboundCall/SetRETRIEVE": CallActionData;
  "Cisco/OutboundCall/SetTRANSFER": CallActionData;
  "Cisco/OutboundCall/SetTRANSFER_SST": CallToData;
  "Cisco/Simulator/IncomingCall": IncomingCallData;
  "Cisco/Team/GetTeamState": NoData;
  "Cisco/Team/SetSilentMonitoring": SilentMonitoringData;
  "Cisco/Team/SetTeamAgentLogout": TeamAgentLogoutData;
  "Cisco/Team/SetTeamAgentNotReadyState": TeamAgentNotReadyData;
  "PubSub/App/Register": RegisterData;
  "PubSub/App/Unregister": UnregisterData;
  "PubSub/Subscription/Subscribe": PatternData;
  "PubSub/Subscription/Unsubscribe": PatternData;
}

/** The message of each event of the bus, by triple. */
export interface EventPayloads {
  "Cisco/Agent/Login": Login;
  "Cisco/Agent/SetAgentState": AgentState;
  "Cisco/Agent/SetLogOutReasonCodes": ReasonCodes;
  "Cisco/Agent/SetNotReadyReasonCodes": ReasonCodes;
  "Cisco/Agent/SetPhoneBook": PhoneBooks;
  "Cisco/Agent/SetPhoneDirectory": PhoneBooks;
  "Cisco/Agent/SetWrapupCode": WrapUpCodes;
  "Cisco/Call/CallsStateChange": CallsState;
  "Cisco/Call/GetAppState": AppState;
  "Cisco/Connection/OpenConnection": Connection;
  "Cisco/Connection/SetConnectionStatus": Connection;
  "Cisco/Error/SetAPIError": ApiError;
  "Cisco/General/GetAppState": AppState;
  "Cisco/General/SetSystemInfo": SystemInfo;
  "Cisco/Media/GetMedia": MediaList;
  "Cisco/Media/Map": MediaMap;
  "Cisco/Media/SetMRDList": MRDList;
  "Cisco/Media/SetMappedMRD": MappedMRDList;
  "Cisco/Team/SetTeamAgentState": TeamAgentState;
  "Cisco/Team/SetTeamState": TeamState;
  "PubSub/App/Registered": Registration;
  "PubSub/App/Unregistered": Registration;
  "PubSub/Error/SetAPIError": ApiError;
  "PubSub/Subscription/Subscribed": Pattern;
  "PubSub/Subscription/Unsubscribed": Pattern;
  "PubSub/Workspace/Ended": WorkspaceEnded;
  "PubSub/Workspace/Token": WorkspaceToken;
}

// ---- end of the generated part ----
