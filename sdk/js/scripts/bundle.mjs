// Bundles the browser entry point the way a user's bundler does (esbuild
// --bundle --minify, ES module, no property mangling: bundlers keep property
// names) into dist/curated.min.js, what a page or a CDN serves, and checks
// the size budget: 4 KB minified and gzipped for a page that imports init
// and track. Also reports the whole entry, what each opt-in function adds
// (identify, consent, the capture modules) and the separate entry point
// @alloy-curated/sdk/wrap, and writes dist/sizes.json with every number for
// the tests and docs.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 4096;
const src = new URL("../src/", import.meta.url).pathname;
const bundle = async (contents, outfile) => {
  await build({
    stdin: { contents, resolveDir: src, loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    outfile,
    legalComments: "none",
  });
  const raw = readFileSync(outfile);
  return { minified: raw.length, gzipped: gzipSync(raw, { level: 9 }).length };
};

mkdirSync("dist", { recursive: true });
const sizes = {
  entry: await bundle(`export * from "./browser.ts";`, "dist/curated.min.js"),
  initTrack: await bundle(`export { init, track } from "./browser.ts";`, "dist-size/init-track.js"),
  withWrap: await bundle(`export * from "./browser.ts"; export * from "./wrap.ts";`, "dist-size/with-wrap.js"),
};
sizes.wrapAdds = sizes.withWrap.gzipped - sizes.entry.gzipped;
// What each opt-in piece adds to init+track, bundled alone with them.
sizes.adds = {};
for (const name of ["identify", "reset", "optIn", "captureErrors", "capturePageViews", "capturePageLeave", "captureFailedRequests", "captureWebVitals"]) {
  const b = await bundle(`export { init, track, ${name} } from "./browser.ts";`, `dist-size/with-${name}.js`);
  sizes.adds[name] = b.gzipped - sizes.initTrack.gzipped;
}
writeFileSync("dist/sizes.json", JSON.stringify(sizes, null, 1) + "\n");
console.log(
  `init+track: ${sizes.initTrack.gzipped} B gzipped (budget ${BUDGET}); the whole browser entry (dist/curated.min.js): ` +
    `${sizes.entry.minified} B minified, ${sizes.entry.gzipped} B gzipped; @alloy-curated/sdk/wrap adds ${sizes.wrapAdds} B; ` +
    Object.entries(sizes.adds).map(([k, v]) => `${k} adds ${v} B`).join(", "),
);
if (sizes.initTrack.gzipped > BUDGET) {
  console.error(`over the size budget: init+track is ${sizes.initTrack.gzipped} B (budget ${BUDGET})`);
  process.exit(1);
}
