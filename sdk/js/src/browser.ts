// The browser entry point: fetch with keepalive while the page lives, a
// beacon when it is hidden or left, unsent events kept in localStorage (one
// slot per page, adopted by the next page or another tab), and automatic
// capture of errors, the page path and a session id.
import { chunk, createClient, eventsURL, type Attributes, type Client, type CuratedEvent, type Item, type Options } from "./core.js";
import { forward, use } from "./wrap.js";

export type { Attributes, Client, CuratedEvent, DropReason, Level, Options, Stats, TrackOptions } from "./core.js";
export { wrap, tracked } from "./wrap.js";

export interface BrowserOptions extends Options {
  /** Keep unsent events in localStorage across reloads and offline periods. Default true. */
  persist?: boolean;
  /** Report uncaught errors and unhandled rejections as browser.error events. Default true. */
  captureErrors?: boolean;
  /** Add the page path (never the query string) as attributes.page. Default true. */
  capturePage?: boolean;
  /** A session id per tab (sessionStorage, no cookies) as session_id. Default true. */
  session?: boolean;
}

const PREFIX = "curated.q.";
// A stored queue whose page has not written it for this long is an orphan
// (a crashed tab) that any page may adopt. Live pages write it at least
// every HEARTBEAT while they hold events.
const STALE = 60000;
const HEARTBEAT = 20000;
// Browsers allow 64 KiB of keepalive bodies in flight per page: fetches use
// half, beacons the rest.
const KEEPALIVE = 32000;

const rnd = () => Date.now().toString(36) + Math.random().toString(36).slice(2);

