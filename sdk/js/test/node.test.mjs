// Unit tests of the Node entry point against a local node:http server that
// stands in for the API's failures. Run by `npm test` (node --test).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";
import { test } from "node:test";
import { init, track, error, flush, shutdown, instrumentFetch, route, wrap, submit, withScope } from "../dist/node.js";

/**
 * api starts a server; answer(req, events, n) decides each response (n counts
 * requests from 0) and returns [status, body, headers]. Every request is
 * recorded with its arrival time and decoded events.
 */
async function api(t, answer = () => [202, { accepted: 1, rejected: 0, errors: [] }]) {
  const requests = [];
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let raw = Buffer.concat(chunks);
      if (req.headers["content-encoding"] == "gzip") raw = gunzipSync(raw);
      const body = raw.length ? JSON.parse(raw.toString()) : {};
      const r = { at: Date.now(), headers: req.headers, body, events: body.events };
      requests.push(r);
      const out = answer(req, r.events, requests.length - 1, res);
      if (!out) return; // the answer took the response over
      const [status, json, headers = {}] = out;
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  t.after(() => srv.close());
  return { url: `http://127.0.0.1:${srv.address().port}`, requests, srv };
}

const quiet = { debug: false, handleExit: false };
const names = (reqs) => reqs.flatMap((r) => r.events.map((e) => e.event));

test("batches events into one envelope with context, key and gzip", async (t) => {
  const a = await api(t);
  const c = init({ endpoint: a.url, key: "k-1", service: "svc", release: "1.2.3", env: "test", attributes: { region: "eu" }, ...quiet });
  for (let i = 0; i < 30; i++) c.track("form.submit", { step: i, note: "x".repeat(40) }, { session_id: "s-1" });
  assert.equal(await c.flush(5000), true);
  assert.equal(a.requests.length, 1);
  const r = a.requests[0];
  assert.equal(r.headers["x-api-key"], "k-1");
  assert.equal(r.headers["content-encoding"], "gzip");
  assert.deepEqual(r.body.context, { service: "svc", attributes: { region: "eu", release: "1.2.3", env: "test" } });
  assert.equal(r.events.length, 30);
  assert.equal(r.events[7].attributes.step, 7);
  assert.equal(r.events[7].session_id, "s-1");
  assert.equal(typeof r.events[7].timestamp, "number");
  assert.deepEqual(c.stats(), { queued: 0, sent: 30, dropped: 0, sampled: 0 });
});

test("invalid events are dropped before queueing with a reason, never thrown", async (t) => {
  const a = await api(t);
  const drops = [];
  const c = init({ endpoint: a.url, ...quiet, onDrop: (evs, reason, detail) => drops.push([evs[0].event, reason, detail]) });
  const deep = {};
  let cur = deep;
  for (let i = 0; i < 9; i++) cur = cur.x = {};
  const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => ["k" + i, i]));
  const cyclic = {};
  cyclic.self = cyclic;
  c.track("bad name!");
  c.track("ok.deep", deep);
  c.track("ok.many", many);
  c.track("ok.cyclic", cyclic);
  c.track("ok.big", { s: "x".repeat(40000) });
  c.track("ok.fine", { when: new Date(0), n: 10n, err: new TypeError("boom"), ctl: "a\u0000b\tc", f: () => 1 });
  await c.flush(5000);
  assert.deepEqual(drops.map((d) => d.slice(0, 2)), [
    ["bad name!", "invalid"],
    ["ok.deep", "invalid"],
    ["ok.many", "invalid"],
    ["ok.cyclic", "invalid"],
    ["ok.big", "invalid"],
  ]);
  assert.match(drops[1][2], /attributes\.x\.x.*nested over 8 levels/);
  assert.match(drops[2][2], /^attributes: over maxAttributes/);
  const e = a.requests[0].events[0];
  assert.deepEqual(e.attributes, { when: "1970-01-01T00:00:00.000Z", n: "10", err: "TypeError: boom", ctl: "a\ufffdb\tc" });
});

