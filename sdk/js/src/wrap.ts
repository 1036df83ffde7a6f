// The function-level abstraction: one event per call, with outcome, duration
// and the error, so sending events does not clutter application code.
// Its own entry point in browsers (@alloy-curated/sdk/wrap), so pages that
// do not wrap functions do not download it; Node's entry re-exports it.
import { scrub, type Attributes } from "./core.js";
import { client } from "./current.js";

/** Runs fn and reports the call as event name: outcome, duration_ms and, on failure, error_type and error. */
function call<T>(name: string, attributes: Attributes | undefined, fn: () => T): T {
  const start = Date.now();
  const report = (failed: boolean, err?: unknown) => {
    const a: Attributes = { ...attributes, outcome: failed ? "error" : "ok", duration_ms: Date.now() - start };
    if (failed) {
      a.error_type = err instanceof Error ? err.name : typeof err;
      a.error = scrub(err instanceof Error ? err.message : String(err));
    }
    client()?.track(name, a, failed ? { level: "error" } : {});
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
export const tracked =
  (name?: string, attributes?: Attributes) =>
  <This, A extends unknown[], R>(method: (this: This, ...args: A) => R, context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>) =>
    wrap(name || String(context.name), method, attributes) as (this: This, ...args: A) => R;

/**
 * The submit action of a form, as the alert rules expect it: sends `name + ".attempt"` at once, runs fn (the
 * submission), then `name` with outcome ok (level info) or error (level error, with the error), and duration_ms.
 * If the page is left while fn runs, the outcome is abandoned (level warn): a closed tab is not a lost answer,
 * while an attempt that never gets an outcome is what FormSubmitUnanswered pages on.
 */
export function submit<R>(fn: () => R | PromiseLike<R>, attributes?: Attributes, name = "form.submit"): Promise<R> {
  const attempt = { ...attributes, attempt: Date.now().toString(36) + Math.random().toString(36).slice(2, 6) };
  client()?.track(name + ".attempt", attempt);
  const start = Date.now();
  let done = false;
  const left = () => {
    if (!done) {
      done = true;
      client()?.track(name, { ...attempt, outcome: "abandoned", duration_ms: Date.now() - start }, { level: "warn" });
    }
  };
  const g = globalThis as { addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void };
  g.addEventListener?.("pagehide", left);
  const settle = (failed: boolean, err?: unknown) => {
    g.removeEventListener?.("pagehide", left);
    if (done) return;
    done = true;
    const a: Attributes = { ...attempt, outcome: failed ? "error" : "ok", duration_ms: Date.now() - start };
    if (failed) {
      a.error_type = err instanceof Error ? err.name : typeof err;
      a.error = scrub(err instanceof Error ? err.message : String(err));
    }
    client()?.track(name, a, failed ? { level: "error" } : {});
  };
  let out: Promise<R>;
  try {
    out = Promise.resolve(fn());
  } catch (err) {
    out = Promise.reject(err);
  }
  return out.then(
    (v) => (settle(false), v),
    (err) => {
      settle(true, err);
      throw err;
    },
  );
}