/** Starts the client every other call uses. Calling it again replaces it. */
export function init(options: BrowserOptions): Client {
  const o = { persist: true, captureErrors: true, capturePage: true, session: true, ...options };
  const w = window;
  const d = document;
  const ls = o.persist ? storage(() => localStorage) : undefined;
  const slot = PREFIX + rnd();
  let stored = false; // this page has a slot in storage
  let dirty = false; // the queue changed since the slot was written
  let sid: string | undefined;
  if (o.session) {
    const ss = storage(() => sessionStorage);
    sid = ss?.getItem("curated.sid") || rnd();
    ss?.setItem("curated.sid", sid);
  }
  const url = (u: string) => (o.key ? u + (u.includes("?") ? "&" : "?") + "api_key=" + encodeURIComponent(o.key) : u);
  const save = (items: Item[], t = Date.now()) => {
    dirty = false;
    if (!ls) return;
    for (let n = items.length; ; n >>= 1) {
      try {
        if (!n) return (stored = false), ls.removeItem(slot);
        ls.setItem(slot, `{"t":${t},"q":[${items.slice(-n).map((x) => x.s).join(",")}]}`);
        return (stored = true);
      } catch {
        // Quota: keep the newest that fit; the rest are still in memory.
      }
    }
  };
  const c = createClient(o, {
    defaults_: { maxQueueEvents: 500, maxQueueBytes: 512 << 10, batchBytes: KEEPALIVE, batchEvents: 100 },
    async send(u, body) {
      const r = await fetch(url(u), { method: "POST", body, keepalive: true });
      return { status: r.status, retryAfter_: r.headers.get("Retry-After"), body: await r.json().catch(() => undefined) };
    },
    // One write per burst of changes, not one per track call: a write is
    // the whole queue (up to maxQueueBytes). Page exit writes at once.
    changed_: () => {
      if (!dirty) (dirty = true), queueMicrotask(() => dirty && save(c.pending_(true)));
    },
    owns_: () => !stored || !ls || ls.getItem(slot) != null,
    offline_: () => navigator.onLine === false,
    decorate_(e: CuratedEvent) {
      if (sid && !e.session_id) e.session_id = sid;
      if (o.capturePage) e.attributes = { page: location.pathname, ...e.attributes };
    },
  });

  // adopt takes over stored queues of pages that are gone, under a lock
  // where the browser has one, so two tabs never take the same events.
  const adopt = () => {
    if (!ls) return;
    const take = () => {
      for (let k = ls.length; k--; ) {
        const key = ls.key(k);
        if (!key?.startsWith(PREFIX) || key == slot) continue;
        try {
          const v = JSON.parse(ls.getItem(key) || "null");
          if (v && Date.now() - v.t < STALE) continue;
          ls.removeItem(key);
          if (v?.q?.length) c.adopt_(v.q);
        } catch {
          ls.removeItem(key);
        }
      }
    };
    const locks = navigator.locks;
    locks ? locks.request("curated.adopt", take) : take();
  };

  // leave hands what is queued to the browser as beacons (which outlive the
  // page), unless the API is failing: then a beacon would be lost, and the
  // events stay stored for the next page.
  const leave = (gone: boolean) => {
    const rest = c.pending_();
    const ok = !c.failing_() && navigator.onLine !== false;
    if (ok) {
      for (let i = 0; i < rest.length; ) {
        const part = chunk(rest.slice(i), 1e9, KEEPALIVE);
        if (!navigator.sendBeacon(url(eventsURL(o.endpoint)), c.body(part))) break;
        c.ack_(part);
        i += part.length;
      }
    }
    // Marked as left (t=0) so the next page adopts what is still stored at once.
    // A keepalive fetch in flight outlives the page too, unless the API is failing.
    if (gone) save(c.pending_(!ok), 0);
  };

  const on = (t: EventTarget, type: string, f: (e: any) => void) => t.addEventListener(type, f);
  on(d, "visibilitychange", () => (d.visibilityState == "hidden" ? leave(false) : c.wake_()));
  on(w, "pagehide", () => leave(true));
  on(w, "pageshow", (e: PageTransitionEvent) => {
    // Back from the back-forward cache: what this page stored may have been
    // adopted meanwhile (owns() drops it then); otherwise it is live again.
    if (e.persisted) {
      if (stored && c.pending_(true).length && ls?.getItem(slot) != null) save(c.pending_(true));
      adopt();
      c.wake_();
    }
  });
  on(w, "online", () => (adopt(), c.wake_()));
  // Another tab left with events stored: take them.
  on(w, "storage", (e: StorageEvent) => e.newValue?.startsWith('{"t":0,') && adopt());
  setInterval(() => stored && c.pending_(true).length && save(c.pending_(true)), HEARTBEAT);

  if (o.captureErrors) {
    let seen: Record<string, 1> = {};
    let minute = 0;
    const report = (err: unknown, kind: string, a?: Attributes) => {
      const e = err instanceof Error ? err : new Error(String(err));
      const id = kind + e.name + e.message;
      // Each distinct error once a minute, ten a minute at most: an error in
      // a loop must not flood the API or the page.
      if (Date.now() - minute > 60000) (minute = Date.now()), (seen = {});
      if (seen[id] || Object.keys(seen).length >= 10) return;
      seen[id] = 1;
      c.error(e, { kind, ...a }, { event: "browser.error" });
    };
    on(w, "error", (e: ErrorEvent) => report(e.error ?? e.message, "uncaught", { source: `${e.filename}:${e.lineno}:${e.colno}` }));
    on(w, "unhandledrejection", (e: PromiseRejectionEvent) => report(e.reason, "unhandled_rejection"));
  }
  use(c);
  adopt();
  return c;
}

/** storage returns a Web Storage area, or undefined where it is blocked (privacy modes, sandboxed frames). */
function storage(get: () => Storage): Storage | undefined {
  try {
    const s = get();
    s.length;
    return s;
  } catch {
    return undefined;
  }
}

/** Sends one event (after init; before init it is dropped with a warning). */
export const track = forward("track");
/** Sends an error as an event (default name "error") at level error with error_type, error and stack. */
export const error = forward("error");
/** Resolves true once everything queued so far was answered, false at the deadline. */
export const flush = forward("flush");
/** Flushes, then stops the client. */
export const shutdown = forward("shutdown");
