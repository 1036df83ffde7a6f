// The platform-neutral client: validation with the API's own rules,
// queueing, batching and retries. browser.ts and node.ts add transport,
// persistence and lifecycle hooks. Written as closures rather than classes so
// the minifier can shorten every internal name: the browser bundle has a
// 4 KB budget.

export type Level = "debug" | "info" | "warn" | "error" | "fatal";
export type Attributes = Record<string, unknown>;

/** One event as the API receives it (docs/api.md). */
export interface CuratedEvent {
  event: string;
  level?: Level;
  message?: string;
  /** Unix milliseconds, fixed when tracked: a resent event is the same Loki entry. */
  timestamp: number;
  attributes?: Attributes;
  session_id?: string;
  user_id?: string;
  anonymous_id?: string;
  trace_id?: string;
  span_id?: string;
}

/** Why events will not reach Loki (the second argument of onDrop). */
export type DropReason =
  | "invalid" // refused before queueing: the API would reject it; detail names the field
  | "before_send" // beforeSend returned nothing
  | "queue_full" // the oldest events made room for newer ones
  | "rejected" // the API refused the event (4xx); detail names field and code
  | "gave_up" // still failing after maxRetries answers
  | "shutdown" // still queued when shutdown's deadline passed
  | "consent"; // tracked or queued while consent is denied (browser: optOut)

export interface Options {
  /** The API's base URL, or the full URL of POST /v1/events. */
  endpoint: string;
  /** The API key (browsers: a browser key; it travels in the URL). */
  key?: string;
  service?: string;
  release?: string;
  env?: string;
  /** Added to every event's attributes (the event's own keys win). */
  attributes?: Attributes;
  userId?: string;
  /** Most events in one request. */
  batchEvents?: number;
  /** Most bytes in one request. */
  batchBytes?: number;
  /** How long (ms) the first queued event waits for company. */
  flushInterval?: number;
  maxQueueEvents?: number;
  maxQueueBytes?: number;
  maxRetries?: number;
  minBackoff?: number;
  maxBackoff?: number;
  /** The component's max_attributes and max_event_bytes, if changed from 64 and 32 KiB. */
  maxAttributes?: number;
  maxEventBytes?: number;
  /** Change an event, or return null to drop it. */
  beforeSend?: (e: CuratedEvent) => CuratedEvent | null | false | undefined;
  /** Keep this share (0 to 1) of the events of a name: {"page.view": 0.1}. Left out events count in stats().sampled. */
  sample?: Record<string, number>;
  /** Told how many events the API accepted, after each answer. */
  onSent?: (n: number) => void;
  onDrop?: (events: CuratedEvent[], reason: DropReason, detail?: string) => void;
  /** Every drop also as a console warning (when there is no onDrop). Default false. */
  debug?: boolean;
}

export interface TrackOptions {
  level?: Level;
  message?: string;
  session_id?: string;
  user_id?: string;
  anonymous_id?: string;
  trace_id?: string;
  span_id?: string;
}

export interface Stats {
  /** Events in the queue now (in flight included). */
  queued: number;
  sent: number;
  dropped: number;
  /** Left out by the sample option, on purpose. */
  sampled: number;
}

export interface Client {
  track(event: string, attributes?: Attributes, options?: TrackOptions): void;
  /** Resolves true once everything queued so far was answered, false at the deadline. */
  flush(timeoutMs?: number): Promise<boolean>;
  shutdown(timeoutMs?: number): Promise<boolean>;
  stats(): Stats;
}

// The core and its platforms talk through labelled tuples, not objects:
// a user's bundler keeps property names (it cannot know they are private),
// but shortens local names, and the browser entry has a 4 KB budget.

/** What the platforms get of a client beside it. */
export type Internals = [
  /** Resume sending now (back online, page shown again). */
  wake: () => void,
  /** Queue events stored by another page (or an earlier client), and send them at once. */
  adopt: (events: CuratedEvent[]) => void,
  /** Queued events not in flight (all of them with all). */
  pending: (all?: boolean) => Item[],
  /** The request body for items. */
  body: (items: Item[]) => string,
  /** Count items as sent by other means (a beacon) and forget them. */
  ack: (items: Item[]) => void,
  /** Forget items without counting them: another page took them over. */
  forget: (items: Item[]) => void,
  /** Hand every unsent event, now and after the request in flight, to another client. */
  detach: (to: (events: CuratedEvent[]) => void) => void,
];

