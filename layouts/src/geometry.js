// Layout math for the Roomcast templates: which tiles are shown and where.
//
// Pure functions only (no DOM, no LiveKit), so they run under `node --test`
// and the same code decides what the browser draws. All rectangles are in CSS
// pixels of the page, which is exactly the output size (1280x720, 720x1280,
// 1920x1080, ...): {x, y, w, h}, integers, edges shared by neighbours.

/** The layout names a request may use (the same set as LiveKit Egress). */
export const LAYOUT_NAMES = Object.freeze([
  'grid',
  'speaker',
  'single-speaker',
  'grid-light',
  'speaker-light',
  'single-speaker-light',
]);

/** Older LiveKit docs spelled the dark layouts with a "-dark" suffix. */
const DARK_SUFFIX = '-dark';
const LIGHT_SUFFIX = '-light';
const BASES = ['grid', 'speaker', 'single-speaker'];

/** The grid shows at most this many tiles (a 4x4), like Egress's grid. */
export const MAX_GRID_TILES = 16;

/** Aspect ratio assumed for cameras when sizing strip tiles (16:9). */
export const CAMERA_ASPECT = 16 / 9;

/**
 * parseLayout turns a layout name into {name, base, theme}. An empty or
 * missing name means "grid"; case and surrounding blanks do not matter.
 * Returns null for a name that is not a layout.
 * "grid-dark", "speaker-dark" and "single-speaker-dark" are accepted as
 * aliases of the dark layouts (older Egress docs used them).
 * @param {string|null|undefined} name
 * @returns {{name: string, base: 'grid'|'speaker'|'single-speaker', theme: 'dark'|'light'} | null}
 */
export function parseLayout(name) {
  if (name === null || name === undefined || (typeof name === 'string' && name.trim() === '')) {
    return { name: 'grid', base: 'grid', theme: 'dark' };
  }
  if (typeof name !== 'string') return null;
  name = name.trim().toLowerCase();
  let base = name;
  let theme = 'dark';
  if (name.endsWith(LIGHT_SUFFIX)) {
    base = name.slice(0, -LIGHT_SUFFIX.length);
    theme = 'light';
  } else if (name.endsWith(DARK_SUFFIX)) {
    base = name.slice(0, -DARK_SUFFIX.length);
  }
  if (!BASES.includes(base)) return null;
  return { name: theme === 'light' ? `${base}${LIGHT_SUFFIX}` : base, base, theme };
}

/**
 * metrics gives the spacing for an output size. The values are designed at
 * 720 px on the short side (16 px outer padding, 10 px between tiles, 12 px
 * corner radius) and scale with the short side, so 1080p looks the same.
 * @param {number} width
 * @param {number} height
 */
export function metrics(width, height) {
  const scale = Math.max(0.25, Math.min(width, height) / 720);
  return {
    scale,
    pad: Math.round(16 * scale),
    gap: Math.round(10 * scale),
    radius: Math.round(12 * scale),
  };
}

/**
 * gridDims gives the columns and rows of the grid for n tiles: 1 full frame,
 * 2 side by side, 3-4 a 2x2, 5-9 a 3x3, 10-16 a 4x4. In portrait the table is
 * transposed (2 are stacked).
 * @param {number} n
 * @param {boolean} portrait
 * @returns {{cols: number, rows: number}}
 */
export function gridDims(n, portrait) {
  let cols;
  let rows;
  if (n <= 1) [cols, rows] = [1, 1];
  else if (n === 2) [cols, rows] = [2, 1];
  else if (n <= 4) [cols, rows] = [2, 2];
  else if (n <= 9) [cols, rows] = [3, 3];
  else [cols, rows] = [4, 4];
  return portrait ? { cols: rows, rows: cols } : { cols, rows };
}

/** Rounds a float rectangle to integer edges (neighbours keep equal gaps). */
function snap(x, y, w, h) {
  const x0 = Math.round(x);
  const y0 = Math.round(y);
  return { x: x0, y: y0, w: Math.round(x + w) - x0, h: Math.round(y + h) - y0 };
}

/**
 * gridRects places n tiles in area. Every tile has the size of one cell of
 * gridDims(n); a last row that is not full is centred, and when fewer rows
 * are used than the grid has (5 or 6 tiles in a 3x3) the rows are centred
 * vertically, so the picture never looks top-heavy.
 * @param {number} n
 * @param {{x:number,y:number,w:number,h:number}} area
 * @param {number} gap
 * @param {boolean} portrait
 */
