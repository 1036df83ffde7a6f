// The browser scenarios of e2e/sdkjs_test.go. Each page learns its scenario
// and settings from the query string and reports to its own origin.
import {
  init, track, flush, optIn, captureErrors, capturePageViews, capturePageLeave, captureFailedRequests, captureWebVitals,
} from "/curated.min.js";

const p = new URLSearchParams(location.search);
const s = p.get("s");
const run = p.get("run");
// A report cut off by the page closing must not become an unhandled
// rejection: the SDK would send it as a browser.error.
const report = (what) => fetch("/report?" + new URLSearchParams({ s, ...what }), { keepalive: true }).catch(() => {});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const options = (extra) => ({
  endpoint: p.get("api"),
  key: p.get("key"),
  service: "sdk-js",
  release: "e2e",
  attributes: { run, scenario: s },
  minBackoff: 200,
  maxBackoff: 1000,
  ...extra,
});
const page = (q) => "/page.html?" + new URLSearchParams({ ...Object.fromEntries(p), ...q });
// Every scenario page reports its uncaught errors, as an application would:
// the test checks that none had any.
captureErrors();

switch (s) {
  // (a) Track five events over 200 ms, then navigate away; page after page.
  // Without persistence: the page-exit beacons alone must carry the events
  // (with it, the next page would send what a page left stored).
  case "nav": {
    const i = +p.get("i");
    const pages = +p.get("pages");
    init(options({ persist: false }));
    for (let k = 0; k < 5; k++) {
      track("nav.step", { n: i * 5 + k });
      await sleep(40);
    }
    if (i + 1 < pages) location.href = page({ i: i + 1 });
    else report({ done: await flush(30000) });
    break;
  }
  // The API is down before any page has had an answer: page after page
  // tracks one event and is left 150 ms later, before its first request.
  // The last page holds every one of them, and delivers them once the API
  // is back.
  case "outage": {
    const i = +p.get("i");
    const pages = +p.get("pages");
    const c = init(options());
    track("outage.event", { n: i });
    if (i + 1 < pages) {
      await sleep(150);
      location.href = page({ i: i + 1 });
      break;
    }
    for (let k = 0; k < 250 && c.stats().queued < pages; k++) await sleep(20);
    report({ phase: "waiting", queued: c.stats().queued });
    report({ phase: "delivered", done: await flush(60000), queued: c.stats().queued });
    break;
  }
  // The API is down: page a stores five events and is left for page b,
  // which adopts them and delivers them when the API is back, then goes
  // back: page a returns from the back/forward cache and must not send
  // them again; what it tracks after the restore is its own to send.
  case "bfcache": {
    const c = init(options());
    if (p.get("step") == "b") {
      for (let k = 0; k < 250 && c.stats().queued < 5; k++) await sleep(20);
      report({ phase: "adopted", queued: c.stats().queued });
      report({ phase: "delivered", done: await flush(60000) });
      history.back();
      break;
    }
    if (sessionStorage.getItem("bf.left")) {
      // Loaded again instead of restored: the test must say so.
      report({ phase: "restored", persisted: false });
      break;
    }
    addEventListener("pageshow", async (e) => {
      if (!e.persisted) return;
      track("bfcache.event", { n: 5 });
      report({ phase: "restored", persisted: true, done: await flush(30000), queued: c.stats().queued });
    });
    for (let n = 0; n < 5; n++) track("bfcache.event", { n });
    await flush(1500); // fails: the API is down
    sessionStorage.setItem("bf.left", "1");
    location.href = page({ step: "b" });
    break;
  }
  // A tab holds five events while the API is down, and stops writing its
  // slot for over a minute (a frozen tab: aged here, as the browser's
  // freezing cannot be driven from a page). A second tab adopts and
  // delivers them; the first resumes, tracks on, and must not send them
  // again.
  case "frozen": {
    const signal = async (key) => {
      while (!localStorage.getItem(key)) await sleep(20);
    };
    if (p.get("tab") == "2") {
      // Loaded first, started once tab 1's slot is stale: a page that
      // starts adopts stale slots.
      localStorage.setItem("frozen.ready", "1");
      await signal("frozen.go");
      const c = init(options());
      for (let k = 0; k < 250 && c.stats().queued < 5; k++) await sleep(20);
      report({ tab: 2, phase: "adopted", queued: c.stats().queued });
      report({ tab: 2, phase: "delivered", done: await flush(60000) });
      localStorage.setItem("frozen.done", "1");
      break;
    }
    const c = init(options());
    for (let n = 0; n < 5; n++) track("frozen.event", { n });
    await flush(1500); // fails: the API is down
    window.open(page({ tab: 2 }));
    await signal("frozen.ready");
    const slot = Object.keys(localStorage).find((k) => k.startsWith("curated.q."));
    localStorage.setItem(slot, localStorage.getItem(slot).replace(/^\{"t":\d+/, `{"t":${Date.now() - 61000}`));
    localStorage.setItem("frozen.go", "1");
    await signal("frozen.done");
    track("frozen.event", { n: 5 });
    report({ tab: 1, phase: "resumed", done: await flush(30000), queued: c.stats().queued });
    break;
  }
  // (b) The API is down: track, fail, reload; the reloaded page reports what
  // it found stored, then delivers it once the API is back.
  case "reload": {
    const c = init(options());
    if (!sessionStorage.getItem("reloaded")) {
      for (let n = 0; n < 20; n++) track("reload.event", { n });
      await flush(1500); // fails: the API is down
      sessionStorage.setItem("reloaded", "1");
      location.reload();
      break;
    }
    // Adoption runs under a Web Lock, a moment after init.
    for (let k = 0; k < 100 && c.stats().queued < 20; k++) await sleep(20);
    report({ phase: "reloaded", queued: c.stats().queued });
    report({ phase: "delivered", done: await flush(60000), queued: c.stats().queued });
    break;
  }
  // (c) Three tabs share one origin's storage while the API is down; the
  // third closes. The other two adopt its events and all deliver.
  case "tabs": {
    const tab = p.get("tab");
    const c = init(options());
    if (tab == "1") {
      window.open(page({ tab: 2 }));
      window.open(page({ tab: 3 }));
    }
    for (let n = 0; n < 30; n++) track("tabs.event", { tab, n });
    await flush(1500); // fails: the API is down
    if (tab == "3") {
      report({ tab, phase: "closing", queued: c.stats().queued });
      window.close();
      break;
    }
    const tick = setInterval(() => report({ tab, phase: "waiting", queued: c.stats().queued }), 200);
    const done = await flush(60000);
    clearInterval(tick);
    report({ tab, phase: "delivered", done, queued: c.stats().queued });
    break;
  }
  // (d) A key with a small rate limit: the second request gets a real 429
  // with Retry-After, and the retry waits for it.
  case "ratelimit": {
    init(options());
    track("ratelimit.event", { n: 0 });
    const first = await flush(20000);
    track("ratelimit.event", { n: 1 });
    track("ratelimit.event", { n: 2 });
    report({ done: first && (await flush(30000)) });
    break;
  }
  // localStorage is full: tracking still works (the queue lives in memory,
  // storage keeps what fits) and nothing throws into the page.
  case "quota": {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8]) {
      for (let k = 0; ; k++) {
        try {
          localStorage.setItem(`junk.${size}.${k}`, "x".repeat(size));
        } catch {
          break;
        }
      }
    }
    let threw = "";
    const c = init(options());
    try {
      for (let n = 0; n < 40; n++) track("quota.event", { n, pad: "y".repeat(400) });
    } catch (e) {
      threw = String(e);
    }
    report({ threw, done: await flush(30000), queued: c.stats().queued });
    break;
  }
  // Uncaught errors and unhandled rejections are sent as browser.error,
  // the same error once.
  case "errors": {
    const c = init(options());
    for (let k = 0; k < 3; k++) setTimeout(() => { throw new Error("boom-uncaught"); }, 10 * k);
    Promise.reject(new TypeError("boom-rejected"));
    for (let k = 0; k < 100 && c.stats().queued + c.stats().sent < 2; k++) await sleep(20);
    await sleep(200); // the two repeats of the uncaught error, if they were sent, are queued by now
    report({ done: await flush(20000) });
    break;
  }
  // A single-page app with every capture module: a heading to paint (LCP)
  // and a banner pushed in above it (a layout shift), half a second of
  // reading, a route change, a fetch answered 503 and an XMLHttpRequest
  // answered 500, then the page is left. Without persistence: what the end
  // of the page reports must leave in its beacon.
  case "spa": {
    init(options({ persist: false }));
    capturePageViews();
    capturePageLeave();
    captureFailedRequests();
    captureWebVitals();
    const h = document.createElement("h1");
    h.textContent = "Partner application: tell us about your shop";
    h.style.fontSize = "48px";
    document.body.append(h);
    // Chromium counts a shift in the first half second of a page opened
    // from outside as following input (hadRecentInput): later, then.
    await sleep(1000);
    const banner = document.createElement("div");
    banner.style.height = "200px";
    banner.textContent = "Shipping to Korea is back";
    document.body.prepend(banner);
    await sleep(500);
    history.pushState({}, "", "/app/step-2");
    await fetch("/status/503").catch(() => {});
    await new Promise((done) => {
      const x = new XMLHttpRequest();
      x.open("POST", "/status/500?token=SECRET");
      x.onloadend = done;
      x.send("{}");
    });
    await sleep(300);
    location.href = page({ s: "spa-next" });
    break;
  }
  case "spa-next": {
    init(options());
    report({ done: await flush(20000) });
    break;
  }
  // Consent pending: events wait in memory, nothing is stored or sent; the
  // visitor accepts two seconds later and they go.
  case "consent": {
    const c = init(options({ consent: "pending" }));
    for (let n = 0; n < 3; n++) track("consent.event", { n });
    await sleep(2000);
    const keys = () => Object.keys(localStorage).filter((k) => k.startsWith("curated.")).sort().join(",");
    report({ phase: "pending", queued: c.stats().queued, stored: keys() });
    await sleep(500);
    optIn();
    track("consent.event", { n: 3 });
    report({ phase: "granted", done: await flush(20000), stored: keys() });
    break;
  }
  // (e) An origin the key does not allow: the refusal is reported, nothing
  // is kept for later.
  case "denied": {
    const dropped = [];
    const c = init(options({ debug: true, onDrop: (evs, reason, detail) => (dropped.push(`${evs.length}:${reason}:${detail}`), console.warn("curated: dropped", reason, detail)) }));
    for (let n = 0; n < 5; n++) track("denied.event", { n });
    const done = await flush(20000);
    await sleep(100);
    // Event slots only: curated.h, the last answer, is not an event.
    const stored = Object.keys(localStorage).filter((k) => k.startsWith("curated.q.")).map((k) => k + "=" + localStorage.getItem(k));
    report({ done, queued: c.stats().queued, dropped: dropped.join("|"), stored: stored.join("|") });
    break;
  }
}
