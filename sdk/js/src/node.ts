// The Node.js entry point: global fetch with the key in a header, gzip,
// timers that never keep the process alive, a flush with a deadline on
// beforeExit and SIGTERM/SIGINT, and an instrumented fetch for outbound calls.
import { gzipSync } from "node:zlib";
import { createClient, type Attributes, type Client, type Options } from "./core.js";
import { client, forward, use } from "./wrap.js";

export type { Attributes, Client, CuratedEvent, DropReason, Level, Options, Stats, TrackOptions } from "./core.js";
export { wrap, tracked } from "./wrap.js";

export interface NodeOptions extends Options {
  /** One request's deadline in ms. Default 10000. */
  timeout?: number;
  /** Flush on beforeExit, SIGTERM and SIGINT, for at most exitTimeout ms. Default true. */
  handleExit?: boolean;
  exitTimeout?: number;
  /** The fetch to send with (default: the global one, never an instrumented one). */
  fetch?: typeof fetch;
  /** gzip bodies over 1 KiB. Default true. */
  gzip?: boolean;
}

const base = globalThis.fetch;

/** Starts the client every other call uses. Calling it again replaces it. */
export function init(options: NodeOptions): Client {
  const o = { timeout: 10000, handleExit: true, exitTimeout: 5000, gzip: true, ...options };
  const send = o.fetch || base;
  const c = createClient(o, {
    defaults_: { maxQueueEvents: 10000, maxQueueBytes: 8 << 20, batchEvents: 250, batchBytes: 512 << 10 },
    async send(url, body) {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (o.key) headers["X-API-Key"] = o.key;
      let data: BodyInit = body;
      if (o.gzip && body.length > 1024) {
        data = new Uint8Array(gzipSync(body));
        headers["Content-Encoding"] = "gzip";
      }
      const r = await send(url, { method: "POST", headers, body: data, signal: AbortSignal.timeout(o.timeout) });
      return { status: r.status, retryAfter_: r.headers.get("Retry-After"), body: await r.json().catch(() => undefined) };
    },
    timer_: (t) => t.unref?.(),
  });
  use(c);
  if (o.handleExit) {
    // beforeExit fires when nothing else keeps the loop alive: send what is
    // left once, within the deadline, then let the process end.
    let done = false;
    const exit = () => {
      if (!done && c.stats().queued) {
        done = true;
        void c.shutdown(o.exitTimeout);
      }
    };
    process.on("beforeExit", exit);
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      process.once(sig, async () => {
        await c.shutdown(o.exitTimeout);
        // Ours was the only handler: end the way the signal would have.
        if (!process.listenerCount(sig)) process.kill(process.pid, sig);
      });
    }
  }
  return c;
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
      client()?.track(name, { ...a, duration_ms: Date.now() - start, error_class: errorClass(err), error: String((err as Error)?.message ?? err) }, { level: "error" });
      throw err;
    }
  };
}

/** route replaces path segments that look like ids (digits, UUIDs, long hex) with :id. */
export function route(u: URL): string {
  return u.pathname
    .split("/")
    .map((s) => s.replace(/^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})(?=\.\w+$|$)/i, ":id"))
    .join("/");
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
export const error = forward("error");
export const flush = forward("flush");
export const shutdown = forward("shutdown");
