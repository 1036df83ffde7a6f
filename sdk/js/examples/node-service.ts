// A Node.js service as the docs show it: init once, then wrap, @tracked and
// an instrumented fetch report without cluttering the code. e2e/sdkjs_test.go
// runs it against the real alloy-custom and Loki:
//
//	node dist-test/examples/node-service.js <endpoint> <key> <run> <places-url>
import { init, instrumentFetch, shutdown, tracked, wrap } from "@alloy-curated/sdk/node";

const [endpoint, key, run, placesURL] = process.argv.slice(2);
init({ endpoint, key, service: "sdk-js-node", release: "e2e", attributes: { run } });

// Outbound calls: host, method, route template, status, duration_ms.
const places = instrumentFetch("places.http");

class Partners {
  // One event per call: outcome, duration_ms, error_type and error on failure.
  @tracked("partner.sync", { source: "decorator" })
  async sync(id: string): Promise<number> {
    const r = await places(`${placesURL}/places/${id}?key=not-for-loki`);
    if (!r.ok) throw new Error(`places answered ${r.status}`);
    return r.status;
  }
}

const lookup = wrap("places.lookup", async (query: string) => (await places(`${placesURL}/search?q=${encodeURIComponent(query)}`)).status, { source: "wrap" });

const partners = new Partners();
await partners.sync("12345");
await partners.sync("0").catch(() => undefined);
await lookup("Seoul");
// Without this the beforeExit hook would send the rest; an explicit shutdown
// says how long it may take.
console.log(JSON.stringify({ delivered: await shutdown(10000) }));
