// A test transport for applications' own tests (Node.js): a fetch that
// answers like the event API when it accepts everything, and keeps every
// event exactly as the API would get it.
//
//   const rec = recorder();
//   init({ endpoint: "http://api.test", fetch: rec.fetch, handleExit: false });
//   await submitForm();
//   await flush();
//   assert.equal(rec.named("form.submit").length, 1);
import { gunzipSync } from "node:zlib";
import type { CuratedEvent } from "./core.js";

/** One event as the API received it, with its request's context. */
export interface RecordedEvent extends CuratedEvent {
  context?: { service?: string; attributes?: Record<string, unknown> };
}

export interface Recorder {
  /** Give this to init({ fetch }). */
  fetch: typeof fetch;
  /** Every event received so far, in order (call flush() first). */
  events(): RecordedEvent[];
  /** The events named name. */
  named(name: string): RecordedEvent[];
  /** The request headers seen, one entry per request. */
  headers(): Record<string, string>[];
  reset(): void;
}

export function recorder(): Recorder {
  let events: RecordedEvent[] = [];
  let headers: Record<string, string>[] = [];
  const fetch = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const h = Object.fromEntries(Object.entries((init?.headers as Record<string, string>) || {}).map(([k, v]) => [k.toLowerCase(), v]));
    let body = init?.body as string | Uint8Array;
    if (h["content-encoding"] == "gzip") body = gunzipSync(body as Uint8Array).toString();
    const env = JSON.parse(typeof body == "string" ? body : Buffer.from(body).toString());
    headers.push(h);
    for (const e of env.events) events.push({ ...e, context: env.context });
    return new Response(JSON.stringify({ accepted: env.events.length, rejected: 0, errors: [] }), {
      status: 202,
      headers: { "Content-Type": "application/json" },
    });
  };
  return {
    fetch: fetch as typeof globalThis.fetch,
    events: () => events.slice(),
    named: (name) => events.filter((e) => e.event == name),
    headers: () => headers.slice(),
    reset: () => {
      events = [];
      headers = [];
    },
  };
}
