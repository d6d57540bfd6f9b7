// Screenshots of the layouts with fake participants (test/preview.html),
// taken with headless Chromium; for looking at them, not a test.
//
//   node test/shoot.mjs                 -> screenshots/<layout>.png (4 people, 1280x720)
//   node test/shoot.mjs --matrix DIR    -> DIR/<layout>-<W>x<H>-n<N>[-share].png
//   node test/shoot.mjs --one OUT.png W H 'layout=grid&n=3&share=1'
//
// Needs /usr/lib/chromium/chromium and ffmpeg (to crop). Headless Chromium's
// viewport is shorter than --window-size (a hidden toolbar) and is resized
// to the window while capturing, so the preview pins its stage to WxH
// (?w=&h=) in a taller window and the shot is cropped to WxH.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/lib/chromium/chromium';
const LAYOUTS = ['grid', 'speaker', 'single-speaker', 'grid-light', 'speaker-light', 'single-speaker-light'];

const server = spawn(process.execPath, [join(here, 'serve.mjs'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolve, reject) => {
  server.stdout.once('data', (d) => resolve(String(d).trim()));
  server.once('exit', (code) => reject(new Error(`serve.mjs exited ${code}`)));
});
const profile = mkdtempSync(join(tmpdir(), 'roomcast-shoot-'));

function chromium(args) {
  const r = spawnSync(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      '--autoplay-policy=no-user-gesture-required',
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`chromium failed: ${r.stderr}`);
  return r.stdout;
}

function shoot(out, w, h, query) {
  const raw = `${out}.raw.png`;
  chromium([`--screenshot=${raw}`, `--window-size=${w},${h + 200}`, '--virtual-time-budget=5000', `${base}?still=1&w=${w}&h=${h}&${query}`]);
  const ff = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', raw, '-vf', `crop=${w}:${h}:0:0`, out], { encoding: 'utf8' });
  rmSync(raw, { force: true });
  if (ff.status !== 0) throw new Error(`ffmpeg: ${ff.stderr}`);
  console.log(`${out} (${Math.round(statSync(out).size / 1024)} KB)`);
}

try {
  const args = process.argv.slice(2);
  if (args[0] === '--one') {
    shoot(args[1], Number(args[2]), Number(args[3]), args[4] ?? '');
  } else if (args[0] === '--matrix') {
    const dir = args[1];
    mkdirSync(dir, { recursive: true });
    for (const layout of LAYOUTS) {
      for (const [w, h] of [[1280, 720], [720, 1280]]) {
        for (const n of [1, 2, 4, 7]) {
          for (const share of [0, 1]) {
            const q = `layout=${layout}&n=${n}&speaker=${n > 1 ? 1 : 0}&off=${n > 2 ? 2 : ''}&muted=${n > 3 ? 3 : ''}&share=${share}`;
            shoot(join(dir, `${layout}-${w}x${h}-n${n}${share ? '-share' : ''}.png`), w, h, q);
          }
        }
      }
    }
  } else {
    const dir = join(here, '..', 'screenshots');
    mkdirSync(dir, { recursive: true });
    for (const layout of LAYOUTS) {
      shoot(join(dir, `${layout}.png`), 1280, 720, `layout=${layout}&n=4&speaker=1&off=2&muted=3`);
    }
  }
} finally {
  server.kill();
  rmSync(profile, { recursive: true, force: true });
}
