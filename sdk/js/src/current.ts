// The client that the module-level functions (track, wrap, @tracked, ...)
// use: one per page or process, set by init.
import { errorArgs, type Attributes, type Client, type TrackOptions } from "./core.js";

let current: Client | undefined;

/** The client that track, wrap and @tracked use (set by init). */
export const use = (c: Client | undefined): Client | undefined => (current = c);
export const client = (): Client | undefined => current;

/** A module-level function calling method m of the current client; before init it warns and does nothing. */
export const forward =
  <M extends "track" | "flush" | "shutdown">(m: M) =>
  (...args: Parameters<Client[M]>): ReturnType<Client[M]> =>
    current ? (current[m] as (...a: unknown[]) => ReturnType<Client[M]>)(...args) : (console.warn("curated: call init() first"), Promise.resolve(true) as ReturnType<Client[M]>);

/** Sends an error as an event (default name "error") at level error with error_type, error and stack. */
export const error = (err: unknown, attributes?: Attributes, options?: TrackOptions & { event?: string }): void =>
  forward("track")(...errorArgs(err, attributes, options));
