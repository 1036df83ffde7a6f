// The browser entry point: fetch with keepalive while the page lives, a
// beacon when it is hidden or left, unsent events kept in localStorage (one
// slot per page, adopted by the next page or another tab), and automatic
// capture of errors, the page path and a session id.
import { chunk, createClient, eventsURL, scrub, type Attributes, type Client, type CuratedEvent, type Item, type Options } from "./core.js";
import { forward, use } from "./current.js";

export type { Attributes, Client, CuratedEvent, DropReason, Level, Options, Stats, TrackOptions } from "./core.js";

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
// The API's last answer to this origin, shared by its pages and tabs: the
// time, positive when it proved the API reachable, negative when it failed.
const HEALTH = "curated.h";
// A stored queue whose page has not written it for this long is an orphan
// (a crashed or frozen tab) that any page may adopt. Live pages write it at
// least every HEARTBEAT while they hold events.
const STALE = 60000;
const HEARTBEAT = 20000;
// A beacon counts as delivered only after an answer this recent proved the
// API reachable; otherwise the events it carried stay stored too.
const FRESH = 30000;
// Browsers allow 64 KiB of keepalive bodies in flight per page: fetches use
// half, beacons the rest.
const KEEPALIVE = 32000;

const offline = () => navigator.onLine === false;
const rnd = () => Date.now().toString(36) + Math.random().toString(36).slice(2);
// The previous init's teardown: calling init again replaces the client.
let stop: ((adopt: (events: CuratedEvent[]) => void) => void) | undefined;

