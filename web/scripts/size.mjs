// Prints the JavaScript (and CSS) each route loads, gzipped, from Vite's manifest: the entry
// chunk with its static imports, plus the route's page chunk with its own. The first load of a
// route fetches exactly these. Fails the build if a route needs more than the budget.
//
//   node scripts/size.mjs [dist]
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 100;
const dist = path.resolve(process.argv[2] ?? 'dist');
const manifest = JSON.parse(fs.readFileSync(path.join(dist, '.vite/manifest.json'), 'utf8'));
const gz = (file) => gzipSync(fs.readFileSync(path.join(dist, file)), { level: 9 }).length;

/** The files a chunk loads up front: itself, its static imports (recursively), their CSS. */
function closure(key, seen = new Set()) {
  if (seen.has(key)) return seen;
  seen.add(key);
  for (const dep of manifest[key].imports ?? []) closure(dep, seen);
  return seen;
}
function files(keys) {
  const js = new Set();
  const css = new Set();
  for (const k of keys) {
    js.add(manifest[k].file);
    for (const c of manifest[k].css ?? []) css.add(c);
  }
  return { js: [...js], css: [...css] };
}

const entry = Object.keys(manifest).find((k) => manifest[k].isEntry);
const routes = (manifest[entry].dynamicImports ?? []).map((page) => ({
  name: path.basename(page).replace(/\.\w+$/, ''),
  ...files(closure(page, closure(entry))),
}));
const kb = (n) => (n / 1024).toFixed(1);
let worst = 0;
console.log('route         JS gzip   CSS gzip   files');
for (const r of routes) {
  const js = r.js.reduce((n, f) => n + gz(f), 0);
  const css = r.css.reduce((n, f) => n + gz(f), 0);
  worst = Math.max(worst, js);
  console.log(`${r.name.padEnd(12)} ${kb(js).padStart(6)} KB ${kb(css).padStart(7)} KB   ${r.js.length} js, ${r.css.length} css`);
}
console.log(`largest route: ${kb(worst)} KB of JavaScript gzipped (budget ${BUDGET_KB} KB)`);
if (worst > BUDGET_KB * 1024) {
  console.error(`a route needs more than ${BUDGET_KB} KB of JavaScript gzipped`);
  process.exit(1);
}