/** One queued event: its wire object, JSON text, byte size, queue order, and whether this page's storage slot holds it. */
export interface Item {
  e: CuratedEvent;
  s: string;
  n: number;
  i: number;
  p?: boolean;
}

/** One entry of a response's errors (docs/api.md). */
export interface ApiError {
  index?: number;
  field?: string;
  code?: string;
  reason?: string;
}

/** What a transport saw: status 0 for a network error, Retry-After, the response's errors. */
export type Reply = [status: number, retryAfter?: string | null, errors?: ApiError[]];

/** What a platform gives the core. */
export type Platform = [
  /** Defaults for this platform. */
  defaults: Partial<Options>,
  send: (url: string, body: string, signal: AbortSignal) => Promise<Reply>,
  /** Called after every change of the queue (browser: persistence). */
  changed?: (q: Item[]) => void,
  /** Items another page took over since they were stored (browser). */
  taken?: () => Item[],
  /** Told whether each answer proved the API reachable (browser: shared across pages). */
  outcome?: (ok: boolean) => void,
  /** Whether the network is down (browser: navigator.onLine). */
  offline?: () => boolean,
  /** Extra per-event fields (browser: session id, page). */
  decorate?: (e: CuratedEvent) => void,
  /** Told about every timer (Node: unref). */
  timer?: (t: ReturnType<typeof setTimeout>) => void,
  /** Keep the process alive while someone waits for a flush (Node). */
  hold?: (on: boolean) => void,
];

const NAME = /^[\w.:-]{1,128}$/;
const NAMES = "1-128 of A-Za-z0-9_.:-";
const why = (x?: ApiError) => x && `${x.field || "event"}: ${x.code} (${x.reason})`;
// The API refuses ASCII control characters other than tab, newline and CR
// in text, and all of them in IDs; lone surrogates become U+FFFD (where the
// browser lacks toWellFormed, the API does that). The conformance set
// (testdata/conformance/events.json) pins both.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
export const bytes = (s: string): number => new Blob([s]).size;
const text = (s: string) => ((s as { toWellFormed?(): string }).toWellFormed?.() ?? s).replace(CONTROL, "\ufffd");

/**
 * scrub removes the userinfo, query string and fragment of every URL in s:
 * error messages and stacks quote URLs, and keys travel in queries. Every
 * text the SDK builds from an error passes here.
 */