test("a 429 is retried no sooner than its Retry-After, in seconds or as an HTTP date", async (t) => {
  for (const retryAfter of ["1", () => new Date(Date.now() + 2000).toUTCString()]) {
    const a = await api(t, (req, evs, n) => (n == 0 ? [429, { errors: [{ code: "rate_limited" }] }, { "Retry-After": typeof retryAfter == "function" ? retryAfter() : retryAfter }] : [202, {}]));
    const c = init({ endpoint: a.url, ...quiet, minBackoff: 1 });
    c.track("a.b");
    assert.equal(await c.flush(10000), true);
    assert.equal(a.requests.length, 2);
    // An HTTP date has whole seconds: the retry may come up to 1 s early against it.
    const min = typeof retryAfter == "function" ? 1000 : 1000;
    assert.ok(a.requests[1].at - a.requests[0].at >= min - 5, `retried after ${a.requests[1].at - a.requests[0].at} ms`);
    assert.deepEqual(a.requests[1].events, a.requests[0].events, "the retry is the same events, timestamps included");
  }
});

test("503 with not_forwarded resends only the listed events", async (t) => {
  const a = await api(t, (req, evs, n) =>
    n == 0 ? [503, { accepted: 2, rejected: 0, errors: [{ index: 1, code: "not_forwarded" }] }, { "Retry-After": "0" }] : [202, {}],
  );
  const c = init({ endpoint: a.url, ...quiet });
  c.track("e.0");
  c.track("e.1");
  c.track("e.2");
  assert.equal(await c.flush(5000), true);
  assert.deepEqual(names(a.requests), ["e.0", "e.1", "e.2", "e.1"]);
  assert.equal(c.stats().sent, 3);
});

test("413 splits the batch until it fits; one event over the limit is dropped", async (t) => {
  const a = await api(t, (req, evs) => (evs.length > 2 ? [413, { errors: [{ code: "too_large" }] }] : evs.some((e) => e.event == "huge") ? [413, {}] : [202, {}]));
  const drops = [];
  const c = init({ endpoint: a.url, ...quiet, onDrop: (evs, reason) => drops.push(...evs.map((e) => e.event + ":" + reason)) });
  for (let i = 0; i < 8; i++) c.track("e." + i);
  assert.equal(await c.flush(5000), true);
  const ok = a.requests.filter((r) => r.events.length <= 2);
  assert.deepEqual(names(ok), ["e.0", "e.1", "e.2", "e.3", "e.4", "e.5", "e.6", "e.7"]);
  c.track("huge");
  await c.flush(5000);
  assert.deepEqual(drops, ["huge:rejected"]);
});

test("per-event refusals are reported, not retried; a bad key is reported once per batch", async (t) => {
  const a = await api(t, (req, evs, n) =>
    n == 0
      ? [202, { accepted: 1, rejected: 1, errors: [{ index: 1, field: "attributes.step", code: "invalid_type", reason: "must be a string" }] }]
      : [401, { accepted: 0, rejected: 0, errors: [{ field: "X-API-Key", code: "unauthorized", reason: "unknown API key" }] }],
  );
  const drops = [];
  const c = init({ endpoint: a.url, ...quiet, onDrop: (evs, reason, detail) => drops.push([evs.map((e) => e.event).join(), reason, detail]) });
  c.track("e.0");
  c.track("e.1");
  await c.flush(5000);
  c.track("e.2");
  c.track("e.3");
  await c.flush(5000);
  assert.equal(a.requests.length, 2);
  assert.deepEqual(drops, [
    ["e.1", "rejected", "attributes.step: invalid_type (must be a string)"],
    ["e.2,e.3", "rejected", "X-API-Key: unauthorized (unknown API key)"],
  ]);
});

test("dropped connections and slow responses are retried; after maxRetries answered failures the batch is given up", async (t) => {
  let slow = true;
  const a = await api(t, (req, evs, n, res) => {
    if (n == 0) return void res.socket.destroy(); // connection dropped mid-request
    if (n == 1 && slow) return void setTimeout(() => res.end(), 3000); // slower than the timeout
    return [202, {}];
  });
  const c = init({ endpoint: a.url, ...quiet, timeout: 300, minBackoff: 10 });
  c.track("e.0");
  assert.equal(await c.flush(10000), true);
  assert.equal(a.requests.length, 3);
  slow = false;

  // Answers count towards maxRetries; network errors in between do not.
  const failing = await api(t, (req, evs, n, res) => (n % 2 ? void res.socket.destroy() : [500, {}]));
  const drops = [];
  const d = init({ endpoint: failing.url, ...quiet, maxRetries: 3, minBackoff: 1, maxBackoff: 5, onDrop: (evs, reason, detail) => drops.push(reason + " " + detail) });
  d.track("e.1");
  assert.equal(await d.flush(10000), true);
  assert.equal(failing.requests.length, 7, "four 500s (one try, three retries) and three dropped connections between them");
  assert.deepEqual(drops, ["gave_up HTTP 500"]);
});

