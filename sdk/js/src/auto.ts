// Automatic capture for browsers, one function per kind, each opt-in and
// left out of a bundle that does not call it: uncaught errors, page views
// (single-page-app route changes included), page leave with engagement
// time, failed fetch and XMLHttpRequest calls, and Web Vitals. Each sends
// through the client init started (the current one at the time of the
// event), and installs itself once per page however often it is called.
import { route, scrub, type Attributes } from "./core.js";
import { error, forward } from "./current.js";

const track = forward("track");
// What is installed in which window (a page's; tests run several).
const installed = new WeakMap<object, Set<string>>();
const once = (kind: string) => {
  let s = installed.get(window);
  if (!s) installed.set(window, (s = new Set()));
  return !s.has(kind) && !!s.add(kind);
};
const on = (type: string, f: (e: any) => void, opts?: AddEventListenerOptions) => window.addEventListener(type, f, opts);
const now = () => Math.round(performance.now());
// Before the SDK's own handlers (registered by init on the same targets):
// what a page's end reports must be queued before the SDK hands the queue
// to the browser. At the target, capturing listeners run first.
const early = { capture: true };

/** Sends uncaught errors and unhandled promise rejections as browser.error (each distinct error once per page, ten at most). */
export function captureErrors(): void {
  if (!once("errors")) return;
  const seen = new Set<string>();
  const report = (err: unknown, kind: string, a?: Attributes) =>
    !seen.has(kind + err) && seen.add(kind + err).size <= 10 && error(err, { kind, ...a }, { event: "browser.error" });
  on("error", (e: ErrorEvent) => report(e.error ?? e.message, "uncaught", { source: scrub(`${e.filename}:${e.lineno}:${e.colno}`) }));
  on("unhandledrejection", (e: PromiseRejectionEvent) => report(e.reason, "unhandled_rejection"));
}

type Route = (from: string, how: string) => void;
const routers = new WeakMap<object, Route[]>();
/**
 * onRoute calls f on every change of location.pathname: history.pushState
 * and replaceState (single-page-app routers) and back/forward (popstate),
 * with the path left and how ("push", "replace", "pop").
 */
function onRoute(f: Route) {
  let routes = routers.get(window);
  if (routes) return void routes.push(f);
  routers.set(window, (routes = [f]));
  let path = location.pathname;
  const changed = (how: string) => {
    const from = path;
    if ((path = location.pathname) != from) for (const r of routes) r(from, how);
  };
  for (const m of ["pushState", "replaceState"] as const) {
    const orig = history[m];
    history[m] = function (this: History, ...args: Parameters<History["pushState"]>) {
      orig.apply(this, args);
      changed(m == "pushState" ? "push" : "replace");
    };
  }
  on("popstate", () => changed("pop"));
}

/**
 * Sends page.view when the page loads and on every route change of a
 * single-page app, with navigation (load, push, replace, pop), the
 * document's title and, on load, the referrer (without its query string).
 */
export function capturePageViews(): void {
  if (!once("views")) return;
  const view = (navigation: string, referrer?: string) => track("page.view", { navigation, title: document.title, referrer: referrer && scrub(referrer) });
  view("load", document.referrer || undefined);
  onRoute((_, how) => view(how));
}

/**
 * Sends page.leave when the page is left (pagehide) and, in a single-page
 * app, when the route changes: page (the path left), duration_ms since it
 * was entered and engaged_ms, the part of it the page was visible.
 */
export function capturePageLeave(): void {
  if (!once("leave")) return;
  let entered = now();
  let engaged = 0;
  let since = document.visibilityState == "visible" ? entered : -1; // visible since, or -1
  const visible = () => engaged + (since >= 0 ? now() - since : 0);
  const leave = (page: string, navigation: string) => {
    track("page.leave", { page, navigation, duration_ms: now() - entered, engaged_ms: visible() });
    entered = now();
    engaged = 0;
    if (since >= 0) since = entered;
  };
  on(
    "visibilitychange",
    () => {
      if (document.visibilityState == "visible") since = now();
      else (engaged = visible()), (since = -1);
    },
    early,
  );
  on("pagehide", () => leave(location.pathname, "unload"), early);
  onRoute(leave);
}

/** A URL as the events name it: its route (ids in the path as :id, as the Node and Go SDKs do), after the origin unless it is the page's own; never the query or fragment. */
export const routeOf = (url: string): string => {
  try {
    const u = new URL(url, location.href);
    return (u.origin == location.origin ? "" : u.origin) + route(u);
  } catch {
    return "";
  }
};

export interface FailedRequestOptions {
  /** Requests to leave alone, besides the SDK's own. */
  ignore?: (url: string) => boolean;
}

/**
 * Sends http.failed for every fetch and XMLHttpRequest that fails: status
 * 400 and above (level warn, error from 500), or no answer at all (status
 * 0, level error), with method, url (its route: routeOf), status and
 * duration_ms. Requests to the event API itself are never reported.
 */