export function gridRects(n, area, gap, portrait) {
  if (n <= 0) return [];
  const { cols, rows } = gridDims(Math.min(n, MAX_GRID_TILES), portrait);
  const cellW = (area.w - gap * (cols - 1)) / cols;
  const cellH = (area.h - gap * (rows - 1)) / rows;
  const count = Math.min(n, cols * rows);
  const usedRows = Math.ceil(count / cols);
  const usedH = usedRows * cellH + (usedRows - 1) * gap;
  const y0 = area.y + (area.h - usedH) / 2;
  const out = [];
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / cols);
    const col = i % cols;
    const inRow = Math.min(cols, count - row * cols);
    const rowW = inRow * cellW + (inRow - 1) * gap;
    const x0 = area.x + (area.w - rowW) / 2;
    out.push(snap(x0 + col * (cellW + gap), y0 + row * (cellH + gap), cellW, cellH));
  }
  return out;
}

/**
 * splitStage divides the padded stage into a main area and a strip of small
 * tiles: the strip is on the right in landscape (4 slots of 16:9 tiles, at
 * most 30% of the width) and at the bottom in portrait (3 square slots, at
 * most 25% of the height).
 * @param {number} width
 * @param {number} height
 * @param {{pad:number,gap:number}} m
 */
export function splitStage(width, height, m) {
  const area = { x: m.pad, y: m.pad, w: width - 2 * m.pad, h: height - 2 * m.pad };
  const portrait = height > width;
  if (!portrait) {
    const slotH0 = (area.h - 3 * m.gap) / 4;
    const tileW = Math.min(slotH0 * CAMERA_ASPECT, 0.3 * area.w);
    const tileH = tileW / CAMERA_ASPECT;
    const slots = Math.max(1, Math.floor((area.h + m.gap) / (tileH + m.gap)));
    const stripW = Math.round(tileW);
    return {
      portrait,
      main: { x: area.x, y: area.y, w: area.w - m.gap - stripW, h: area.h },
      strip: { x: area.x + area.w - stripW, y: area.y, w: stripW, h: area.h },
      tile: { w: tileW, h: tileH },
      slots,
      vertical: true,
    };
  }
  const side = Math.min((area.w - 2 * m.gap) / 3, 0.25 * area.h);
  const slots = Math.max(1, Math.floor((area.w + m.gap) / (side + m.gap)));
  const stripH = Math.round(side);
  return {
    portrait,
    main: { x: area.x, y: area.y, w: area.w, h: area.h - m.gap - stripH },
    strip: { x: area.x, y: area.y + area.h - stripH, w: area.w, h: stripH },
    tile: { w: side, h: side },
    slots,
    vertical: false,
  };
}

/**
 * stripRects places n tiles of the given size along the strip, centred.
 * @param {number} n
 * @param {{x:number,y:number,w:number,h:number}} strip
 * @param {{w:number,h:number}} tile
 * @param {number} gap
 * @param {boolean} vertical
 */
export function stripRects(n, strip, tile, gap, vertical) {
  const out = [];
  if (vertical) {
    const used = n * tile.h + (n - 1) * gap;
    const y0 = strip.y + (strip.h - used) / 2;
    for (let i = 0; i < n; i++) out.push(snap(strip.x, y0 + i * (tile.h + gap), strip.w, tile.h));
  } else {
    const used = n * tile.w + (n - 1) * gap;
    const x0 = strip.x + (strip.w - used) / 2;
    for (let i = 0; i < n; i++) out.push(snap(x0 + i * (tile.w + gap), strip.y, tile.w, strip.h));
  }
  return out;
}

/**
 * fitAspect gives the largest rectangle of the given aspect (w/h) centred in
 * rect: a screen share's tile hugs the shared picture instead of showing
 * bars around it.
 * @param {{x:number,y:number,w:number,h:number}} rect
 * @param {number} aspect
 */
export function fitAspect(rect, aspect) {
  if (!(aspect > 0) || !Number.isFinite(aspect)) return { ...rect };
  let w = rect.w;
  let h = w / aspect;
  if (h > rect.h) {
    h = rect.h;
    w = h * aspect;
  }
  return snap(rect.x + (rect.w - w) / 2, rect.y + (rect.h - h) / 2, w, h);
}

