// Bundles the browser entry point into one minified ES module
// (dist/curated.min.js, what a page or a CDN serves) and checks the size
// budget: 4 KB minified and gzipped. Prints the measured size.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 4096;
const out = "dist/curated.min.js";
await build({
  entryPoints: ["src/browser.ts"],
  bundle: true,
  minify: true,
  // Internal names end in _: safe to shorten, unlike the public options.
  mangleProps: /_$/,
  format: "esm",
  target: "es2020",
  outfile: out,
  legalComments: "none",
});
const raw = readFileSync(out);
const gz = gzipSync(raw, { level: 9 }).length;
console.log(`${out}: ${raw.length} bytes minified, ${gz} bytes gzipped (budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`${out} is over the size budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}
