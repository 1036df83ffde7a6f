// The Node.js entry point: its own HTTP agents with the key in a header,
// gzip, timers and sockets that keep the process alive only while a flush
// is awaited, a flush with a deadline on beforeExit and SIGTERM/SIGINT, and
// an instrumented fetch for outbound calls.
import { Agent as HTTPAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HTTPSAgent, request as httpsRequest } from "node:https";
import { gzipSync } from "node:zlib";
import { AsyncLocalStorage } from "node:async_hooks";
import { createClient, route, scrub, type Attributes, type Client, type Options, type Reply, type TrackOptions } from "./core.js";
import { client, forward, use } from "./current.js";

export type { Attributes, Client, CuratedEvent, DropReason, Level, Options, Stats, TrackOptions } from "./core.js";
export { wrap, tracked, submit } from "./wrap.js";
export { route };

export interface NodeOptions extends Options {
  /** One request's deadline in ms. Default 10000. */
  timeout?: number;
  /** Flush on beforeExit, SIGTERM and SIGINT, for at most exitTimeout ms. Default true. */
  handleExit?: boolean;
  exitTimeout?: number;
  /**
   * A fetch to send with instead of the SDK's own HTTP agents (never an
   * instrumented one). Its connections may keep the process alive until a
   * request's timeout, which the own agents never do.
   */
  fetch?: typeof fetch;
  /** gzip bodies over 1 KiB. Default true. */
  gzip?: boolean;
}

const base = globalThis.fetch;
/** This SDK's version, sent in the User-Agent of every request from Node.js. */
export const VERSION = "0.3.0";
const userAgent = `alloy-curated-js/${VERSION} node/${process.version}`;
// The SDK's own connections, apart from the application's: their sockets
// are unref'd, so a request in flight never keeps a process alive that has
// nothing else to do (beforeExit then runs the exit flush, bounded by
// exitTimeout); an awaited flush holds the process itself.
const agents = { "http:": new HTTPAgent({ keepAlive: true }), "https:": new HTTPSAgent({ keepAlive: true }) };

/** post sends one request with the SDK's agents and reads the API's answer. */
function post(url: string, headers: Record<string, string>, data: string | Uint8Array, signal: AbortSignal, timeout: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol == "https:" ? httpsRequest : httpRequest)(
      u,
      { method: "POST", headers: { ...headers, "Content-Length": String(Buffer.byteLength(data)) }, signal, timeout, agent: agents[u.protocol as keyof typeof agents] },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          let body: { errors?: Reply[2] } | undefined;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString());
          } catch {
            /* not the API's JSON: the status says enough */
          }
          resolve([res.statusCode!, res.headers["retry-after"] as string | undefined, body?.errors]);
        });
      },
    );
    req.on("socket", (s) => s.unref());
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(data);
  });
}
// The previous init's process listeners: calling init again replaces them.
let unlisten: (() => void) | undefined;

/** Starts the client every other call uses. Calling it again replaces it. */
export function init(options: NodeOptions): Client {
  const o = { timeout: 10000, handleExit: true, exitTimeout: 5000, gzip: true, ...options };
  // Timers never keep the process alive by themselves; this one does while
  // a flush or shutdown waits, so an awaited flush() settles even when
  // nothing else runs (shutdown's deadline bounds it at exit).
  let keep: ReturnType<typeof setInterval> | undefined;
  const [c] = createClient(o, [
    { maxQueueEvents: 10000, maxQueueBytes: 8 << 20, batchEvents: 250, batchBytes: 512 << 10 },
    async (url, body, signal) => {
      const headers: Record<string, string> = { "Content-Type": "application/json", "User-Agent": userAgent };
      if (o.key) headers["X-API-Key"] = o.key;
      let data: BodyInit = body;
      if (o.gzip && body.length > 1024) {
        data = new Uint8Array(gzipSync(body));
        headers["Content-Encoding"] = "gzip";
      }
      if (!o.fetch) return post(url, headers, data as string | Uint8Array, signal, o.timeout);
      const timeout = AbortSignal.timeout(o.timeout);
      const r = await o.fetch(url, { method: "POST", headers, body: data, signal: AbortSignal.any ? AbortSignal.any([signal, timeout]) : timeout });
      return [r.status, r.headers.get("Retry-After"), (await r.json().catch(() => 0))?.errors];
    },
    undefined,
    undefined,
    undefined,
    undefined,
    // The scope of the code that tracked (withScope).
    (e) => {
      const s = scopes.getStore();
      if (!s) return;
      for (const k of IDS) e[k] ??= s[k];
      if (s.attributes) e.attributes = { ...s.attributes, ...e.attributes };
    },
    (t) => t.unref?.(),
    (on) => {
      if (on) keep ??= setInterval(() => {}, 1 << 30);
      else clearInterval(keep), (keep = undefined);
    },
  ]);
  unlisten?.();
  unlisten = undefined;
  use(c);
  if (o.handleExit) {
    // beforeExit fires when nothing else keeps the loop alive: send what is
    // left, within exitTimeout (what is still queued then is dropped and
    // reported), then let the process end.
    const exit = () => {
      if (c.stats().queued) void c.shutdown(o.exitTimeout);
    };
    const signals = (["SIGTERM", "SIGINT"] as const).map((sig) => {
      const f = async () => {
        await c.shutdown(o.exitTimeout);
        // Ours was the only handler: end the way the signal would have.
        if (!process.listenerCount(sig)) process.kill(process.pid, sig);
      };
      process.once(sig, f);
      return () => process.off(sig, f);
    });
    process.on("beforeExit", exit);
    unlisten = () => (process.off("beforeExit", exit), signals.forEach((off) => off()));
  }
  return c;
}