/**
 * The most of a featured camera (the speaker layouts' main or full tile)
 * that filling its tile may crop: beyond it, the tile takes the camera's
 * shape, cropped this much, with the stage's background around it. A
 * twentieth, split between two sides, keeps what a camera draws near its
 * edge (a name, a logo) on screen.
 */
export const CAMERA_CROP_MAX = 0.05;

/**
 * cameraRect is where a featured camera of the given aspect goes in rect:
 * the whole rect when a camera drawn with object-fit cover loses at most
 * CAMERA_CROP_MAX of its width or height there, else the largest rect
 * within it that loses exactly that much. A 16:9 camera beside the strip
 * of a 1280x720 speaker layout lost a quarter of its width ("Alice" shown
 * as "lice").
 * @param {{x:number,y:number,w:number,h:number}} rect
 * @param {number} aspect
 * @returns {{rect: {x:number,y:number,w:number,h:number}, fits: boolean}}
 */
export function cameraRect(rect, aspect) {
  const shape = rect.w / rect.h;
  const keep = 1 - CAMERA_CROP_MAX;
  const tile = Math.min(Math.max(shape, aspect * keep), aspect / keep);
  if (Math.abs(tile / shape - 1) < 1e-9) return { rect, fits: true };
  return { rect: fitAspect(rect, tile), fits: false };
}

/** In portrait, a screen share takes at most this share of the height. */
const PORTRAIT_SHARE_MAX = 0.62;
/** In portrait with a screen share, the cameras below it form at most a 3x3. */
const PORTRAIT_SHARE_CAMERAS = 9;

/**
 * pickRecent keeps at most max items, preferring the most recent speakers
 * (item.lastSpokeAt, a number of ms; missing = never spoke; ties keep list
 * order), and returns them in their original order so tiles do not jump
 * around each time someone speaks.
 * @template {{lastSpokeAt?: number}} T
 * @param {T[]} items
 * @param {number} max
 * @returns {T[]}
 */
export function pickRecent(items, max) {
  if (items.length <= max) return items.slice();
  const ranked = items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => {
      const ta = a.item.lastSpokeAt ?? -Infinity;
      const tb = b.item.lastSpokeAt ?? -Infinity;
      if (ta !== tb) return tb - ta;
      return a.index - b.index;
    })
    .slice(0, max)
    .sort((a, b) => a.index - b.index);
  return ranked.map((r) => r.item);
}

/**
 * @typedef {{key: string, lastSpokeAt?: number, aspect?: number}} LayoutItem
 * @typedef {{key: string, x: number, y: number, w: number, h: number,
 *            role: 'full'|'grid'|'main'|'strip', fit: 'cover'|'contain', bleed: boolean}} TileRect
 * @typedef {{x: number, y: number, w: number, h: number, count: number}} OverflowRect
 */

/**
 * computeLayout decides every visible tile for one frame of the page.
 *
 * - cameras: one item per shown participant, in join order (a participant
 *   without video still has an item: the page draws a placeholder).
 * - screens: screen shares, most recent first; the first one is featured.
 * - aspect (width/height, 16:9 when unknown): a featured share's shapes its
 *   tile; a featured camera's bounds how much of it its tile crops.
 * - speakerKey: the camera item of the active speaker (speaker layouts).
 *
 * A single tile with nothing beside it bleeds to the edges of the frame
 * (a featured camera only when that crops it by at most CAMERA_CROP_MAX).
 * Cameras are drawn with object-fit cover, screen shares with contain.
 * With a screen share in landscape the cameras are a column on the right;
 * in portrait the share spans the width on top and the cameras fill the
 * space below it as a grid (at most 3x3).
 *
 * @param {{layout: 'grid'|'speaker'|'single-speaker', width: number, height: number,
 *          cameras: LayoutItem[], screens?: LayoutItem[], speakerKey?: string|null}} input
 * @returns {{tiles: TileRect[], overflow: OverflowRect|null, empty: boolean, metrics: ReturnType<typeof metrics>}}
 */