export function captureFailedRequests(options: FailedRequestOptions = {}): void {
  if (!once("requests")) return;
  const skip = (url: string) => /\/v1\/events\b/.test(url) || !!options.ignore?.(url);
  const report = (method: string, url: string, status: number, start: number, err?: unknown) =>
    track(
      "http.failed",
      { method: method.toUpperCase(), url: routeOf(url), status, duration_ms: now() - start, error: err == null ? undefined : scrub(String(err)) },
      { level: !status || status >= 500 ? "error" : "warn" },
    );
  const f = globalThis.fetch;
  if (f) {
    globalThis.fetch = async function (input: RequestInfo | URL, init?: RequestInit) {
      const url = input instanceof Request ? input.url : String(input);
      const method = init?.method || (input instanceof Request ? input.method : "GET");
      const start = now();
      try {
        const r = await f.call(this, input, init);
        if (r.status >= 400 && !skip(url)) report(method, url, r.status, start);
        return r;
      } catch (err) {
        // An abort is the application's own doing, not a failure.
        if ((err as Error)?.name != "AbortError" && !skip(url)) report(method, url, 0, start, err);
        throw err;
      }
    };
  }
  const X = globalThis.XMLHttpRequest?.prototype;
  if (X) {
    const open = X.open;
    const send = X.send;
    const info = new WeakMap<XMLHttpRequest, [string, string]>();
    X.open = function (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) {
      info.set(this, [method, String(url)]);
      return (open as (...a: unknown[]) => void).call(this, method, url, ...rest);
    } as typeof X.open;
    X.send = function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
      const start = now();
      const [method, url] = info.get(this) || ["GET", ""];
      let aborted = false;
      this.addEventListener("abort", () => (aborted = true));
      this.addEventListener("loadend", () => {
        if (!aborted && (this.status >= 400 || !this.status) && !skip(url)) report(method, url, this.status, start, this.status ? undefined : "network error");
      });
      return send.call(this, body);
    };
  }
}

/** The web.dev thresholds: good up to the first, poor above the second. */
const rate = (v: number, good: number, poor: number) => (v <= good ? "good" : v <= poor ? "needs-improvement" : "poor");

/**
 * Sends web.vitals once per page, when it is first hidden or left: lcp_ms
 * (Largest Contentful Paint), cls (Cumulative Layout Shift, the largest
 * session window), inp_ms (Interaction to Next Paint: the slowest
 * interaction, the 98th percentile past 50), ttfb_ms, each with its rating
 * (good, needs-improvement, poor) where measured. Browsers without an API
 * leave its metric out (Safari: LCP, INP).
 */
export function captureWebVitals(): void {
  if (!once("vitals")) return;
  let lcp: number | undefined;
  let cls = 0;
  let win = 0;
  let first = 0;
  let last = 0;
  let shifted = false;
  const inter = new Map<number, number>();
  const watch = (type: string, f: (e: any) => void, opts: object = {}) => {
    try {
      new PerformanceObserver((l) => l.getEntries().forEach(f)).observe({ type, buffered: true, ...opts });
    } catch {
      /* not supported here */
    }
  };
  watch("largest-contentful-paint", (e) => (lcp = e.startTime));
  watch("layout-shift", (e) => {
    if (e.hadRecentInput) return;
    shifted = true;
    // A session window: shifts less than 1 s apart, 5 s at most.
    if (win && e.startTime - last < 1000 && e.startTime - first < 5000) win += e.value;
    else (win = e.value), (first = e.startTime);
    last = e.startTime;
    cls = Math.max(cls, win);
  });
  const interaction = (e: any) => e.interactionId && inter.set(e.interactionId, Math.max(inter.get(e.interactionId) || 0, e.duration));
  watch("event", interaction, { durationThreshold: 16 });
  watch("first-input", interaction);
  let sent = false;
  const send = () => {
    if (sent) return;
    sent = true;
    const a: Attributes = {};
    const nav = performance.getEntriesByType?.("navigation")[0] as PerformanceNavigationTiming | undefined;
    if (nav) a.ttfb_ms = Math.round(nav.responseStart);
    if (lcp != null) (a.lcp_ms = Math.round(lcp)), (a.lcp_rating = rate(lcp, 2500, 4000));
    if (shifted || lcp != null) (a.cls = Math.round(cls * 1e4) / 1e4), (a.cls_rating = rate(cls, 0.1, 0.25));
    const d = [...inter.values()].sort((x, y) => y - x);
    if (d.length) {
      const inp = d[Math.min(d.length - 1, Math.floor(d.length / 50))];
      a.inp_ms = Math.round(inp);
      a.inp_rating = rate(inp, 200, 500);
    }
    track("web.vitals", a);
  };
  on("visibilitychange", () => document.visibilityState == "hidden" && send(), early);
  on("pagehide", send, early);
}
