// The function-level abstraction: one event per call, with outcome, duration
// and the error, so sending events does not clutter application code.
import type { Attributes, Client } from "./core.js";

let current: Client | undefined;

/** The client that track, wrap and @tracked use (set by init). */
export const use = (c: Client | undefined): Client | undefined => (current = c);
export const client = (): Client | undefined => current;

/** A module-level function calling method m of the current client; before init it warns and does nothing. */
export const forward =
  <M extends "track" | "error" | "flush" | "shutdown">(m: M) =>
  (...args: Parameters<Client[M]>): ReturnType<Client[M]> =>
    current ? (current[m] as (...a: unknown[]) => ReturnType<Client[M]>)(...args) : (console.warn("curated: call init() first"), Promise.resolve(true) as ReturnType<Client[M]>);

/** Runs fn and reports the call as event name: outcome, duration_ms and, on failure, error_type and error. */
function call<T>(name: string, attributes: Attributes | undefined, fn: () => T): T {
  const start = Date.now();
  const report = (failed: boolean, err?: unknown) => {
    const a: Attributes = { ...attributes, outcome: failed ? "error" : "ok", duration_ms: Date.now() - start };
    if (failed) {
      a.error_type = err instanceof Error ? err.name : typeof err;
      a.error = err instanceof Error ? err.message : String(err);
    }
    current?.track(name, a, failed ? { level: "error" } : {});
  };
  let out: T;
  try {
    out = fn();
  } catch (err) {
    report(true, err);
    throw err;
  }
  if (out && typeof (out as { then?: unknown }).then == "function") {
    (out as unknown as PromiseLike<unknown>).then(
      () => report(false),
      (err) => report(true, err),
    );
  } else report(false);
  return out;
}

/** Wraps a function (sync or async): every call sends one event named name. The result and errors pass through unchanged. */
export function wrap<A extends unknown[], R>(name: string, fn: (...args: A) => R, attributes?: Attributes): (...args: A) => R {
  return function (this: unknown, ...args: A): R {
    return call(name, attributes, () => fn.apply(this, args));
  };
}

/** A standard (TC39) method decorator doing what wrap does: `@tracked("shopify.sync") async sync() {...}`. */
export function tracked(name?: string, attributes?: Attributes) {
  return function <This, A extends unknown[], R>(method: (this: This, ...args: A) => R, context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>) {
    const event = name || String(context.name);
    return function (this: This, ...args: A): R {
      return call(event, attributes, () => method.apply(this, args));
    };
  };
}
