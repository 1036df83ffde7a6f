// The browser entry in Node with the page lifecycle simulated: each page has
// its own window and document (its listeners), all share one localStorage
// and one API, as pages and tabs of one origin do. Chromium runs the same
// bundle end to end in e2e/sdkjs_test.go; these cover the moments headless
// Chromium cannot be driven into there (back/forward cache, a frozen tab)
// and pin the rules: an event is forgotten only once an answer proves it
// delivered, and a page never sends what another page took over.
import assert from "node:assert/strict";
import { test } from "node:test";

class MemStorage {
  #m = new Map();
  get length() { return this.#m.size; }
  key(i) { return [...this.#m.keys()][i] ?? null; }
  getItem(k) { return this.#m.has(k) ? this.#m.get(k) : null; }
  setItem(k, v) { this.#m.set(k, String(v)); }
  removeItem(k) { this.#m.delete(k); }
  clear() { this.#m.clear(); }
}

// The API: down (requests fail as network errors, beacons are lost) or up
// (every event counted by its attribute n).
const api = { down: false, got: [], beacons: 0, events: [] };
const receive = (body) => {
  for (const e of JSON.parse(body).events) {
    api.events.push(e);
    if (e.attributes?.n !== undefined) api.got.push(e.attributes.n);
  }
};
globalThis.fetch = async (url, init) => {
  await new Promise((r) => setTimeout(r, 5));
  if (api.down) throw new TypeError("Failed to fetch");
  // The application's own calls (captureFailedRequests): "down" hosts fail
  // to connect, "fail" paths answer 503.
  if (!String(url).includes("/v1/events")) {
    if (String(url).includes("down.")) throw new TypeError("Failed to fetch");
    return new Response("", { status: String(url).includes("fail") ? 503 : 200 });
  }
  receive(init.body);
  return new Response(JSON.stringify({ accepted: 1, rejected: 0, errors: [] }), { status: 202 });
};
Object.defineProperty(globalThis, "navigator", {
  configurable: true,
  value: {
    onLine: true,
    sendBeacon(url, body) {
      api.beacons++;
      if (!api.down) receive(body);
      return true; // queued: a beacon's fate is never known to the page
    },
  },
});
globalThis.localStorage = new MemStorage();
// A page's heartbeat must not keep the test process alive.
const setIntervalRef = globalThis.setInterval;
globalThis.setInterval = (...args) => setIntervalRef(...args).unref();
const slots = () => Array.from({ length: localStorage.length }, (_, k) => localStorage.key(k)).filter((k) => k.startsWith("curated.q."));
globalThis.sessionStorage = new MemStorage();
globalThis.location = { pathname: "/apply" };

let pages = 0;
/** page loads the SDK as a new page of the origin (a fresh module, its own window). */
async function page(options = {}) {
  const w = new EventTarget();
  const d = new EventTarget();
  d.visibilityState = "visible";
  globalThis.window = w;
  globalThis.document = d;
  const mod = await import(`../dist/browser.js?page=${++pages}`);
  const c = mod.init({ endpoint: "https://api.example.com", minBackoff: 20, maxBackoff: 50, ...options });
  const fire = (target, type, props = {}) => target.dispatchEvent(Object.assign(new Event(type), props));
  return {
    c,
    mod,
    w,
    // The page is left (navigation, reload or tab close): pagehide first,
    // then visibilitychange, as browsers fire them.
    leave: (persisted = false) => {
      fire(w, "pagehide", { persisted });
      d.visibilityState = "hidden";
      fire(d, "visibilitychange");
    },
    // Back from the back-forward cache.
    restore: () => {
      d.visibilityState = "visible";
      fire(w, "pageshow", { persisted: true });
      fire(d, "visibilitychange");
    },
    fire,
  };
}
const reset = () => {
  localStorage.clear();
  api.got = [];
  api.events = [];
  api.beacons = 0;
  api.down = false;
};
const until = async (what, ok, ms = 5000) => {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end) assert.fail("timed out waiting for " + what);
  }
};
const once = (ns) => {
  const seen = new Map();
  for (const n of api.got) seen.set(n, (seen.get(n) || 0) + 1);
  assert.deepEqual([...seen.keys()].sort((a, b) => a - b), ns, "delivered");
  assert.deepEqual([...seen.entries()].filter(([, k]) => k > 1), [], "delivered twice");
};
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);

test("an outage before the first request: pages left every 150 ms lose nothing", async () => {
  reset();
  api.down = true;
  let n = 0;
  for (let p = 0; p < 20; p++) {
    const pg = await page();
    pg.c.track("step", { n: n++ });
    await new Promise((r) => setTimeout(r, 150));
    pg.leave();
  }
  assert.equal(api.got.length, 0);
  api.down = false;
  const last = await page();
  await until("all 20 delivered", () => new Set(api.got).size == 20);
  assert.equal(await last.c.flush(5000), true);
  once(range(0, 20));
});

test("a page whose stored events another page adopted never sends them again after a back/forward-cache restore", async () => {
  reset();
  api.down = true;
  const first = await page();
  for (let n = 0; n < 5; n++) first.c.track("step", { n });
  first.leave(true); // into the back/forward cache: stored, marked left
  api.down = false;
  const next = await page(); // adopts them and sends them
  await until("adopted events delivered", () => api.got.length == 5);
  first.restore();
  first.c.track("step", { n: 5 });
  assert.equal(await first.c.flush(5000), true);
  assert.equal(await next.c.flush(5000), true);
  once(range(0, 6));
});

test("a tab frozen for over a minute, whose events another tab adopted, resumes without sending them again", async () => {
  reset();
  api.down = true;
  const frozen = await page();
  for (let n = 0; n < 5; n++) frozen.c.track("step", { n });
  await frozen.c.flush(100); // fails: the API is down; the events are stored
  await until("stored", () => slots().length == 1);
  // The tab is frozen: its heartbeat stops, its slot grows stale.
  for (const key of slots()) localStorage.setItem(key, localStorage.getItem(key).replace(/^\{"t":\d+/, `{"t":${Date.now() - 61000}`));
  api.down = false;
  const other = await page(); // adopts the stale slot
  await until("adopted events delivered", () => api.got.length == 5);
  // The frozen tab resumes: its timers run, it tracks on.
  frozen.c.track("step", { n: 5 });
  frozen.fire(globalThis.document, "visibilitychange");
  assert.equal(await frozen.c.flush(5000), true);
  assert.equal(await other.c.flush(5000), true);
  once(range(0, 6));
});

test("with the API healthy, page exit beacons and forgets; nothing is sent twice", async () => {
  reset();
  let n = 0;
  for (let p = 0; p < 10; p++) {
    const pg = await page();
    pg.c.track("step", { n: n++ });
    await pg.c.flush(2000); // a recent answer proves the API reachable
    pg.c.track("step", { n: n++ });
    pg.leave();
  }
  await new Promise((r) => setTimeout(r, 50));
  once(range(0, 20));
  assert.equal(api.beacons, 10);
});

test("init a second time: one listener per event, and what the first client held is sent once", async () => {
  reset();
  const pg = await page({ flushInterval: 60000 });
  pg.mod.captureErrors();
  pg.c.track("step", { n: 0 });
  const second = pg.mod.init({ endpoint: "https://api.example.com", userId: "u-1" });
  pg.mod.captureErrors(); // installed once per page however often called
  const sent = [];
  const orig = globalThis.fetch;
  globalThis.fetch = async (url, init) => (sent.push(...JSON.parse(init.body).events), orig(url, init));
  try {
    pg.fire(pg.w, "error", { error: new Error("boom"), filename: "https://app.example.com/app.js?token=SECRET", lineno: 1, colno: 2 });
    assert.equal(await second.flush(5000), true);
  } finally {
    globalThis.fetch = orig;
  }
  const errors = sent.filter((e) => e.event == "browser.error");
  assert.equal(errors.length, 1, "one browser.error, not one per init");
  assert.equal(errors[0].user_id, "u-1");
  assert.ok(!JSON.stringify(errors).includes("SECRET"), JSON.stringify(errors));
  once([0]); // the first client's event, sent once
});

const named = (name) => api.events.filter((e) => e.event == name);
const curatedKeys = () => Array.from({ length: localStorage.length }, (_, k) => localStorage.key(k)).filter((k) => k.startsWith("curated."));

test("an anonymous id per browser and a session shared by pages end after sessionTimeout of inactivity", async () => {
  reset();
  const a = await page({ sessionTimeout: 300 });
  a.c.track("one");
  await a.c.flush(5000);
  const b = await page({ sessionTimeout: 300 }); // the next page of the visit
  b.c.track("two");
  await b.c.flush(5000);
  const [one, two] = [named("one")[0], named("two")[0]];
  assert.match(one.anonymous_id, /^[0-9a-z]{10,}$/);
  assert.equal(two.anonymous_id, one.anonymous_id, "one anonymous id per browser");
  assert.equal(two.session_id, one.session_id, "one session across pages");
  assert.equal(one.user_id, undefined);
  await new Promise((r) => setTimeout(r, 400)); // idle past the timeout
  b.c.track("three");
  await b.c.flush(5000);
  const three = named("three")[0];
  assert.notEqual(three.session_id, one.session_id, "a new session after inactivity");
  assert.equal(three.anonymous_id, one.anonymous_id);
});

test("identify sets the user of later events, across pages, with one user.identify; reset forgets it", async () => {
  reset();
  const a = await page();
  a.c.track("before");
  a.mod.identify("partner-7", { plan: "pro" });
  a.mod.identify("partner-7", { plan: "pro" }); // the same user: no second event
  a.c.track("after");
  await a.c.flush(5000);
  const b = await page(); // a reload keeps the user
  b.c.track("reloaded");
  await b.c.flush(5000);
  const ids = named("user.identify");
  assert.equal(ids.length, 1);
  assert.equal(ids[0].user_id, "partner-7");
  assert.equal(ids[0].attributes.plan, "pro");
  assert.equal(ids[0].anonymous_id, named("before")[0].anonymous_id, "the identify event links the anonymous id to the user");
  assert.equal(named("before")[0].user_id, undefined);
  assert.equal(named("after")[0].user_id, "partner-7");
  assert.equal(named("reloaded")[0].user_id, "partner-7");
  b.mod.reset(); // logout
  b.c.track("logged.out");
  await b.c.flush(5000);
  const out = named("logged.out")[0];
  assert.equal(out.user_id, undefined);
  assert.notEqual(out.anonymous_id, named("before")[0].anonymous_id, "a new anonymous id");
  assert.notEqual(out.session_id, named("before")[0].session_id, "a new session");
  // An explicit user_id of one event still wins.
  b.c.track("explicit", undefined, { user_id: "other" });
  await b.c.flush(5000);
  assert.equal(named("explicit")[0].user_id, "other");
});

test("consent pending keeps events in memory only, nothing stored or sent, until optIn", async () => {
  reset();
  const pg = await page({ consent: "pending" });
  for (let n = 0; n < 3; n++) pg.c.track("step", { n });
  pg.leave(); // even leaving the page sends and stores nothing
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(api.events.length, 0, "sent before consent");
  assert.equal(api.beacons, 0, "beaconed before consent");
  assert.deepEqual(curatedKeys(), [], "stored before consent");
  pg.restore();
  pg.mod.optIn();
  await until("delivered after optIn", () => api.got.length == 3);
  once([0, 1, 2]);
  assert.ok(curatedKeys().includes("curated.a"), "the anonymous id is kept once granted");
});

test("optOut drops what waits, removes what the SDK stored, and is remembered by the next page", async () => {
  reset();
  api.down = true;
  const drops = [];
  const pg = await page({ onDrop: (evs, reason) => drops.push([evs.length, reason]) });
  for (let n = 0; n < 3; n++) pg.c.track("step", { n });
  await until("stored", () => curatedKeys().some((k) => k.startsWith("curated.q.")));
  pg.mod.optOut();
  assert.deepEqual(curatedKeys(), ["curated.o"], "only the refusal itself is kept");
  pg.c.track("step", { n: 3 });
  assert.deepEqual(drops, [[1, "consent"]]);
  api.down = false;
  pg.leave();
  const next = await page({ onDrop: (evs, reason) => drops.push([evs.length, reason]) });
  next.c.track("step", { n: 4 });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(api.events.length, 0, "nothing sent after the opt-out");
  assert.deepEqual(drops.at(-1), [1, "consent"]);
  next.mod.optIn();
  next.c.track("step", { n: 5 });
  await until("sent after opting in again", () => api.got.includes(5));
  once([5]);
});

test("sample keeps its share of an event name; onSent counts what the API accepted", async () => {
  reset();
  let accepted = 0;
  const pg = await page({ sample: { "page.view": 0, "form.step": 1 }, onSent: (n) => (accepted += n) });
  for (let n = 0; n < 10; n++) pg.c.track("page.view", { n }), pg.c.track("form.step", { n: 100 + n });
  await pg.c.flush(5000);
  assert.equal(named("page.view").length, 0);
  assert.equal(named("form.step").length, 10);
  assert.equal(pg.c.stats().sampled, 10);
  assert.equal(accepted, 10);
});

// A single-page app's history and the page's own fields, for the capture modules.
globalThis.location = Object.assign(globalThis.location, { href: "https://app.example.com/apply", origin: "https://app.example.com" });
globalThis.history = {
  pushState(_s, _t, url) { location.pathname = url; },
  replaceState(_s, _t, url) { location.pathname = url; },
};
const hide = (pg, hidden = true) => {
  document.visibilityState = hidden ? "hidden" : "visible";
  pg.fire(document, "visibilitychange");
  pg.fire(pg.w, "visibilitychange"); // where it bubbles to in a browser
};

test("capturePageViews: the load and each single-page-app route change; capturePageLeave: the route left with its times", async () => {
  reset();
  location.pathname = "/apply";
  const pg = await page();
  document.title = "Apply";
  document.referrer = "https://search.example.com/q?term=secret";
  pg.mod.capturePageViews();
  pg.mod.capturePageLeave();
  await new Promise((r) => setTimeout(r, 120)); // visible
  hide(pg);
  await new Promise((r) => setTimeout(r, 120)); // hidden: not engaged
  hide(pg, false);
  history.pushState({}, "", "/apply/step-2");
  history.replaceState({}, "", "/apply/step-2"); // the same path: nothing
  pg.fire(pg.w, "popstate"); // the path did not change either
  await pg.c.flush(5000);
  const views = named("page.view");
  assert.deepEqual(views.map((e) => [e.attributes.navigation, e.attributes.page]), [["load", "/apply"], ["push", "/apply/step-2"]]);
  assert.equal(views[0].attributes.title, "Apply");
  assert.equal(views[0].attributes.referrer, "https://search.example.com/q", "the referrer without its query");
  const [left] = named("page.leave");
  assert.equal(left.attributes.page, "/apply", "the route left, not the new one");
  assert.ok(left.attributes.duration_ms >= 230, `duration_ms ${left.attributes.duration_ms}`);
  assert.ok(left.attributes.engaged_ms >= 110 && left.attributes.engaged_ms < left.attributes.duration_ms - 100, `engaged_ms ${left.attributes.engaged_ms}`);
  location.pathname = "/apply";
});

test("captureFailedRequests: 5xx and network errors with method, route and duration; never the SDK's own requests", async () => {
  reset();
  const orig = globalThis.fetch;
  try {
    const pg = await page();
    pg.mod.captureFailedRequests();
    await fetch("https://shop.example.com/fail/orders/123456/items?token=SECRET", { method: "post" });
    await fetch("https://app.example.com/ok");
    await assert.rejects(fetch("https://down.example.com/v2/lookup"));
    api.down = true; // the SDK's own request fails: not reported
    pg.c.track("x");
    await new Promise((r) => setTimeout(r, 50));
    api.down = false;
    await pg.c.flush(5000);
    const failed = named("http.failed");
    assert.deepEqual(
      failed.map((e) => [e.level, e.attributes.method, e.attributes.url, e.attributes.status]),
      [
        ["error", "POST", "https://shop.example.com/fail/orders/:id/items", 503],
        ["error", "GET", "https://down.example.com/v2/lookup", 0],
      ],
    );
    assert.ok(failed.every((e) => e.attributes.duration_ms >= 0));
    assert.ok(!JSON.stringify(failed).includes("SECRET"));
  } finally {
    globalThis.fetch = orig;
  }
});

test("captureWebVitals: LCP, CLS (largest session window) and INP with ratings, once, when the page is hidden", async () => {
  reset();
  const observers = {};
  const Orig = globalThis.PerformanceObserver;
  globalThis.PerformanceObserver = class {
    constructor(cb) { this.cb = cb; }
    observe({ type }) { (observers[type] ||= []).push(this); }
  };
  const feed = (type, entries) => observers[type]?.forEach((o) => o.cb({ getEntries: () => entries }));
  try {
    const pg = await page();
    pg.mod.captureWebVitals();
    feed("largest-contentful-paint", [{ startTime: 1200 }, { startTime: 2800.4 }]);
    // Two session windows: 0.05 + 0.04, then (2 s later) 0.12 + 0.1; one shift after input does not count.
    feed("layout-shift", [
      { startTime: 100, value: 0.05 }, { startTime: 600, value: 0.04 },
      { startTime: 2600, value: 0.12 }, { startTime: 3000, value: 0.1 }, { startTime: 3100, value: 0.5, hadRecentInput: true },
    ]);
    feed("event", [{ interactionId: 1, duration: 80 }, { interactionId: 1, duration: 120 }, { interactionId: 2, duration: 560 }, { interactionId: 0, duration: 900 }]);
    hide(pg);
    hide(pg, false);
    hide(pg); // hidden again: no second report
    await pg.c.flush(5000);
    const v = named("web.vitals");
    assert.equal(v.length, 1);
    assert.deepEqual(
      [v[0].attributes.lcp_ms, v[0].attributes.lcp_rating, v[0].attributes.cls, v[0].attributes.cls_rating, v[0].attributes.inp_ms, v[0].attributes.inp_rating],
      [2800, "needs-improvement", 0.22, "needs-improvement", 560, "poor"],
    );
  } finally {
    globalThis.PerformanceObserver = Orig;
  }
});

test("while consent is pending, identify and the anonymous id live in memory, and a second init keeps them", async () => {
  reset();
  const pg = await page({ consent: "pending" });
  pg.mod.identify("partner-9");
  const second = pg.mod.init({ endpoint: "https://api.example.com", consent: "pending" });
  second.track("after.reinit");
  assert.deepEqual(curatedKeys(), [], "stored before consent");
  pg.mod.optIn();
  await second.flush(5000);
  const [ident, after] = [named("user.identify")[0], named("after.reinit")[0]];
  assert.equal(after.user_id, "partner-9");
  assert.equal(after.anonymous_id, ident.anonymous_id);
  assert.ok(curatedKeys().includes("curated.u"), "the user is stored once granted");
});
