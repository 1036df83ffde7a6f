// Bundles the browser entry point the way a user's bundler does (esbuild
// --bundle --minify, ES module, no property mangling: bundlers keep property
// names) into dist/curated.min.js, what a page or a CDN serves, and checks
// the size budget: 4 KB minified and gzipped for the whole entry, and less
// for a page that imports only init and track. Also reports what the
// separate entry points add (@alloy-curated/sdk/wrap), and writes
// dist/sizes.json with every number for the tests and docs.
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
writeFileSync("dist/sizes.json", JSON.stringify(sizes, null, 1) + "\n");
console.log(
  `browser entry (dist/curated.min.js): ${sizes.entry.minified} B minified, ${sizes.entry.gzipped} B gzipped (budget ${BUDGET}); ` +
    `init+track alone: ${sizes.initTrack.gzipped} B; @alloy-curated/sdk/wrap adds ${sizes.wrapAdds} B`,
);
if (sizes.entry.gzipped > BUDGET || sizes.initTrack.gzipped >= sizes.entry.gzipped) {
  console.error(`over the size budget: the entry is ${sizes.entry.gzipped} B (budget ${BUDGET}), init+track ${sizes.initTrack.gzipped} B`);
  process.exit(1);
}
