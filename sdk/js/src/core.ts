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
  trace_id?: string;
  span_id?: string;
}

/** Why events will not reach Loki (the second argument of onDrop). */
export type DropReason =
  | "invalid" // refused before queueing: the API would reject it
  | "before_send" // beforeSend returned nothing
  | "queue_full" // the oldest events made room for newer ones
  | "rejected" // the API refused the event (4xx); detail names field and code
  | "gave_up" // still failing after maxRetries
  | "shutdown"; // still queued when shutdown's deadline passed (Node)

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
  onDrop?: (events: CuratedEvent[], reason: DropReason, detail?: string) => void;
  /** Console warnings for mistakes and refusals (each distinct one once). Default true. */
  debug?: boolean;
}

export interface TrackOptions {
  level?: Level;
  message?: string;
  session_id?: string;
  user_id?: string;
  trace_id?: string;
  span_id?: string;
}

export interface Stats {
  /** Events in the queue now. */
  queued: number;
  sent: number;
  dropped: number;
}

export interface Client {
  track(event: string, attributes?: Attributes, options?: TrackOptions): void;
  error(err: unknown, attributes?: Attributes, options?: TrackOptions & { event?: string }): void;
  /** Resolves true once everything queued so far was answered, false at the deadline. */
  flush(timeoutMs?: number): Promise<boolean>;
  shutdown(timeoutMs?: number): Promise<boolean>;
  stats(): Stats;
}

/** What the platforms see of a client. */
export interface Core extends Client {
  /** Resume sending now (back online, page shown again). */
  wake_(): void;
  /** Queue events stored by another page. */
  adopt_(events: CuratedEvent[]): void;
  /** Queued events not in flight (all of them with all). */
  pending_(all?: boolean): Item[];
  /** The request body for items. */
  body(items: Item[]): string;
  /** Whether the last request failed and is waiting to be retried. */
  failing_(): boolean;
  /** Count items as sent by other means (a beacon) and forget them. */
  ack_(items: Item[]): void;
}

/** One queued event: its wire object, JSON text, byte size and queue order. */
export interface Item {
  e: CuratedEvent;
  s: string;
  n: number;
  i: number;
}

/** One entry of a response's errors (docs/api.md). */
export interface ApiError {
  index?: number;
  field?: string;
  code?: string;
  reason?: string;
}

/** What a transport saw: status 0 for a network error. */
export interface Reply {
  status: number;
  retryAfter_?: string | null;
  body?: { errors?: ApiError[] };
}

/** What a platform gives the core. */
export interface Platform {
  send(url: string, body: string): Promise<Reply>;
  /** Called after every change of the queue (browser: persistence). */
  changed_?(q: Item[]): void;
  /** Whether this page still owns its stored queue (another tab may have adopted it). */
  owns_?(): boolean;
  /** Whether the network is down (browser: navigator.onLine). */
  offline_?(): boolean;
  timer_?(t: ReturnType<typeof setTimeout>): void;
  /** Defaults for this platform. */
  defaults_: Pick<Options, "batchEvents" | "batchBytes" | "maxQueueEvents" | "maxQueueBytes">;
  /** Extra per-event fields (browser: session id, page). */
  decorate_?(e: CuratedEvent): void;
}

const NAME = /^[\w.:-]{1,128}$/;
const FIELDS = ["message", "session_id", "user_id", "trace_id", "span_id"] as const;
// The API refuses ASCII control characters other than tab, newline and CR.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
const encoder = new TextEncoder();
export const bytes = (s: string): number => encoder.encode(s).length;

const warned = new Set<string>();

/** Turns any value into what the API accepts, or throws a message naming the path. */
export function clean(v: unknown, path: string, depth: number): unknown {
  if (depth > 8) throw `${path}: nested over 8 levels`;
  if (typeof v == "string") return v.replace(CONTROL, "\ufffd");
  if (typeof v == "number") return isFinite(v) ? v : null;
  if (typeof v == "bigint") return String(v);
  if (v == null || typeof v == "boolean") return v;
  if (typeof v != "object") return undefined; // functions and symbols, as JSON.stringify
  if (v instanceof Date) return isNaN(+v) ? null : v.toISOString();
  if (v instanceof Error) return clean(String(v), path, depth); // "TypeError: message"
  if (Array.isArray(v)) return v.map((x, k) => clean(x, path + "." + k, depth + 1) ?? null);
  const o: Attributes = {};
  for (const k in v) {
    if (!bytes(k) || bytes(k) > 128 || k.replace(CONTROL, "") != k) throw `${path}: key ${JSON.stringify(k)}: 1-128 bytes, no control characters`;
    const c = clean((v as Attributes)[k], path + "." + k, depth + 1);
    if (c !== undefined) o[k] = c;
  }
  return o;
}

