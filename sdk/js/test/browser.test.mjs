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
const api = { down: false, got: [], beacons: 0 };
const receive = (body) => {
  for (const e of JSON.parse(body).events) if (e.attributes?.n !== undefined) api.got.push(e.attributes.n);
};
globalThis.fetch = async (url, init) => {
  await new Promise((r) => setTimeout(r, 5));
  if (api.down) throw new TypeError("Failed to fetch");
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
  const c = mod.init({ endpoint: "https://api.example.com", minBackoff: 20, maxBackoff: 50, captureErrors: false, ...options });
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
  const pg = await page({ captureErrors: true, flushInterval: 60000 });
  pg.c.track("step", { n: 0 });
  const second = pg.mod.init({ endpoint: "https://api.example.com", userId: "u-1", captureErrors: true });
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
