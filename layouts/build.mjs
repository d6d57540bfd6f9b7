// Builds dist/ (index.html, app.js, app.css) for go:embed.
// Usage: node build.mjs   (npm run build)
//
// dist/.gitkeep is kept so that `go build` works on a fresh clone before
// anyone ran npm (the Go package then reports "layouts not built").

import * as esbuild from 'esbuild';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

await mkdir(dist, { recursive: true });
for (const name of await readdir(dist)) {
  if (name !== '.gitkeep') await rm(join(dist, name), { recursive: true, force: true });
}

await esbuild.build({
  entryPoints: [join(here, 'src/main.js')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  // Debian's Chromium is far newer; this only bounds the syntax used.
  target: ['chrome110'],
  minify: true,
  legalComments: 'eof',
  sourcemap: false,
  logLevel: 'warning',
});

await esbuild.build({
  entryPoints: [join(here, 'src/app.css')],
  outfile: join(dist, 'app.css'),
  bundle: true,
  minify: true,
  target: ['chrome110'],
  logLevel: 'warning',
});

await copyFile(join(here, 'src/index.html'), join(dist, 'index.html'));

const files = (await readdir(dist)).filter((n) => n !== '.gitkeep').sort();
console.log(`layouts: built ${files.join(', ')} in ${dist}`);