/** The backoff before retry number attempt (from 1): Retry-After when given (seconds or an HTTP date, at most 5 min), else exponential with jitter. */
export function delay(attempt: number, retryAfter: string | null | undefined, min: number, max: number): number {
  if (retryAfter) {
    const s = Number(retryAfter);
    const ms = isNaN(s) ? Date.parse(retryAfter) - Date.now() : s * 1000;
    if (!isNaN(ms)) return Math.min(Math.max(ms, 0), 300000);
  }
  const d = Math.min(max, min * 2 ** (attempt - 1));
  return d / 2 + (Math.random() * d) / 2;
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

export function createClient(opts: Options, p: Platform): Core {
  // Queue and batch sizes come from the platform's defaults.
  const o = { flushInterval: 1000, maxRetries: 10, minBackoff: 500, maxBackoff: 30000, maxAttributes: 64, maxEventBytes: 32768, debug: true, ...p.defaults_, ...opts } as Required<Options>;
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
  let waiters: { i: number; done_: (ok: boolean) => void }[] = [];
  const st = { sent: 0, dropped: 0 };

  const warn = (msg: string) => {
    if (o.debug && !warned.has(msg)) {
      warned.add(msg);
      console.warn("curated: " + msg);
    }
  };
  const drop = (items: Item[], reason: DropReason, detail?: string) => {
    if (!items.length) return;
    st.dropped += items.length;
    if (reason != "queue_full" && reason != "shutdown") warn(`${items.length > 1 ? items.length + " events" : items[0].e.event} dropped (${reason})${detail ? ": " + detail : ""}`);
    try {
      o.onDrop?.(items.map((x) => x.e), reason, detail);
    } catch {
      /* the app's callback must not stop the client */
    }
  };
  // remove takes items out of the queue and settles the flushes they end.
  const remove = (gone: Item[]) => {
    const set = new Set(gone);
    q = q.filter((x) => !set.has(x));
    size = q.reduce((n, x) => n + x.n, 0);
    p.changed_?.(q);
    settle();
  };
  const settle = () => {
    waiters = waiters.filter((w) => (q.length && q[0].i <= w.i) || void w.done_(true));
    if (!waiters.length) urgent = false;
  };
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(f, ms);
    p.timer_?.(t);
    return t;
  };
  const schedule = (ms: number) => {
    timer ??= later(ms, () => {
      timer = undefined;
      pump();
    });
  };
  const kick = () => {
    if (!q.length || busy) return;
    if (urgent || q.length >= limit || size >= o.batchBytes) pump();
    else schedule(o.flushInterval);
  };

  /** Sends the head of the queue; one request at a time keeps the order. */
  const pump = async (): Promise<void> => {
    if (busy || !q.length) return;
    const wait = wakeAt - Date.now();
    if (wait > 0) return schedule(wait);
    if (p.offline_?.()) return; // the platform calls wake() when back online
    if (p.owns_ && !p.owns_()) {
      // Another tab adopted what this page had stored: it sends them.
      q = [];
      size = 0;
      return settle();
    }
    const batch = (sending = chunk(q, limit, o.batchBytes));
    busy = true;
    let r: Reply;
    try {
      r = await p.send(url, body(batch));
    } catch {
      r = { status: 0 };
    }
    busy = false;
    sending = [];
    answered(batch, r);
    kick();
  };

  const answered = (batch: Item[], r: Reply) => {
    const s = r.status;
    const errs = r.body?.errors || [];
    const why = (x?: ApiError) => (x ? `${x.field || "event"}: ${x.code} (${x.reason})` : "HTTP " + s);
    // Per-event refusals are final; not_forwarded ones are sent again, alone (api.md).
    const again = new Set<Item>();
    let refused = 0;
    for (const x of errs) {
      const it = batch[x.index!];
      if (!it) continue;
      if (x.code == "not_forwarded") again.add(it);
      else refused++, drop([it], "rejected", why(x));
    }
    if (s == 413 && batch.length > 1) {
      limit = Math.ceil(batch.length / 2); // split until it fits
      return;
    }
    if (again.size || !s || s == 408 || s == 429 || s >= 500) {
      const rest = again.size ? [...again] : batch;
      if (again.size) {
        st.sent += batch.length - rest.length - refused;
        remove(batch.filter((x) => !again.has(x)));
      }
      return retry(r, rest);
    }
    attempts = answers = 0;
    limit = o.batchEvents;
    if (s < 300) st.sent += batch.length - refused;
    else if (!refused) drop(batch, "rejected", why(errs[0]));
    remove(batch);
  };

  // Answers count towards maxRetries; network errors (offline, the API
  // down, blocked) are retried until the API answers: what is kept
  // meanwhile is the queue's bounds' business.
  const retry = (r: Reply, batch: Item[]) => {
    attempts++;
    if (r.status && ++answers > o.maxRetries) {
      attempts = answers = 0;
      drop(batch, "gave_up", "HTTP " + r.status);
      return remove(batch);
    }
    if (!r.status) warn(`cannot reach ${url} (offline, API down, or blocked); retrying`);
    wakeAt = Date.now() + delay(attempts, r.retryAfter_, o.minBackoff, o.maxBackoff);
  };

  const body = (items: Item[]) => `{"context":${context},"events":[${items.map((x) => x.s).join(",")}]}`;
  const enqueue = (e: CuratedEvent) => {
    if (closed) return drop([item(e, "")], "shutdown", "after shutdown");
    p.decorate_?.(e);
    if (o.userId && !e.user_id) e.user_id = o.userId;
    let out: CuratedEvent | null | false | undefined = e;
    try {
      if (o.beforeSend) out = o.beforeSend(e);
    } catch (err) {
      warn("beforeSend threw: " + err);
    }
    if (!out) return drop([item(e, "")], "before_send");
    const s = JSON.stringify(out);
    const it = item(out, s);
    if (it.n > o.maxEventBytes) return drop([it], "invalid", `${it.n} bytes > maxEventBytes`);
    add([it]);
  };
  const item = (e: CuratedEvent, s: string): Item => ({ e, s, n: bytes(s), i: ++seq });
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
    p.changed_?.(q);
    settle();
    kick();
  };

  const track = (event: string, attributes?: Attributes, t: TrackOptions = {}) => {
    try {
      if (typeof event != "string" || !NAME.test(event)) throw `event ${JSON.stringify(event)}: 1-128 of A-Za-z0-9_.:-`;
      const e: CuratedEvent = { event, timestamp: Date.now() };
      if (t.level) e.level = t.level;
      for (const k of FIELDS) if (t[k] != null) e[k] = clean(String(t[k]), k, 0) as string;
      if (attributes != null) {
        const a = clean(attributes, "attributes", 0) as Attributes;
        const keys = Object.keys(a).length;
        if (keys > o.maxAttributes) throw `attributes: ${keys} keys > maxAttributes`;
        if (keys) e.attributes = a;
      }
      enqueue(e);
    } catch (err) {
      drop([item({ event: String(event), timestamp: Date.now() }, "")], "invalid", String(err));
    }
  };

  const flush = (ms?: number): Promise<boolean> => {
    if (!q.length) return Promise.resolve(true);
    const last = q[q.length - 1].i;
    const done = new Promise<boolean>((resolve) => waiters.push({ i: last, done_: resolve }));
    urgent = true;
    pump();
    // At the deadline the flush answers false; its waiter resolves later, unheard.
    return ms == null ? done : Promise.race([done, new Promise<boolean>((r) => later(ms, () => r(false)))]);
  };

  const client: Core = {
    track,
    error(err, attributes, { event = "error", ...t } = {}) {
      const e = err instanceof Error ? err : new Error(String(err));
      track(event, { error_type: e.name, error: e.message, stack: e.stack, ...attributes }, { level: "error", message: e.message, ...t });
    },
    flush,
    async shutdown(ms = 5000) {
      const ok = await flush(ms);
      closed = true;
      clearTimeout(timer);
      if (!ok) {
        drop(q, "shutdown", "not sent before the deadline");
        remove(q);
      }
      return ok;
    },
    stats: () => ({ queued: q.length, ...st }),
    wake_() {
      wakeAt = 0;
      kick();
    },
    adopt_: (events) => add(events.map((e) => item(e, JSON.stringify(e)))),
    pending_: (all) => (all ? q : q.filter((x) => !sending.includes(x))),
    body,
    failing_: () => attempts > 0,
    ack_: (items) => {
      st.sent += items.length;
      remove(items);
    },
  };
  return client;
}
