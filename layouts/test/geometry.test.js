// Unit tests for the layout math: node --test (no browser).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  CAMERA_CROP_MAX,
  LAYOUT_NAMES,
  MAX_GRID_TILES,
  cameraRect,
  computeLayout,
  fitAspect,
  gridDims,
  gridRects,
  metrics,
  parseLayout,
  pickRecent,
  splitStage,
} from '../src/geometry.js';

const SIZES = [
  [1280, 720],
  [720, 1280],
  [1920, 1080],
  [1080, 1920],
];

const cams = (n) => Array.from({ length: n }, (_, i) => ({ key: `c:${i}` }));

function inside(r, W, H) {
  return r.x >= 0 && r.y >= 0 && r.x + r.w <= W && r.y + r.h <= H && r.w > 0 && r.h > 0;
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function assertNoOverlap(tiles) {
  for (let i = 0; i < tiles.length; i++) {
    for (let j = i + 1; j < tiles.length; j++) {
      assert.ok(!overlaps(tiles[i], tiles[j]), `${tiles[i].key} overlaps ${tiles[j].key}`);
    }
  }
}

describe('parseLayout', () => {
  const cases = [
    ['grid', { name: 'grid', base: 'grid', theme: 'dark' }],
    ['speaker', { name: 'speaker', base: 'speaker', theme: 'dark' }],
    ['single-speaker', { name: 'single-speaker', base: 'single-speaker', theme: 'dark' }],
    ['grid-light', { name: 'grid-light', base: 'grid', theme: 'light' }],
    ['speaker-light', { name: 'speaker-light', base: 'speaker', theme: 'light' }],
    ['single-speaker-light', { name: 'single-speaker-light', base: 'single-speaker', theme: 'light' }],
    ['grid-dark', { name: 'grid', base: 'grid', theme: 'dark' }],
    ['speaker-dark', { name: 'speaker', base: 'speaker', theme: 'dark' }],
    ['', { name: 'grid', base: 'grid', theme: 'dark' }],
    [null, { name: 'grid', base: 'grid', theme: 'dark' }],
    ['mosaic', null],
    ['Grid', { name: 'grid', base: 'grid', theme: 'dark' }],
    [' Speaker-Light ', { name: 'speaker-light', base: 'speaker', theme: 'light' }],
    ['grid-light-dark', null],
    ['-light', null],
    [42, null],
  ];
  for (const [input, want] of cases) {
    test(JSON.stringify(input), () => assert.deepEqual(parseLayout(input), want));
  }
  test('every advertised name parses to itself', () => {
    assert.equal(LAYOUT_NAMES.length, 6);
    for (const name of LAYOUT_NAMES) assert.equal(parseLayout(name).name, name);
  });
});

describe('gridDims', () => {
  const landscape = [
    [1, 1, 1],
    [2, 2, 1],
    [3, 2, 2],
    [4, 2, 2],
    [5, 3, 3],
    [9, 3, 3],
    [10, 4, 4],
    [16, 4, 4],
    [40, 4, 4],
  ];
  for (const [n, cols, rows] of landscape) {
    test(`${n} tiles landscape -> ${cols}x${rows}, portrait transposed`, () => {
      assert.deepEqual(gridDims(n, false), { cols, rows });
      assert.deepEqual(gridDims(n, true), { cols: rows, rows: cols });
    });
  }
});

describe('metrics', () => {
  test('720p is the design size', () => {
    assert.deepEqual(metrics(1280, 720), { scale: 1, pad: 16, gap: 10, radius: 12 });
    assert.deepEqual(metrics(720, 1280), { scale: 1, pad: 16, gap: 10, radius: 12 });
  });
  test('1080p scales by 1.5', () => {
    assert.deepEqual(metrics(1920, 1080), { scale: 1.5, pad: 24, gap: 15, radius: 18 });
  });
});

describe('gridRects', () => {
  const area = { x: 16, y: 16, w: 1248, h: 688 };
  test('2 side by side fill the area', () => {
    const r = gridRects(2, area, 10, false);
    assert.deepEqual(r, [
      { x: 16, y: 16, w: 619, h: 688 },
      { x: 645, y: 16, w: 619, h: 688 },
    ]);
  });
  test('2 stacked in portrait', () => {
    const r = gridRects(2, { x: 16, y: 16, w: 688, h: 1248 }, 10, true);
    assert.deepEqual(r, [
      { x: 16, y: 16, w: 688, h: 619 },
      { x: 16, y: 645, w: 688, h: 619 },
    ]);
  });
  test('3 in a 2x2: last row centred', () => {
    const r = gridRects(3, area, 10, false);
    assert.equal(r.length, 3);
    assert.equal(r[0].y, r[1].y);
    assert.equal(r[2].w, r[0].w);
    const centre = r[2].x + r[2].w / 2;
    assert.ok(Math.abs(centre - (area.x + area.w / 2)) <= 1, `centre ${centre}`);
  });
  test('4 in a 2x2 have 16:9 cells at 1280x720', () => {
    const r = gridRects(4, area, 10, false);
    for (const t of r) assert.ok(Math.abs(t.w / t.h - 16 / 9) < 0.05, `${t.w}x${t.h}`);
    assert.equal(r[3].x + r[3].w, area.x + area.w);
    assert.equal(r[3].y + r[3].h, area.y + area.h);
  });
  test('5 and 6 in a 3x3 use two rows centred vertically', () => {
    for (const n of [5, 6]) {
      const r = gridRects(n, area, 10, false);
      const top = Math.min(...r.map((t) => t.y));
      const bottom = Math.max(...r.map((t) => t.y + t.h));
      assert.ok(Math.abs(top - area.y - (area.y + area.h - bottom)) <= 1, `n=${n}: ${top}..${bottom}`);
      assert.equal(new Set(r.map((t) => t.y)).size, 2);
    }
  });
  test('7 in a 3x3: 3 + 3 + 1 centred', () => {
    const r = gridRects(7, area, 10, false);
    assert.equal(r.length, 7);
    assert.equal(r[6].x, r[1].x);
  });
  test('equal gaps between neighbours after rounding', () => {
    for (const n of [2, 4, 9, 16]) {
      const r = gridRects(n, area, 10, false);
      const { cols } = gridDims(n, false);
      for (let i = 0; i + 1 < r.length; i++) {
        if ((i + 1) % cols === 0) continue;
        assert.equal(r[i + 1].x - (r[i].x + r[i].w), 10, `n=${n} i=${i}`);
      }
    }
  });
});

describe('fitAspect', () => {
  test('wide picture in a squarer box: bars above and below are cut away', () => {
    assert.deepEqual(fitAspect({ x: 16, y: 16, w: 946, h: 688 }, 16 / 9), { x: 16, y: 94, w: 946, h: 532 });
  });
  test('tall picture: centred horizontally', () => {
    assert.deepEqual(fitAspect({ x: 0, y: 0, w: 1000, h: 500 }, 1), { x: 250, y: 0, w: 500, h: 500 });
  });
  test('unknown aspect keeps the box', () => {
    assert.deepEqual(fitAspect({ x: 1, y: 2, w: 3, h: 4 }, undefined), { x: 1, y: 2, w: 3, h: 4 });
  });
});

describe('pickRecent', () => {
  test('keeps all when few', () => {
    const items = cams(3);
    assert.deepEqual(pickRecent(items, 16), items);
  });
  test('prefers recent speakers, keeps list order', () => {
    const items = cams(5).map((c, i) => ({ ...c, lastSpokeAt: [5, undefined, 9, 1, 7][i] }));
    assert.deepEqual(
      pickRecent(items, 3).map((c) => c.key),
      ['c:0', 'c:2', 'c:4'],
    );
  });
  test('never spoke: earliest joined first', () => {
    assert.deepEqual(
      pickRecent(cams(5), 2).map((c) => c.key),
      ['c:0', 'c:1'],
    );
  });
});

describe('computeLayout', () => {
  test('nobody: empty', () => {
    const res = computeLayout({ layout: 'grid', width: 1280, height: 720, cameras: [] });
    assert.equal(res.empty, true);
    assert.deepEqual(res.tiles, []);
  });

  for (const layout of ['grid', 'speaker', 'single-speaker']) {
    test(`${layout}: one participant bleeds full frame`, () => {
      const res = computeLayout({ layout, width: 1280, height: 720, cameras: cams(1) });
      assert.deepEqual(res.tiles, [
        { key: 'c:0', x: 0, y: 0, w: 1280, h: 720, role: 'full', fit: 'cover', bleed: true },
      ]);
    });
  }

  for (const [W, H] of SIZES) {
    for (const n of [2, 3, 4, 7, 9, 12, 16]) {
      test(`grid ${n} at ${W}x${H}: all inside, no overlap, equal size`, () => {
        const res = computeLayout({ layout: 'grid', width: W, height: H, cameras: cams(n) });
        assert.equal(res.tiles.length, n);
        for (const t of res.tiles) {
          assert.ok(inside(t, W, H), JSON.stringify(t));
          assert.equal(t.fit, 'cover');
          assert.equal(t.role, 'grid');
        }
        assertNoOverlap(res.tiles);
        const widths = new Set(res.tiles.map((t) => t.w));
        const heights = new Set(res.tiles.map((t) => t.h));
        assert.ok(Math.max(...widths) - Math.min(...widths) <= 1);
        assert.ok(Math.max(...heights) - Math.min(...heights) <= 1);
      });
    }
  }

  test('grid with 20: the 16 most recent speakers', () => {
    const cameras = cams(20).map((c, i) => ({ ...c, lastSpokeAt: i >= 4 ? 1000 + i : undefined }));
    const res = computeLayout({ layout: 'grid', width: 1280, height: 720, cameras });
    assert.equal(res.tiles.length, MAX_GRID_TILES);
    assert.deepEqual(
      res.tiles.map((t) => t.key),
      cameras.slice(4).map((c) => c.key),
    );
  });

  test('grid portrait 2: stacked', () => {
    const res = computeLayout({ layout: 'grid', width: 720, height: 1280, cameras: cams(2) });
    const [a, b] = res.tiles;
    assert.equal(a.x, b.x);
    assert.ok(b.y > a.y + a.h - 1);
  });

  test('grid + screen share landscape: share main (contain), cameras in a strip on the right', () => {
    const res = computeLayout({
      layout: 'grid',
      width: 1280,
      height: 720,
      cameras: cams(3),
      screens: [{ key: 's:a' }],
    });
    const main = res.tiles.find((t) => t.key === 's:a');
    assert.equal(main.role, 'main');
    assert.equal(main.fit, 'contain');
    const strip = res.tiles.filter((t) => t.role === 'strip');
    assert.deepEqual(
      strip.map((t) => t.key),
      ['c:0', 'c:1', 'c:2'],
    );
    for (const t of strip) {
      assert.ok(t.x >= main.x + main.w, 'strip right of main');
      assert.ok(Math.abs(t.w / t.h - 16 / 9) < 0.05);
    }
    assert.equal(new Set(strip.map((t) => t.x)).size, 1);
    assertNoOverlap(res.tiles);
    for (const t of res.tiles) assert.ok(inside(t, 1280, 720));
  });

  test('grid + screen share landscape: the share tile hugs a 16:9 picture', () => {
    const res = computeLayout({ layout: 'grid', width: 1280, height: 720, cameras: cams(2), screens: [{ key: 's:a' }] });
    const main = res.tiles.find((t) => t.role === 'main');
    assert.ok(Math.abs(main.w / main.h - 16 / 9) < 0.01, `${main.w}x${main.h}`);
  });

  test('grid + screen share portrait: share full width on top, cameras below', () => {
    const res = computeLayout({
      layout: 'grid',
      width: 720,
      height: 1280,
      cameras: cams(2),
      screens: [{ key: 's:a', aspect: 16 / 9 }],
    });
    const main = res.tiles.find((t) => t.role === 'main');
    assert.deepEqual(main, { key: 's:a', x: 16, y: 16, w: 688, h: 387, role: 'main', fit: 'contain', bleed: false });
    const strip = res.tiles.filter((t) => t.role === 'strip');
    assert.equal(strip.length, 2);
    for (const t of strip) {
      assert.ok(t.y >= main.y + main.h);
      assert.equal(t.w, 688, 'two cameras stacked, full width');
    }
    assertNoOverlap(res.tiles);
  });

  test('portrait share: a phone-shaped share is capped and centred', () => {
    const res = computeLayout({ layout: 'grid', width: 720, height: 1280, cameras: cams(4), screens: [{ key: 's:a', aspect: 9 / 19.5 }] });
    const main = res.tiles.find((t) => t.role === 'main');
    assert.ok(main.h <= Math.ceil(0.62 * 1248));
    assert.ok(Math.abs(main.x + main.w / 2 - 360) <= 1);
    assert.equal(res.tiles.filter((t) => t.role === 'strip').length, 4);
  });

  test('portrait share with 12 cameras: 8 shown and "+4"', () => {
    const res = computeLayout({ layout: 'grid', width: 720, height: 1280, cameras: cams(12), screens: [{ key: 's:a' }] });
    assert.equal(res.tiles.filter((t) => t.role === 'strip').length, 8);
    assert.equal(res.overflow.count, 4);
  });

  test('strip overflow: last slot shows how many are left out', () => {
    const res = computeLayout({
      layout: 'grid',
      width: 1280,
      height: 720,
      cameras: cams(9),
      screens: [{ key: 's:a' }],
    });
    const strip = res.tiles.filter((t) => t.role === 'strip');
    const slots = splitStage(1280, 720, metrics(1280, 720)).slots;
    assert.equal(slots, 4);
    assert.equal(strip.length, slots - 1);
    assert.equal(res.overflow.count, 9 - (slots - 1));
    assert.ok(inside(res.overflow, 1280, 720));
    for (const t of strip) assert.ok(!overlaps(t, res.overflow));
  });

  test('speaker: the speaker is main, others in the strip in join order', () => {
    const res = computeLayout({ layout: 'speaker', width: 1280, height: 720, cameras: cams(4), speakerKey: 'c:2' });
    const main = res.tiles.find((t) => t.role === 'main');
    assert.equal(main.key, 'c:2');
    assert.equal(main.fit, 'cover');
    assert.deepEqual(
      res.tiles.filter((t) => t.role === 'strip').map((t) => t.key),
      ['c:0', 'c:1', 'c:3'],
    );
  });

  // A cover-fitted camera loses what of it sticks out of its tile.
  const cropOf = (tile, aspect) => 1 - Math.min(tile.w / tile.h / aspect, aspect / (tile.w / tile.h));

  for (const [w, h] of SIZES) {
    for (const [name, aspect] of [['16:9', 16 / 9], ['4:3', 4 / 3], ['9:16', 9 / 16]]) {
      for (const [layout, n] of [['speaker', 4], ['speaker', 1], ['single-speaker', 3]]) {
        test(`${layout} ${w}x${h} with ${n}: a ${name} speaker loses at most 10 %`, () => {
          const cameras = cams(n).map((c) => ({ ...c, aspect }));
          const res = computeLayout({ layout, width: w, height: h, cameras, speakerKey: 'c:0' });
          const tile = res.tiles.find((t) => t.key === 'c:0');
          assert.ok(inside(tile, w, h));
          assert.ok(cropOf(tile, aspect) <= 0.1, `${JSON.stringify(tile)} crops ${(cropOf(tile, aspect) * 100).toFixed(1)} %`);
          assertNoOverlap(res.tiles);
        });
      }
    }
  }

  test('speaker 1280x720: the 16:9 speaker is as big as the bound allows', () => {
    const res = computeLayout({ layout: 'speaker', width: 1280, height: 720, cameras: cams(4), speakerKey: 'c:0' });
    const main = res.tiles.find((t) => t.role === 'main');
    const area = splitStage(1280, 720, metrics(1280, 720)).main;
    assert.ok(Math.abs(cropOf(main, 16 / 9) - CAMERA_CROP_MAX) < 0.005, `crop ${cropOf(main, 16 / 9)}`);
    assert.equal(main.w, area.w, 'it spans the main area');
  });

  test('cameraRect keeps a rect the camera fits, with its bleed', () => {
    const rect = { x: 0, y: 0, w: 1280, h: 720 };
    assert.deepEqual(cameraRect(rect, 16 / 9), { rect, fits: true });
    assert.deepEqual(cameraRect(rect, 1.7), { rect, fits: true });
    assert.equal(cameraRect(rect, 4 / 3).fits, false);
  });

  test('speaker: unknown speaker key falls back to the first camera', () => {
    const res = computeLayout({ layout: 'speaker', width: 1280, height: 720, cameras: cams(3), speakerKey: 'c:x' });
    assert.equal(res.tiles.find((t) => t.role === 'main').key, 'c:0');
  });

  test('speaker portrait: strip at the bottom', () => {
    const res = computeLayout({ layout: 'speaker', width: 720, height: 1280, cameras: cams(4), speakerKey: 'c:1' });
    const main = res.tiles.find((t) => t.role === 'main');
    for (const t of res.tiles.filter((t) => t.role === 'strip')) assert.ok(t.y >= main.y + main.h);
    assertNoOverlap(res.tiles);
  });

  test('speaker + screen share: share is main, speaker first in the strip', () => {
    const res = computeLayout({
      layout: 'speaker',
      width: 1280,
      height: 720,
      cameras: cams(3),
      screens: [{ key: 's:a' }],
      speakerKey: 'c:2',
    });
    assert.equal(res.tiles.find((t) => t.role === 'main').key, 's:a');
    assert.deepEqual(
      res.tiles.filter((t) => t.role === 'strip').map((t) => t.key),
      ['c:2', 'c:0', 'c:1'],
    );
  });

  test('speaker + screen share with overflow keeps the speaker', () => {
    const res = computeLayout({
      layout: 'speaker',
      width: 1280,
      height: 720,
      cameras: cams(10),
      screens: [{ key: 's:a' }],
      speakerKey: 'c:9',
    });
    const strip = res.tiles.filter((t) => t.role === 'strip');
    assert.equal(strip[0].key, 'c:9');
    assert.equal(res.overflow.count, 10 - strip.length);
  });

  test('single-speaker: only the speaker, full frame', () => {
    const res = computeLayout({ layout: 'single-speaker', width: 1920, height: 1080, cameras: cams(5), speakerKey: 'c:3' });
    assert.deepEqual(res.tiles, [{ key: 'c:3', x: 0, y: 0, w: 1920, h: 1080, role: 'full', fit: 'cover', bleed: true }]);
  });

  test('single-speaker: a screen share wins, contained', () => {
    const res = computeLayout({
      layout: 'single-speaker',
      width: 1280,
      height: 720,
      cameras: cams(2),
      screens: [{ key: 's:b' }, { key: 's:a' }],
      speakerKey: 'c:1',
    });
    assert.deepEqual(res.tiles, [{ key: 's:b', x: 0, y: 0, w: 1280, h: 720, role: 'full', fit: 'contain', bleed: true }]);
  });

  test('a second screen share goes to the strip, contained', () => {
    const res = computeLayout({
      layout: 'grid',
      width: 1280,
      height: 720,
      cameras: cams(1),
      screens: [{ key: 's:b' }, { key: 's:a' }],
    });
    const second = res.tiles.find((t) => t.key === 's:a');
    assert.equal(second.role, 'strip');
    assert.equal(second.fit, 'contain');
  });

  test('a screen share with no cameras bleeds', () => {
    const res = computeLayout({ layout: 'grid', width: 1280, height: 720, cameras: [], screens: [{ key: 's:a' }] });
    assert.deepEqual(res.tiles, [{ key: 's:a', x: 0, y: 0, w: 1280, h: 720, role: 'full', fit: 'contain', bleed: true }]);
  });

  for (const [W, H] of SIZES) {
    for (const layout of ['grid', 'speaker']) {
      for (const n of [1, 2, 4, 7, 20]) {
        test(`${layout} + share, ${n} cameras at ${W}x${H}: inside, no overlap`, () => {
          const res = computeLayout({ layout, width: W, height: H, cameras: cams(n), screens: [{ key: 's:a' }], speakerKey: 'c:0' });
          const all = res.overflow ? [...res.tiles, { key: 'overflow', ...res.overflow }] : res.tiles;
          for (const t of all) assert.ok(inside(t, W, H), JSON.stringify(t));
          assertNoOverlap(all);
          const main = res.tiles.find((t) => t.role === 'main');
          if (H > W) assert.equal(main.w, W - 2 * metrics(W, H).pad, 'share spans the width');
          else assert.ok(main.w * main.h > 0.4 * W * H, 'share is the largest part of the frame');
        });
      }
    }
  }
});