/** Starts the client every other call uses. Calling it again replaces it (queued events carry over). */
export function init(options: BrowserOptions): Client {
  const o = { persist: true, captureErrors: true, capturePage: true, session: true, ...options };
  const w = window;
  const d = document;
  const ls = o.persist ? storage(() => localStorage) : undefined;
  const slot = PREFIX + rnd();
  const life = new AbortController();
  let stored = false; // this page's slot holds the items marked p
  let dirty = false; // the queue changed since the slot was written
  let left = false; // pagehide came (and no pageshow since): the slot is marked left, t=0
  let own = 0; // this page's last answer, as HEALTH
  let sid: string | undefined;
  if (o.session) {
    const ss = storage(() => sessionStorage);
    sid = ss?.getItem("curated.sid") || rnd();
    ss?.setItem("curated.sid", sid);
  }
  const url = (u: string) => (o.key ? u + (u.includes("?") ? "&" : "?") + "api_key=" + encodeURIComponent(o.key) : u);
  // Items this page stored whose slot is gone: another tab or the next page
  // adopted them (while this page sat in the back-forward cache, or was
  // frozen). They are theirs to send, never this page's again.
  const taken = (): Item[] => {
    if (!stored || !ls || ls.getItem(slot) != null) return [];
    stored = false;
    return pending(true).filter((x) => x.p);
  };
  const save = (t = left ? 0 : Date.now(), items = pending(true)) => {
    dirty = false;
    if (!ls || life.signal.aborted) return;
    const gone = taken();
    if (gone.length) (items = items.filter((x) => !x.p)), forget(gone);
    for (let n = items.length; ; n >>= 1) {
      try {
        if (n) ls.setItem(slot, `{"t":${t},"q":[${items.slice(-n).map((x) => x.s).join(",")}]}`);
        else ls.removeItem(slot);
        // Quota: the newest that fit are stored; the rest live in memory.
        items.forEach((x, k) => (x.p = k >= items.length - n));
        return (stored = n > 0);
      } catch {
        /* try half */
      }
    }
  };
  const health = () => Number(ls?.getItem(HEALTH)) || own;
  const [c, wake, adoptEvents, pending, body, ack, forget, detach] = createClient(o, [
    { maxQueueEvents: 500, maxQueueBytes: 512 << 10, batchBytes: KEEPALIVE, batchEvents: 100 },
    async (u, body, signal) => {
      const r = await fetch(url(u), { method: "POST", body, keepalive: true, signal });
      return [r.status, r.headers.get("Retry-After"), (await r.json().catch(() => 0))?.errors];
    },
    // One write per burst of changes, not one per track call: a write is
    // the whole queue (up to maxQueueBytes). Page exit writes at once.
    () => {
      if (!dirty) (dirty = true), queueMicrotask(() => dirty && save());
    },
    taken,
    (ok) => {
      own = ok ? Date.now() : -Date.now();
      try {
        ls?.setItem(HEALTH, "" + own);
      } catch {
        /* full: this page's own answer still counts */
      }
    },
    offline,
    (e) => {
      if (sid) e.session_id = sid;
      if (o.capturePage) e.attributes = { page: location.pathname, ...e.attributes };
    },
  ]);

  // adopt takes over stored queues of pages that are gone, under a lock
  // where the browser has one, so two tabs never take the same events.
  const adopt = () => {
    if (!ls) return;
    const take = () => {
      for (let k = ls.length; k--; ) {
        const key = ls.key(k);
        if (!key?.startsWith(PREFIX) || key == slot) continue;
        try {
          const v = JSON.parse(ls.getItem(key)!);
          if (v && Date.now() - v.t < STALE) continue;
          ls.removeItem(key);
          if (v?.q?.length) adoptEvents(v.q);
        } catch {
          ls.removeItem(key);
        }
      }
    };
    const locks = navigator.locks;
    locks ? locks.request("curated.adopt", take) : take();
  };

  // leave hands what is queued to the browser as beacons (which outlive the
  // page) unless the API is known to be failing. A beacon's fate is never
  // known: only after a recent answer proved the API reachable are its
  // events forgotten; otherwise they stay stored as well, and the next page
  // (or another tab) sends them again, which Loki stores once. Without
  // storage there is nothing else to do: beacon and forget.
  // On navigation pagehide comes first, then visibilitychange: once left,
  // every write keeps the slot marked left.
  const leave = (gone: boolean) => {
    left ||= gone;
    const h = health();
    const failing = h < 0 || offline();
    const proven = !ls || (h > 0 && Date.now() - h < FRESH);
    const rest = pending();
    // A page that is only hidden may come back: it beacons what is proven
    // safe to forget, and stores the rest.
    if (!failing && (gone || proven)) {
      for (let i = 0; i < rest.length; ) {
        const part = chunk(rest.slice(i), 1e9, KEEPALIVE);
        if (!navigator.sendBeacon(url(eventsURL(o.endpoint)), body(part))) break;
        if (proven) ack(part);
        i += part.length;
      }
    }
    // Marked as left (t=0) so the next page adopts what is stored at once.
    // A keepalive fetch in flight outlives the page too, unproven likewise.
    save(undefined, pending(!(left && proven)));
  };

  const on = (t: EventTarget, type: string, f: (e: any) => void) => t.addEventListener(type, f, { signal: life.signal });
  on(d, "visibilitychange", () => (d.visibilityState == "hidden" ? leave(false) : wake()));
  on(w, "pagehide", () => leave(true));
  on(w, "pageshow", (e: PageTransitionEvent) => {
    // Back from the back-forward cache: what this page stored may have been
    // adopted meanwhile (taken() forgets it then); otherwise it is live again.
    if (e.persisted) (left = false), save(), adopt(), wake();
  });
  on(w, "online", () => (adopt(), wake()));
  // Another tab left with events stored: take them.
  on(w, "storage", (e: StorageEvent) => e.newValue?.startsWith('{"t":0,') && adopt());
  const beat = setInterval(() => stored && save(), HEARTBEAT);

  if (o.captureErrors) {
    // Each distinct error once per page, ten at most: an error in a loop
    // must not flood the API or the page.
    const seen = new Set<string>();
    const report = (err: any, kind: string, a?: Attributes) =>
      !seen.has(kind + err) && seen.add(kind + err).size <= 10 && c.error(err, { kind, ...a }, { event: "browser.error" });
    on(w, "error", (e: ErrorEvent) => report(e.error ?? e.message, "uncaught", { source: scrub(`${e.filename}:${e.lineno}:${e.colno}`) }));
    on(w, "unhandledrejection", (e: PromiseRejectionEvent) => report(e.reason, "unhandled_rejection"));
  }
  // The previous client stops listening and hands over what it holds.
  stop?.(adoptEvents);
  stop = (next) => {
    life.abort();
    clearInterval(beat);
    if (stored) ls?.removeItem(slot);
    detach(next);
  };
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