export function computeLayout(input) {
  const { layout, width, height } = input;
  const cameras = input.cameras ?? [];
  const screens = input.screens ?? [];
  const m = metrics(width, height);
  const portrait = height > width;
  const full = { x: 0, y: 0, w: width, h: height };
  const result = { tiles: [], overflow: null, empty: false, metrics: m };
  const speaker = cameras.find((c) => c.key === input.speakerKey) ?? cameras[0] ?? null;
  const share = screens[0] ?? null;

  const place = (item, rect, role, fit, bleed = false) =>
    result.tiles.push({ key: item.key, ...rect, role, fit, bleed });

  if (!share && cameras.length === 0) {
    result.empty = true;
    return result;
  }

  // A featured camera alone on the stage: the whole frame, unless that
  // crops it by more than CAMERA_CROP_MAX (a 4:3 camera in 16:9, any
  // landscape camera in portrait); then a main tile on the background.
  const placeAlone = (camera) => {
    const { rect, fits } = cameraRect(full, camera.aspect ?? CAMERA_ASPECT);
    if (fits) place(camera, rect, 'full', 'cover', true);
    else place(camera, rect, 'main', 'cover');
  };

  if (layout === 'single-speaker') {
    if (share) place(share, full, 'full', 'contain', true);
    else placeAlone(speaker);
    return result;
  }

  // The featured item (a share, or the speaker in the speaker layout) takes
  // the main area; the other cameras go to the strip.
  let featured = null;
  let stripItems = [];
  if (share) {
    featured = { item: share, fit: 'contain' };
    const cams = layout === 'speaker' && speaker ? [speaker, ...cameras.filter((c) => c !== speaker)] : cameras;
    stripItems = [...cams, ...screens.slice(1)];
  } else if (layout === 'speaker' && cameras.length > 1) {
    featured = { item: speaker, fit: 'cover' };
    stripItems = cameras.filter((c) => c !== speaker);
  }

  if (!featured) {
    // Grid (or a speaker layout with one person).
    if (cameras.length === 1) {
      if (layout === 'speaker') placeAlone(cameras[0]);
      else place(cameras[0], full, 'full', 'cover', true);
      return result;
    }
    const shown = pickRecent(cameras, MAX_GRID_TILES);
    const area = { x: m.pad, y: m.pad, w: width - 2 * m.pad, h: height - 2 * m.pad };
    const rects = gridRects(shown.length, area, m.gap, portrait);
    shown.forEach((item, i) => place(item, rects[i], 'grid', 'cover'));
    return result;
  }

  if (stripItems.length === 0) {
    place(featured.item, full, 'full', featured.fit, true);
    return result;
  }

  // Chooses what fits in `slots` places: when some do not fit, the last
  // place says how many are left out.
  const fit = (slots) => {
    if (stripItems.length <= slots) return { shown: stripItems, hidden: 0 };
    // Keep the first item when it is pinned (the speaker next to a share).
    const pinned = share && layout === 'speaker' ? 1 : 0;
    const room = slots - 1;
    const shown = [
      ...stripItems.slice(0, Math.min(pinned, room)),
      ...pickRecent(stripItems.slice(pinned), Math.max(0, room - pinned)),
    ];
    return { shown, hidden: stripItems.length - shown.length };
  };
  const placeStrip = ({ shown, hidden }, rects) => {
    shown.forEach((item, i) => place(item, rects[i], 'strip', screens.includes(item) ? 'contain' : 'cover'));
    if (hidden > 0) result.overflow = { ...rects[shown.length], count: hidden };
  };
  const aspect = featured.item.aspect ?? CAMERA_ASPECT;

  if (share && portrait) {
    const area = { x: m.pad, y: m.pad, w: width - 2 * m.pad, h: height - 2 * m.pad };
    const mainH = Math.round(Math.min(area.w / aspect, area.h * PORTRAIT_SHARE_MAX));
    place(featured.item, fitAspect({ x: area.x, y: area.y, w: area.w, h: mainH }, aspect), 'main', featured.fit);
    const rest = { x: area.x, y: area.y + mainH + m.gap, w: area.w, h: area.h - mainH - m.gap };
    const chosen = fit(PORTRAIT_SHARE_CAMERAS);
    const count = chosen.shown.length + (chosen.hidden > 0 ? 1 : 0);
    placeStrip(chosen, gridRects(count, rest, m.gap, rest.h > rest.w));
    return result;
  }

  const split = splitStage(width, height, m);
  place(featured.item, share ? fitAspect(split.main, aspect) : cameraRect(split.main, aspect).rect, 'main', featured.fit);
  const chosen = fit(split.slots);
  const count = chosen.shown.length + (chosen.hidden > 0 ? 1 : 0);
  placeStrip(chosen, stripRects(count, split.strip, split.tile, m.gap, split.vertical));
  return result;
}