/** What withScope gives the events tracked inside it. */
export type Scope = Pick<TrackOptions, "user_id" | "session_id" | "anonymous_id" | "trace_id" | "span_id"> & { attributes?: Attributes };

const IDS = ["user_id", "session_id", "anonymous_id", "trace_id", "span_id"] as const;
const scopes = new AsyncLocalStorage<Scope>();

/**
 * Runs fn in a scope: every event tracked inside it, however deep in its
 * async calls, carries the scope's ids and attributes unless it sets its
 * own (the user of one request, say). Scopes nest; the inner one wins.
 */
export function withScope<T>(scope: Scope, fn: () => T): T {
  const outer = scopes.getStore();
  return scopes.run({ ...outer, ...scope, attributes: { ...outer?.attributes, ...scope.attributes } }, fn);
}

export interface FetchOptions {
  /** The fetch to wrap (default: the global one). */
  fetch?: typeof fetch;
  /** The route template of a URL (default: ids in the path become :id). */
  route?: (url: URL) => string;
  attributes?: Attributes;
}

/**
 * A fetch that reports every call as event name: host, method, route (a
 * template: no ids, never the query), status, duration_ms, and error_class
 * and error when it fails. Level error for failures and 5xx.
 */
export function instrumentFetch(name: string, options: FetchOptions = {}): typeof fetch {
  const f = options.fetch || base;
  return async (input, init) => {
    // Never a new Request(input, init): it would take a streamed body away from the call.
    const isReq = input instanceof Request;
    const u = new URL(isReq ? input.url : String(input));
    const method = (init?.method || (isReq ? input.method : "GET")).toUpperCase();
    const a: Attributes = { ...options.attributes, host: u.host, method, route: (options.route || route)(u) };
    const start = Date.now();
    try {
      const r = await f(input, init);
      client()?.track(name, { ...a, status: r.status, duration_ms: Date.now() - start }, { level: r.status >= 500 ? "error" : r.status >= 400 ? "warn" : "info" });
      return r;
    } catch (err) {
      client()?.track(name, { ...a, duration_ms: Date.now() - start, error_class: errorClass(err), error: scrub(String((err as Error)?.message ?? err)) }, { level: "error" });
      throw err;
    }
  };
}

/** errorClass names why a call failed, as the Go SDK does. */
export function errorClass(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string; errors?: { code?: string }[] } };
  const code = e?.cause?.code || e?.cause?.errors?.[0]?.code || e?.code || "";
  if (e?.name == "TimeoutError" || code == "UND_ERR_CONNECT_TIMEOUT" || code == "ETIMEDOUT") return "timeout";
  if (e?.name == "AbortError") return "canceled";
  if (code == "ENOTFOUND" || code == "EAI_AGAIN") return "dns";
  if (code == "ECONNREFUSED") return "refused";
  if (code == "ECONNRESET" || code == "UND_ERR_SOCKET") return "reset";
  if (/CERT|SSL|TLS/.test(code)) return "tls";
  return "other";
}

export const track = forward("track");
export { error } from "./current.js";
export const flush = forward("flush");
export const shutdown = forward("shutdown");