test("a full queue drops the oldest and says so", async (t) => {
  const a = await api(t, () => [503, {}, { "Retry-After": "60" }]);
  const drops = [];
  const c = init({ endpoint: a.url, ...quiet, maxQueueEvents: 5, onDrop: (evs, reason) => drops.push(...evs.map((e) => e.event + ":" + reason)) });
  for (let i = 0; i < 8; i++) c.track("e." + i);
  assert.deepEqual(drops, ["e.0:queue_full", "e.1:queue_full", "e.2:queue_full"]);
  assert.equal(c.stats().queued, 5);
  assert.equal(await c.shutdown(200), false);
  assert.equal(c.stats().queued, 0);
});

test("wrap reports outcome, duration and errors of sync and async functions", async (t) => {
  const a = await api(t);
  const c = init({ endpoint: a.url, ...quiet });
  const add = wrap("math.add", (x, y) => x + y, { kind: "sync" });
  assert.equal(add(2, 3), 5);
  const fail = wrap("shopify.sync", async () => {
    await new Promise((r) => setTimeout(r, 20));
    throw new RangeError("throttled");
  });
  await assert.rejects(fail(), RangeError);
  assert.throws(() => wrap("sync.fail", () => { throw new Error("x"); })(), /x/);
  await c.flush(5000);
  const evs = a.requests.flatMap((r) => r.events);
  assert.deepEqual(evs.map((e) => [e.event, e.level, e.attributes.outcome]), [
    ["math.add", undefined, "ok"],
    ["shopify.sync", "error", "error"],
    ["sync.fail", "error", "error"],
  ]);
  assert.equal(evs[0].attributes.kind, "sync");
  assert.equal(evs[1].attributes.error_type, "RangeError");
  assert.equal(evs[1].attributes.error, "throttled");
  // The 20 ms sleep, as two Date.now() readings see it (each rounds down).
  assert.ok(evs[1].attributes.duration_ms >= 19, `duration_ms ${evs[1].attributes.duration_ms}`);
});

test("submit sends the attempt at once, then its outcome; the value and the error pass through", async (t) => {
  const a = await api(t);
  const c = init({ endpoint: a.url, ...quiet });
  assert.equal(await submit(async () => "order-1", { form: "partner" }), "order-1");
  await assert.rejects(submit(() => { throw new TypeError("no postcode"); }, { form: "partner" }), TypeError);
  await c.flush(5000);
  const evs = a.requests.flatMap((r) => r.events);
  assert.deepEqual(evs.map((e) => [e.event, e.level, e.attributes.outcome]), [
    ["form.submit.attempt", undefined, undefined],
    ["form.submit", undefined, "ok"],
    ["form.submit.attempt", undefined, undefined],
    ["form.submit", "error", "error"],
  ]);
  // Outcome and attempt share the attempt's id, and the caller's attributes.
  assert.equal(evs[1].attributes.attempt, evs[0].attributes.attempt);
  assert.notEqual(evs[2].attributes.attempt, evs[0].attributes.attempt);
  assert.equal(evs[3].attributes.form, "partner");
  assert.equal(evs[3].attributes.error, "no postcode");
});

test("error() sends level error with type, message and stack", async (t) => {
  const a = await api(t);
  init({ endpoint: a.url, ...quiet });
  error(new TypeError("no place"), { step: 2 }, { event: "places.lookup" });
  error("plain string");
  await flush(5000);
  const [e1, e2] = a.requests[0].events;
  assert.equal(e1.event, "places.lookup");
  assert.equal(e1.level, "error");
  assert.equal(e1.message, "no place");
  assert.equal(e1.attributes.error_type, "TypeError");
  assert.equal(e1.attributes.step, 2);
  assert.match(e1.attributes.stack, /node\.test\.mjs/);
  assert.equal(e2.event, "error");
  assert.equal(e2.attributes.error, "plain string");
});

