// Measures what the SDKs a team would otherwise pick cost a page, the same
// way scripts/bundle.mjs measures this one: the few lines that start each
// and send one event, bundled by esbuild (--bundle --minify, ES module,
// browser platform, every dynamic import included), minified and gzipped
// at level 9. Installs the named versions into a temporary directory from
// the npm registry (so it needs the network; the test suite never runs it)
// and prints a Markdown table for docs/sdk-js.md.
//
//   node scripts/compare-sizes.mjs     (or: make sdk-js-sizes)
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const others = [
  {
    name: "Segment analytics-next",
    pkg: "@segment/analytics-next@1.84.3",
    code: `import { AnalyticsBrowser } from "@segment/analytics-next";
export const a = AnalyticsBrowser.load({ writeKey: "k" });
a.track("form.submit", { step: 3 });`,
  },
  {
    name: "PostHog posthog-js",
    pkg: "posthog-js@1.449.2",
    code: `import posthog from "posthog-js";
posthog.init("k", { api_host: "https://eu.i.posthog.com" });
posthog.capture("form.submit", { step: 3 });`,
  },
  {
    name: "Grafana Faro Web SDK (default instrumentations)",
    pkg: "@grafana/faro-web-sdk@2.12.1",
    code: `import { initializeFaro, getWebInstrumentations } from "@grafana/faro-web-sdk";
const faro = initializeFaro({ url: "https://faro.example.com/collect", app: { name: "collabmaker" }, instrumentations: getWebInstrumentations() });
faro.api.pushEvent("form.submit", { step: "3" });`,
  },
];

const ours = [
  { name: "alloy-curated: init + track", code: `import { init, track } from "./src/browser.ts"; init({ endpoint: "https://events.example.com", key: "k" }); track("form.submit", { step: 3 });` },
  {
    name: "alloy-curated: init + track + every capture module",
    code: `import { init, track, captureErrors, capturePageViews, capturePageLeave, captureFailedRequests, captureWebVitals } from "./src/browser.ts";
init({ endpoint: "https://events.example.com", key: "k" });
captureErrors(); capturePageViews(); capturePageLeave(); captureFailedRequests(); captureWebVitals();
track("form.submit", { step: 3 });`,
  },
];

const size = async (contents, resolveDir) => {
  const r = await build({
    stdin: { contents, resolveDir, loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    legalComments: "none",
    logLevel: "error",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const out = r.outputFiles[0].contents;
  return { minified: out.length, gzipped: gzipSync(out, { level: 9 }).length };
};

const dir = mkdtempSync(join(tmpdir(), "sdk-sizes-"));
try {
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", dir, ...others.map((o) => o.pkg)], { stdio: "inherit" });
  const rows = [];
  for (const o of ours) rows.push([o.name, "this repository", await size(o.code, process.cwd())]);
  for (const o of others) {
    const version = JSON.parse(readFileSync(join(dir, "node_modules", o.pkg.replace(/@[^@]*$/, ""), "package.json"), "utf8")).version;
    rows.push([o.name, version, await size(o.code, dir)]);
  }
  console.log(`Measured ${new Date().toISOString().slice(0, 10)} with esbuild ${(await import("esbuild")).version}:\n`);
  console.log("| SDK | version | minified | min+gz |\n|---|---|---|---|");
  for (const [name, version, s] of rows) console.log(`| ${name} | ${version} | ${s.minified.toLocaleString("en")} B | ${s.gzipped.toLocaleString("en")} B |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
