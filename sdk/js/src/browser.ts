// The browser entry point: fetch with keepalive while the page lives, a
// beacon when it is hidden or left, unsent events kept in localStorage (one
// slot per page, adopted by the next page or another tab), automatic
// capture of errors, the page path, a session id (30 minutes of inactivity
// end it) and an anonymous id, identify/reset, and consent.
import { chunk, createClient, eventsURL, type Attributes, type Client, type CuratedEvent, type Item, type Options } from "./core.js";
import { forward, use } from "./current.js";

export type { Attributes, Client, CuratedEvent, DropReason, Level, Options, Stats, TrackOptions } from "./core.js";

export interface BrowserOptions extends Options {
  /** Keep unsent events in localStorage across reloads and offline periods. Default true. */
  persist?: boolean;
  /** Add the page path (never the query string) as attributes.page. Default true. */
  capturePage?: boolean;
  /** A session id (localStorage, no cookies) as session_id, shared by the origin's tabs. Default true. */
  session?: boolean;
  /** Inactivity (ms) after which the next event starts a new session. Default 30 minutes. */
  sessionTimeout?: number;
  /**
   * "granted" (default); "pending": events wait in memory, nothing is stored
   * or sent until optIn(); "denied": nothing is kept (as after optOut()).
   * An optOut() is remembered by the browser and wins over this.
   */
  consent?: "granted" | "pending" | "denied";
}

const PREFIX = "curated.q.";
// The browser's ids (anonymous id, "session id last-activity", identified
// user) and a remembered opt-out.
const AID = "curated.a";
const SID = "curated.s";
const UID = "curated.u";
const OUT = "curated.o";
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
// The browser's ids and consent, module-level so that identify, reset,
// optIn and optOut stay out of a bundle that does not use them. ids is
// where the ids are kept: localStorage once consent is granted.
let area: Storage | undefined;
let ids: Storage | undefined;
let consent = "granted";
let aid = "";
let uid: string | null | undefined;
let sid = "";
// The current init's part of optIn (store and send the queue) and optOut
// (drop it).
let grant: ((yes: boolean) => void) | undefined;
const put = (k: string, v?: string | null) => {
  try {
    v ? ids?.setItem(k, v) : ids?.removeItem(k);
  } catch {
    /* full: the ids live in memory */
  }
};

/** Starts the client every other call uses. Calling it again replaces it (queued events carry over). */
export function init(options: BrowserOptions): Client {
  const o = { persist: true, capturePage: true, session: true, sessionTimeout: 18e5, ...options };
  const w = window;
  const d = document;
  area = storage(() => localStorage);
  // Consent: granted, pending (nothing stored or sent) or denied (nothing
  // kept). Until granted the ids live in memory only.
  consent = area?.getItem(OUT) ? "denied" : o.consent || "granted";
  ids = consent == "granted" ? area : undefined;
  let ls = o.persist ? ids : undefined;
  // A second init keeps what the page already has in memory (consent
  // pending: nothing was stored).
  aid = ids?.getItem(AID) || aid || rnd();
  uid = ids?.getItem(UID) ?? uid;
  const slot = PREFIX + rnd();
  const life = new AbortController();
  let stored = false; // this page's slot holds the items marked p
  let dirty = false; // the queue changed since the slot was written
  let left = false; // pagehide came (and no pageshow since): the slot is marked left, t=0
  let own = 0; // this page's last answer, as HEALTH
  put(AID, aid);
  // The session, shared by the origin's tabs: a new one after sessionTimeout
  // without events.
  const session = () => {
    const [id, t] = (ids?.getItem(SID) || sid).split(" ");
    const now = Date.now();
    put(SID, (sid = (id && now - +t < o.sessionTimeout ? id : rnd()) + " " + now));
    return sid.split(" ")[0];
  };
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
    // Waiting for consent looks like being offline: nothing is sent.
    () => consent != "granted" || offline(),
    (e) => {
      if (consent == "denied") throw "consent";
      if (o.session) e.session_id = session();
      e.anonymous_id = aid;
      e.user_id = uid as string;
      if (o.capturePage) e.attributes = { page: location.pathname, ...e.attributes };
    },
  ]);

  // adopt takes over stored queues of pages that are gone, under a lock
  // where the browser has one, so two tabs never take the same events.
  const adopt = () => {
    const s = ls;
    if (!s) return;
    const take = () => {
      for (let k = s.length; k--; ) {
        const key = s.key(k);
        if (!key?.startsWith(PREFIX) || key == slot) continue;
        try {
          const v = JSON.parse(s.getItem(key)!);
          if (v && Date.now() - v.t < STALE) continue;
          s.removeItem(key);
          if (v?.q?.length) adoptEvents(v.q);
        } catch {
          s.removeItem(key);
        }
      }
    };
    const locks = navigator.locks;
    locks ? locks.request(PREFIX, take) : take();
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
    if (consent != "granted") return;
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

  // The previous client stops listening and hands over what it holds.
  stop?.(adoptEvents);
  stop = (next) => {
    life.abort();
    clearInterval(beat);
    if (stored) ls?.removeItem(slot);
    detach(next);
  };
  grant = (yes) => {
    if (yes) {
      ls = o.persist ? area : undefined;
      save();
      adopt();
      wake();
    } else {
      if (stored) ls?.removeItem(slot);
      ls = undefined;
      stored = false;
      forget(pending(true));
    }
  };
  use(c);
  adopt();
  return c;
}

/** Sets the user of every later event (kept across pages) and sends user.identify with traits when the user changes. */
export const identify = (userId: string, traits?: Attributes): void => {
  if (userId == uid) return;
  put(UID, (uid = String(userId)));
  track("user.identify", traits);
};

/** Forgets the user (logout): a new anonymous id and a new session. */
export const reset = (): void => {
  put(UID, (uid = undefined));
  put(AID, (aid = rnd()));
  put(SID, (sid = ""));
};

const choose = (yes: boolean) => {
  consent = yes ? "granted" : "denied";
  try {
    yes ? area?.removeItem(OUT) : area?.setItem(OUT, "1");
  } catch {
    /* blocked storage: the choice holds for this page */
  }
  if (yes) {
    ids = area;
    put(AID, aid);
    put(UID, uid);
  } else {
    for (const k of [AID, SID, UID]) area?.removeItem(k);
    ids = undefined;
  }
  grant?.(yes);
};

/** Consent granted (remembered only as the absence of an opt-out): stores and sends what waited, and what comes. */
export const optIn = (): void => choose(true);
/** Consent refused, remembered by the browser: drops what waits, removes what the SDK stored, keeps nothing. */
export const optOut = (): void => choose(false);

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
export { error } from "./current.js";
export * from "./auto.js";
/** Resolves true once everything queued so far was answered, false at the deadline. */
export const flush = forward("flush");
/** Flushes, then stops the client. */
export const shutdown = forward("shutdown");