test("instrumentFetch reports host, method, route template and status, never the query", async (t) => {
  const a = await api(t);
  const shop = await api(t, (req) => [req.url.startsWith("/fail") ? 502 : 200, {}]);
  init({ endpoint: a.url, ...quiet });
  const f = instrumentFetch("shopify.http");
  // A streamed body still reaches the server.
  const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('{"sku":1}')), c.close()) });
  await f(`${shop.url}/admin/products/12345.json?api_key=secret`, { method: "post", body, duplex: "half" });
  await f(`${shop.url}/fail/0b8e9a3c-1d2e-4f50-8a6b-123456789abc`);
  const closed = await api(t);
  closed.srv.close();
  await assert.rejects(f(`${closed.url}/closed`));
  await flush(5000);
  const evs = a.requests.flatMap((r) => r.events);
  assert.deepEqual(evs.map((e) => [e.attributes.method, e.attributes.route, e.attributes.status, e.level]), [
    ["POST", "/admin/products/:id.json", 200, "info"],
    ["GET", "/fail/:id", 502, "error"],
    ["GET", "/closed", undefined, "error"],
  ]);
  assert.equal(evs[2].attributes.error_class, "refused");
  assert.ok(!JSON.stringify(evs).includes("secret"));
  assert.deepEqual(shop.requests[0].body, { sku: 1 });
  assert.equal(route(new URL("http://x/a/2024-01/b/deadbeefdeadbeef00")), "/a/2024-01/b/:id");
  assert.equal(route(new URL("https://places.googleapis.com/v1/places/ChIJN1t_tDeuEmsRUsoyG83frY4")), "/v1/places/:id");
  assert.equal(route(new URL("http://x/partner-applications-2024/new")), "/partner-applications-2024/new");
});

test("a process ends by itself, sending what is queued on beforeExit; SIGTERM flushes, then ends it", async (t) => {
  const { spawn } = await import("node:child_process");
  const a = await api(t);
  const run = (code) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise((r) => p.on("exit", (code, signal) => r({ code, signal })));
    return { p, exited, ready: new Promise((r) => p.stdout.once("data", r)) };
  };
  const mod = JSON.stringify(new URL("../dist/node.js", import.meta.url).href);
  // No timer of the client keeps the process alive; beforeExit sends the event.
  const ended = run(`import { init, track } from ${mod}; init({ endpoint: ${JSON.stringify(a.url)}, flushInterval: 60000 }); track("proc.exit");`);
  assert.deepEqual(await ended.exited, { code: 0, signal: null });
  // The app's own work keeps it alive; SIGTERM flushes, then the signal ends it.
  const killed = run(`import { init, track } from ${mod}; init({ endpoint: ${JSON.stringify(a.url)}, flushInterval: 60000 }); track("proc.term"); setInterval(() => {}, 1000); console.log("up");`);
  await killed.ready;
  killed.p.kill("SIGTERM");
  assert.deepEqual(await killed.exited, { code: null, signal: "SIGTERM" });
  assert.deepEqual(names(a.requests), ["proc.exit", "proc.term"]);
});

test("the @tracked decorator, compiled by tsc, reports each call", async (t) => {
  const a = await api(t);
  init({ endpoint: a.url, ...quiet });
  const { Shop } = await import("../dist-test/test/decorated.js");
  const shop = new Shop();
  assert.equal(await shop.sync("p-1"), "synced p-1");
  await assert.rejects(shop.sync(""), /no partner/);
  assert.equal(shop.lookup("Seoul"), "place:Seoul");
  await flush(5000);
  const evs = a.requests.flatMap((r) => r.events);
  assert.deepEqual(evs.map((e) => [e.event, e.attributes.outcome, e.attributes.service_area]), [
    ["shopify.sync", "ok", "shop"],
    ["shopify.sync", "error", "shop"],
    ["lookup", "ok", undefined],
  ]);
});