export const scrub = (s: string): string => s.replace(/(\w+:\/\/)(?:[^\s/?#@"'`<>]*@)?([^\s?#"'`<>]*)[?#][^\s"'`<>]*/g, "$1$2");

/** Turns any value into what the API accepts, or throws a message naming the path. */
export function clean(v: unknown, path: string, depth: number): unknown {
  if (depth > 8) throw `${path}: nested over 8 levels`;
  if (typeof v == "string") return text(v);
  if (typeof v == "bigint") return String(v);
  // JSON.stringify does the rest: NaN and infinities become null, a Date
  // its ISO 8601 text, functions and symbols nothing.
  if (!v || typeof v != "object" || v instanceof Date) return v;
  if (v instanceof Error) return text(scrub(String(v))); // "TypeError: message"
  if (Array.isArray(v)) return v.map((x, k) => clean(x, path + "." + k, depth + 1));
  // No prototype: "__proto__" stays an ordinary key.
  const o: Attributes = Object.create(null);
  for (const k in v) {
    if (!k) continue;
    const key = text(k);
    if (bytes(key) > 128) throw path + ": a key over 128 bytes";
    o[key] = clean((v as Attributes)[k], path + "." + k, depth + 1);
  }
  return o;
}

/** The backoff before retry number attempt (from 1): Retry-After when given (seconds or an HTTP date, at most 5 min), else exponential with jitter. */
export function delay(attempt: number, retryAfter: string | null | undefined, min: number, max: number): number {
  const ms = retryAfter ? +retryAfter * 1000 || Date.parse(retryAfter) - Date.now() : NaN;
  if (ms >= 0) return Math.min(ms, 300000);
  const d = Math.min(max, min * 2 ** (attempt - 1));
  return d / 2 + (Math.random() * d) / 2;
}

/**
 * route replaces path segments that look like ids with :id: numbers, and
 * segments of 16 or more characters with a digit that are hex (UUIDs,
 * digests) or have no dashes (opaque IDs such as Places' ChIJN1t_tDeuEmsRUsoyG83frY4);
 * "partner-applications-2024" stays. The same rule as the Go SDK's.
 */
export function route(u: URL): string {
  return u.pathname
    .split("/")
    .map((s) => {
      const [id, ext = ""] = s.split(/(?=\.\w+$)/);
      return /^\d+$/.test(id) || (id.length >= 16 && /\d/.test(id) && /^([\da-f-]+|[\w]+)$/i.test(id)) ? ":id" + ext : s;
    })
    .join("/");
}

/**
 * errorArgs turns an error into track's arguments: the event (default
 * "error") at level error with error_type, error and stack, every URL in
 * them scrubbed. error() of each entry point sends it.
 */
export function errorArgs(err: unknown, attributes?: Attributes, { event = "error", ...t }: TrackOptions & { event?: string } = {}): [string, Attributes, TrackOptions] {
  const e = err instanceof Error ? err : new Error(String(err));
  const m = scrub(e.message);
  return [event, { error_type: e.name, error: m, stack: e.stack && scrub(e.stack), ...attributes }, { level: "error", message: m, ...t }];
}

/** The head of items that fits in one request: at most max events and bytes (one event always). */
export function chunk(items: Item[], max: number, bytes: number): Item[] {
  let n = 0;
  for (let b = 0; n < items.length && n < max && (!n || b + items[n].n < bytes); n++) b += items[n].n + 1;
  return items.slice(0, n);
}

/** The URL of POST /v1/events for an endpoint given as a base URL or as that URL. */
export const eventsURL = (endpoint: string): string =>
  /\/v1\/events\/?$/.test(endpoint) ? endpoint : endpoint.replace(/\/+$/, "") + "/v1/events";

export function createClient(opts: Options, [defaults, send, changed, taken, outcome, offline, decorate, timed, hold]: Platform): [Client, ...Internals] {
  // Queue and batch sizes come from the platform's defaults.
  const o = { flushInterval: 1000, maxRetries: 10, minBackoff: 500, maxBackoff: 30000, maxAttributes: 64, maxEventBytes: 32768, ...defaults, ...opts } as Required<Options>;
  const url = eventsURL(o.endpoint);
  const ctx: Attributes = { ...o.attributes };
  if (o.release) ctx.release = o.release;
  if (o.env) ctx.env = o.env;
  const context = JSON.stringify({ service: o.service, attributes: Object.keys(ctx).length ? clean(ctx, "attributes", 0) : undefined });
  let q: Item[] = [];
  let seq = 0;
  let size = 0;
  let busy = false;
  let closed = false;
  let urgent = false;
  let attempts = 0; // failures in a row: the backoff
  let answers = 0; // of which the API answered: these give up after maxRetries
  let wakeAt = 0;
  let limit = o.batchEvents;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Item[] = [];
  let abort: AbortController | undefined;
  let handoff: ((events: CuratedEvent[]) => void) | undefined;
  // Each flush waits for the queue order of its last event: [i, resolve].
  let waiters: [number, (ok: boolean) => void][] = [];
  const st = { sent: 0, dropped: 0, sampled: 0 };

  const onDrop = o.onDrop || (o.debug ? (e: CuratedEvent[], r: DropReason, d?: string) => console.warn("curated: dropped", e, r, d) : 0);
  const drop = (items: Item[], reason: DropReason, detail?: string) => {
    if (!items.length) return;
    st.dropped += items.length;
    try {
      onDrop && onDrop(items.map((x) => x.e), reason, detail);
    } catch {
      /* the app's callback must not stop the client */
    }
  };
  // remove takes items out of the queue and settles the flushes they end.
  const remove = (gone: Item[]) => {
    const set = new Set(gone);
    q = q.filter((x) => !set.has(x));
    size = q.reduce((n, x) => n + x.n, 0);
    changed?.(q);
    settle();
  };
  // A waiter is done when nothing queued up to its last event is left.
  const settle = (w = waiters) => {
    waiters = w.filter((x) => (q.length && q[0].i <= x[0]) || void x[1](true));
    if (!waiters.length) (urgent = false), hold?.(false);
  };
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(f, ms);
    timed?.(t);
    return t;
  };
  const schedule = (ms: number) => {
    timer ??= later(ms, () => {
      timer = undefined;
      pump();
    });
  };
  const kick = () => {
    if (handoff) {
      const rest = q.filter((x) => !sending.includes(x));
      if (rest.length) handoff(rest.map((x) => x.e)), remove(rest);
      return;
    }
    if (!q.length || busy) return;
    if (urgent || q.length >= limit || size >= o.batchBytes) pump();
    else schedule(o.flushInterval);
  };

  /** Sends the head of the queue; one request at a time keeps the order. */
  const pump = async (): Promise<void> => {
    // What another page took over is its to send.
    const theirs = taken?.();
    if (theirs?.length) remove(theirs);
    if (busy || !q.length || handoff) return;
    const wait = wakeAt - Date.now();
    if (wait > 0) return schedule(wait);
    if (offline?.()) return; // the platform calls wake() when back online
    const batch = (sending = chunk(q, limit, o.batchBytes));
    busy = true;
    abort = new AbortController();
    let r: Reply;
    try {
      r = await send(url, body(batch), abort.signal);
    } catch {
      r = [0];
    }
    busy = false;
    sending = [];
    answered(batch, r);
    kick();
  };

  const answered = (batch: Item[], r: Reply) => {
    const [s, , errs = []] = r;
    outcome?.(s > 0 && s < 500 && s != 408 && s != 429);
    if (s == 413 && batch.length > 1) return void (limit = Math.ceil(batch.length / 2)); // split until it fits
    // Per-event refusals are final; not_forwarded ones are sent again, alone (api.md).
    const again = new Set<Item>();
    const refused = new Set<Item>();
    for (const x of errs) {
      const it = batch[x.index!];
      if (it && !refused.has(it)) x.code == "not_forwarded" ? again.add(it) : (refused.add(it), drop([it], "rejected", why(x)));
    }
    const rest = again.size ? [...again] : batch;
    if (again.size || !s || s == 408 || s == 429 || s >= 500) {
      if (again.size) {
        st.sent += batch.length - rest.length - refused.size;
        remove(batch.filter((x) => !again.has(x)));
      }
      return closed ? (drop(rest, "shutdown", "HTTP " + s), remove(rest)) : retry(r, rest);
    }
    attempts = answers = 0;
    limit = o.batchEvents;
    // The rest of a refused request is refused with it.
    if (s < 300) {
      st.sent += batch.length - refused.size;
      try {
        o.onSent?.(batch.length - refused.size);
      } catch {
        /* the app's callback must not stop the client */
      }
    }
    else drop(batch.filter((x) => !refused.has(x)), "rejected", why(refused.size ? undefined : errs[0]) || "HTTP " + s);
    remove(batch);
  };

  // Answers count towards maxRetries; network errors (offline, the API
  // down, blocked) are retried until the API answers: what is kept
  // meanwhile is the queue's bounds' business.
  const retry = ([s, after]: Reply, batch: Item[]) => {
    attempts++;
    if (s && ++answers > o.maxRetries) {
      attempts = answers = 0;
      drop(batch, "gave_up", "HTTP " + s);
      return remove(batch);
    }
    wakeAt = Date.now() + delay(attempts, after, o.minBackoff, o.maxBackoff);
  };

  // sent_at is this attempt's clock: the API corrects the events' timestamps by its skew.
  const body = (items: Item[]) => `{"sent_at":${Date.now()},"context":${context},"events":[${items.map((x) => x.s).join(",")}]}`;
  const item = (e: CuratedEvent, s = ""): Item => ({ e, s, n: bytes(s), i: ++seq });
  /** add queues items (new or adopted), dropping the oldest over the bounds. */
  const add = (items: Item[]) => {
    for (const it of items) {
      q.push(it);
      size += it.n;
    }
    let k = 0;
    for (; q.length - k > o.maxQueueEvents || (size > o.maxQueueBytes && q.length - k > 1); k++) size -= q[k].n;
    const old = q.slice(0, k);
    q = q.slice(k);
    drop(old, "queue_full");
    changed?.(q);
    settle();
    kick();
  };

  const track = (event: string, attributes?: Attributes, t: TrackOptions = {}) => {
    const e: CuratedEvent = { event: String(event), timestamp: Date.now() };
    try {
      if (closed) throw "after shutdown";
      if (!NAME.test(e.event)) throw "event: " + NAMES;
      if (Math.random() >= (o.sample?.[e.event] ?? 1)) return void st.sampled++;
      if (t.level) e.level = t.level;
      if (t.message != null) e.message = text(String(t.message));
      if (attributes != null) {
        const a = clean(attributes, "attributes", 0) as Attributes;
        const keys = Object.keys(a).length;
        if (keys > o.maxAttributes) throw "attributes: over maxAttributes";
        if (keys) e.attributes = a;
      }
      decorate?.(e);
      e.user_id ||= o.userId;
      // IDs hold no control character at all; session, user and anonymous
      // IDs are at most 256 bytes (max), trace and span IDs are names (max 0).
      for (const [k, max] of [["session_id", 256], ["user_id", 256], ["anonymous_id", 256], ["trace_id", 0], ["span_id", 0]] as const) {
        const v = t[k] ?? e[k];
        if (v == null) continue;
        const id = (e[k] = text(String(v).replace(/[\t\n\r]/g, "\ufffd")));
        if (max ? bytes(id) > max : !NAME.test(id)) throw k + ": " + (max ? "over 256 bytes" : NAMES);
      }
    } catch (err) {
      return drop([item(e)], closed ? "shutdown" : err == "consent" ? "consent" : "invalid", String(err));
    }
    let out: CuratedEvent | null | false | undefined = e;
    try {
      if (o.beforeSend) out = o.beforeSend(e);
    } catch {
      /* a failing hook keeps the event as it is */
    }
    if (!out) return drop([item(e)], "before_send");
    const it = item(out, JSON.stringify(out));
    if (it.n > o.maxEventBytes) return drop([it], "invalid", "event: over maxEventBytes");
    add([it]);
  };

  const flush = (ms?: number): Promise<boolean> => {
    if (!q.length) return Promise.resolve(true);
    let w: [number, (ok: boolean) => void];
    const done = new Promise<boolean>((resolve) => waiters.push((w = [q[q.length - 1].i, resolve])));
    hold?.(true);
    urgent = true;
    pump();
    // At the deadline the flush answers false and stops waiting.
    if (ms != null) later(ms, () => (w[1](false), settle(waiters.filter((x) => x != w))));
    return done;
  };

  const client: Client = {
    track,
    flush,
    async shutdown(ms = 5000) {
      const ok = await flush(ms);
      closed = true;
      clearTimeout(timer);
      abort?.abort(); // a hanging request must not outlive the deadline
      const rest = q.filter((x) => !sending.includes(x));
      drop(rest, "shutdown", "deadline");
      remove(rest);
      return ok;
    },
    stats: () => ({ queued: q.length, ...st }),
  };
  return [
    client,
    () => ((wakeAt = 0), kick()),
    (events) => (add(events.map((e) => item(e, JSON.stringify(e)))), pump()),
    (all) => (all ? q : q.filter((x) => !sending.includes(x))),
    body,
    (items) => ((st.sent += items.length), remove(items)),
    remove,
    (to) => ((handoff = to), clearTimeout(timer), kick()),
  ];
}
