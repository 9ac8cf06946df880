// Builds the app into dist/: index.html, build.json (commit and build time), favicon.svg and
// hashed files under assets/ (NAME-HASH.js / .css), which edge/edge.toml's `/assets/*` behaviour
// keeps for a year. No inline script or style anywhere, so the edge can send a strict CSP.
import { execFileSync } from 'node:child_process';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/** `git rev-parse --short=12 HEAD`, with `-dirty` when the work tree has changes. */
function commit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    return git('rev-parse', '--short=12', 'HEAD') + (git('status', '--porcelain') ? '-dirty' : '');
  } catch {
    return 'unknown';
  }
}

/** Emits build.json: what the Overview page shows as the running build. */
function buildInfo(): Plugin {
  return {
    name: 'verge-build-info',
    apply: 'build',
    generateBundle() {
      const time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      this.emitFile({ type: 'asset', fileName: 'build.json', source: `${JSON.stringify({ commit: commit(), time })}\n` });
    },
  };
}

export default defineConfig({
  plugins: [buildInfo()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // dist/.vite/manifest.json: which chunks each route loads (scripts/size.mjs reads it).
    manifest: true,
    // Every asset is a file: an inlined data: URL would need img-src/font-src data: in the CSP.
    assetsInlineLimit: 0,
    target: 'es2022',
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    isolate: false,
  },
});