test("npm pack holds the entry points (browser, node, wrap), their types and the bundle, nothing else", async () => {
  const { execFileSync } = await import("node:child_process");
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: new URL("..", import.meta.url) });
  const [pkg] = JSON.parse(out);
  const files = pkg.files.map((f) => f.path).sort();
  for (const f of ["README.md", "package.json", "dist/browser.js", "dist/browser.d.ts", "dist/node.js", "dist/node.d.ts", "dist/wrap.js", "dist/wrap.d.ts", "dist/testing.js", "dist/testing.d.ts", "dist/curated.min.js"]) {
    assert.ok(files.includes(f), `${f} is not packed: ${files}`);
  }
  assert.deepEqual(files.filter((f) => !f.startsWith("dist/") && !["README.md", "package.json"].includes(f)), []);
  assert.equal(pkg.name, "@alloy-curated/sdk");
  // Resolved by its name, the package gives Node the node entry point.
  const self = await import("@alloy-curated/sdk");
  assert.equal(typeof self.instrumentFetch, "function");
});

// A child process running code against the client, with nothing else alive
// unless the code keeps it; returns its exit, stdout and how long it took.
async function script(code) {
  const { spawn } = await import("node:child_process");
  const start = Date.now();
  const p = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  const [code_, signal] = await new Promise((r) => p.on("exit", (c, s) => r([c, s])));
  return { code: code_, signal, out, ms: Date.now() - start };
}
const mod = JSON.stringify(new URL("../dist/node.js", import.meta.url).href);

test("an awaited flush() settles when nothing else keeps the process alive, even after a 503", async (t) => {
  const a = await api(t, (req, evs, n) => (n == 0 ? [503, { errors: [{ code: "overloaded" }] }, { "Retry-After": "1" }] : [202, {}]));
  const r = await script(`import { init, track, flush } from ${mod};
    const c = init({ endpoint: ${JSON.stringify(a.url)}, handleExit: false });
    for (let i = 0; i < 20; i++) track("await.flush", { i });
    const ok = await flush();
    console.log(JSON.stringify({ ok, ...c.stats() }));`);
  assert.equal(r.code, 0);
  assert.deepEqual(JSON.parse(r.out), { ok: true, queued: 0, sent: 20, dropped: 0, sampled: 0 });
  assert.equal(names(a.requests.slice(1)).length, 20);
});

test("at exit against a hanging API the process ends within exitTimeout and reports what it gave up", async (t) => {
  const hanging = await api(t, () => undefined); // never answers
  const r = await script(`import { init, track } from ${mod};
    let dropped = 0;
    init({ endpoint: ${JSON.stringify(hanging.url)}, exitTimeout: 1000, batchEvents: 50,
      onDrop: (evs, reason) => { dropped += evs.length; if (reason != "shutdown") console.log("unexpected " + reason); } });
    for (let i = 0; i < 200; i++) track("exit.hang", { i });
    process.on("exit", () => console.log(JSON.stringify({ dropped })));`);
  assert.equal(r.code, 0);
  assert.deepEqual(JSON.parse(r.out.trim().split("\n").pop()), { dropped: 200 });
  // A bound, not a speed target: exitTimeout is 1 s, the request timeout 10 s.
  assert.ok(r.ms < 8000, `exit took ${r.ms} ms`);
});

test("init a second time replaces the process listeners and keeps what was queued", async (t) => {
  const a = await api(t);
  const before = process.listenerCount("beforeExit");
  const first = init({ endpoint: a.url, ...quiet, handleExit: true, flushInterval: 60000 });
  first.track("first.client");
  const second = init({ endpoint: a.url, ...quiet, handleExit: true });
  assert.equal(process.listenerCount("beforeExit"), before + 1);
  assert.equal(process.listenerCount("SIGTERM"), 1);
  await second.flush(5000);
  await first.flush(5000);
  init({ endpoint: a.url, ...quiet }); // handleExit false: our listeners are gone
  assert.equal(process.listenerCount("beforeExit"), before);
  assert.ok(names(a.requests).includes("first.client"));
});

test("no query string, userinfo or fragment leaves through an error message", async (t) => {
  const a = await api(t);
  init({ endpoint: a.url, ...quiet });
  const f = instrumentFetch("places.http");
  // Node's fetch quotes the whole URL in this error.
  await assert.rejects(f("http://user:pw-SECRET@127.0.0.1:1/v1/places/ChIJN1t_tDeuEmsRUsoyG83frY4?key=KEY-SECRET#frag-SECRET"));
  error(new Error("GET https://api.example.com/v1/x?api_key=K2-SECRET failed"));
  try {
    wrap("w.fail", () => { throw new Error("see https://u:p-SECRET@h/p?sig=S-SECRET"); })();
  } catch {}
  await flush(5000);
  const sent = JSON.stringify(a.requests.flatMap((r) => r.events));
  assert.ok(!sent.includes("SECRET"), sent);
  assert.ok(sent.includes("https://api.example.com/v1/x"), sent);
  assert.ok(sent.includes('"route":"/v1/places/:id"'), sent);
});

test("debug is off by default: a drop prints nothing", async (t) => {
  const a = await api(t);
  const warn = t.mock.method(console, "warn", () => {});
  const c = init({ endpoint: a.url, handleExit: false });
  c.track("bad name");
  assert.equal(warn.mock.callCount(), 0);
  init({ endpoint: a.url, handleExit: false, debug: true }).track("bad name");
  assert.equal(warn.mock.callCount(), 1);
});

// The conformance set the API's and the Go SDK's tests read too
// (testdata/conformance/events.json): what track sends for each input, or
// that it drops it before sending, naming the field.
test("conformance: the SDK sends what the API accepts, as the shared set says", async (t) => {
  const { readFileSync } = await import("node:fs");
  const set = JSON.parse(readFileSync(new URL("../../../testdata/conformance/events.json", import.meta.url), "utf8"));
  const a = await api(t);
  for (const c of set.cases) {
    const drops = [];
    const cl = init({ endpoint: a.url, ...quiet, maxEventBytes: set.limits.max_event_bytes, maxAttributes: set.limits.max_attributes,
      onDrop: (evs, reason, detail) => drops.push([reason, detail]) });
    const { event, message, attributes, ...ids } = c.input;
    const before = a.requests.length;
    cl.track(event, attributes, { message, ...ids });
    await cl.flush(5000);
    const sent = a.requests.slice(before).flatMap((r) => r.events);
    if (c.sdk.dropped) {
      assert.equal(sent.length, 0, c.name);
      assert.equal(drops.length, 1, c.name);
      assert.equal(drops[0][0], "invalid", c.name);
      assert.ok(drops[0][1].startsWith(c.sdk.dropped + ":") || drops[0][1].startsWith(c.sdk.dropped + "."), `${c.name}: ${drops[0][1]}`);
      continue;
    }
    assert.equal(sent.length, 1, `${c.name}: ${JSON.stringify(drops)}`);
    const { timestamp, ...got } = sent[0];
    assert.deepEqual(got, c.sdk, c.name);
  }
});

test("init+track, bundled as a user's bundler does, is within 4 KB min+gz; each opt-in function adds to it only when imported", async () => {
  const { readFileSync } = await import("node:fs");
  // Written by scripts/bundle.mjs on every build (npm run build).
  const sizes = JSON.parse(readFileSync(new URL("../dist/sizes.json", import.meta.url), "utf8"));
  assert.ok(sizes.initTrack.gzipped <= 4096, `init+track ${sizes.initTrack.gzipped} B`);
  for (const [name, added] of Object.entries(sizes.adds)) assert.ok(added > 0, `${name} adds ${added} B: it is in init+track already`);
  assert.ok(sizes.initTrack.gzipped < sizes.entry.gzipped, `init+track ${sizes.initTrack.gzipped} B, the whole entry ${sizes.entry.gzipped} B`);
  // The whole wrap entry (wrap, @tracked and submit); a page that imports only one of them gets less.
  assert.ok(sizes.wrapAdds > 0 && sizes.wrapAdds < 512, `wrap adds ${sizes.wrapAdds} B`);
});

test("a packed tarball installs into an application offline and resolves by its name", async (t) => {
  const { execFileSync } = await import("node:child_process");
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "curated-pack-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The commands of docs/sdk-js.md, "Install": npm pack, then npm install the .tgz.
  const [pkg] = JSON.parse(execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], { cwd: new URL("..", import.meta.url) }));
  const app = join(dir, "app");
  execFileSync("mkdir", [app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module" }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", join(dir, pkg.filename)], { cwd: app });
  const out = execFileSync(process.execPath, ["--input-type=module", "-e",
    'const n = await import("@alloy-curated/sdk/node"); const w = await import("@alloy-curated/sdk/wrap"); console.log(typeof n.init, typeof w.wrap)'], { cwd: app });
  assert.equal(out.toString().trim(), "function function");
});

test("every request names the SDK and its version in User-Agent", async (t) => {
  const { readFileSync } = await import("node:fs");
  const { VERSION } = await import("../dist/node.js");
  assert.equal(VERSION, JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version);
  const a = await api(t);
  const c = init({ endpoint: a.url, ...quiet });
  c.track("ua.check");
  await c.flush(5000);
  assert.equal(a.requests[0].headers["user-agent"], `alloy-curated-js/${VERSION} node/${process.version}`);
});

test("the testing recorder captures what the API would get, for an application's own tests", async () => {
  const { recorder } = await import("../dist/testing.js");
  const rec = recorder();
  init({ endpoint: "http://api.test", fetch: rec.fetch, service: "collabmaker", ...quiet });
  track("form.submit", { step: 3 }, { session_id: "s-1" });
  for (let i = 0; i < 30; i++) track("bulk", { note: "x".repeat(60) }); // over 1 KiB: gzipped
  await flush(5000);
  const [e] = rec.named("form.submit");
  assert.equal(e.attributes.step, 3);
  assert.equal(e.session_id, "s-1");
  assert.equal(e.context.service, "collabmaker");
  assert.equal(rec.named("bulk").length, 30);
  assert.equal(rec.headers()[0]["content-encoding"], "gzip");
  rec.reset();
  assert.equal(rec.events().length, 0);
});

test("withScope gives the events of one request its user, session and attributes, through async calls; the event's own ids win", async (t) => {
  const a = await api(t);
  const c = init({ endpoint: a.url, userId: "service-account", ...quiet });
  const handle = async (user, n) =>
    withScope({ user_id: user, session_id: "s-" + user, attributes: { route: "/apply" } }, async () => {
      await new Promise((r) => setTimeout(r, 5 * n));
      track("form.submit", { n });
      await withScope({ attributes: { step: 2 } }, async () => track("inner", { n }));
    });
  await Promise.all([handle("u-1", 2), handle("u-2", 1)]);
  track("outside");
  track("explicit", undefined, { user_id: "chosen" });
  await withScope({ user_id: "u-3" }, async () => track("explicit.scoped", undefined, { user_id: "chosen" }));
  await c.flush(5000);
  const evs = a.requests.flatMap((r) => r.events);
  const by = (name, n) => evs.find((e) => e.event == name && (n == null || e.attributes?.n == n));
  assert.equal(by("form.submit", 2).user_id, "u-1");
  assert.equal(by("form.submit", 1).user_id, "u-2");
  assert.equal(by("form.submit", 1).session_id, "s-u-2");
  assert.equal(by("form.submit", 1).attributes.route, "/apply");
  assert.deepEqual([by("inner", 2).user_id, by("inner", 2).attributes.route, by("inner", 2).attributes.step], ["u-1", "/apply", 2], "scopes nest");
  assert.equal(by("outside").user_id, "service-account", "outside a scope: the init's userId");
  assert.equal(by("explicit").user_id, "chosen");
  assert.equal(by("explicit.scoped").user_id, "chosen");
});

test("sample keeps its share of an event name (stats().sampled counts the rest); onSent is told what the API accepted", async (t) => {
  const a = await api(t);
  let accepted = 0;
  const c = init({ endpoint: a.url, sample: { "health.ping": 0, "job.run": 0.5 }, onSent: (n) => (accepted += n), ...quiet });
  for (let n = 0; n < 1000; n++) track("health.ping"), track("job.run");
  track("other");
  await c.flush(5000);
  const evs = names(a.requests);
  const jobs = evs.filter((e) => e == "job.run").length;
  assert.equal(evs.filter((e) => e == "health.ping").length, 0);
  assert.ok(jobs > 400 && jobs < 600, `job.run kept ${jobs} of 1000 at 0.5`);
  assert.equal(c.stats().sampled, 2000 - jobs);
  assert.equal(accepted, jobs + 1);
});
