// The DOM side of the templates: draws "participant view models" into tiles
// at the rectangles computed by geometry.js. It knows nothing of LiveKit, so
// the same code draws the real room (main.js) and fake tiles (test/preview).
//
// A view model is plain data:
//
//   participant: {id, name, video: VideoSource|null, micMuted, speaking, lastSpokeAt}
//   screen:      {id, name, video: VideoSource, aspect?}   (aspect: width/height)
//   VideoSource: {id, attach(videoEl), detach(videoEl)}   (id changes with the track)
//
// Tiles are keyed ("c:<participant id>", "s:<screen id>") and reused across
// renders, so a person moving from the strip to the main area keeps the same
// <video> element (no black flash, no re-attach).

import { computeLayout, parseLayout } from './geometry.js';
import { hue, initials } from './people.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** How many of a camera's last frames its display delay is the median of: a second's worth. */
const DELAY_FRAMES = 30;
/** How long a camera's display delay is measured after it was last asked for. */
const DELAY_IDLE_MS = 5000;

// Feather-style icons (MIT), drawn inline so the page needs no files.
const ICONS = {
  micOff:
    'M1 1l22 22M9 9v3a3 3 0 0 0 5.12 2.12M15 9.34V4a3 3 0 0 0-5.94-.6M17 16.95A7 7 0 0 1 5 12v-2m14 0v2a7 7 0 0 1-.11 1.23M12 19v4M8 23h8',
  screen: 'M2 3h20v14H2zM8 21h8M12 17v4',
};

function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon icon-${name}`);
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

class TileView {
  /**
   * @param {string} key
   * @param {'camera'|'screen'} kind
   * @param {(key: string) => void} onFrame called once per attached source when its first frame is shown
   * @param {() => void} onAspect called when the video's aspect ratio changes
   */
  constructor(key, kind, onFrame, onAspect) {
    this.key = key;
    this.kind = kind;
    this.onFrame = onFrame;
    this.onAspect = onAspect;
    this.source = null;
    /** @type {number|undefined} width/height of the video as decoded */
    this.aspect = undefined;

    this.root = el('div', `tile ${kind}`);
    this.root.dataset.key = key;
    this.placeholder = el('div', 'placeholder');
    this.avatar = el('div', 'avatar');
    this.placeholder.append(this.avatar);
    this.video = el('video');
    this.video.autoplay = true;
    this.video.muted = true; // audio is played by separate <audio> elements
    this.video.playsInline = true;
    this.video.disablePictureInPicture = true;
    this.label = el('div', 'label');
    this.micIcon = icon('micOff');
    if (kind === 'screen') this.label.append(icon('screen'));
    this.nameEl = el('span', 'name');
    this.label.append(this.nameEl, this.micIcon);
    this.root.append(this.placeholder, this.video, this.label);

    this.video.addEventListener('loadeddata', () => this.frameArrived());
    this.video.addEventListener('resize', () => {
      this.frameArrived();
      this.measure();
    });
  }

  measure() {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (!w || !h) return;
    const aspect = w / h;
    if (this.aspect === undefined || Math.abs(aspect / this.aspect - 1) > 0.01) {
      this.aspect = aspect;
      this.onAspect();
    }
  }

  frameArrived() {
    if (!this.source || this.video.videoWidth === 0) return;
    if (this.root.classList.contains('has-frame')) return;
    this.root.classList.add('has-frame');
    const source = this.source;
    const report = () => {
      if (this.source === source) this.onFrame(this.key);
    };
    // requestVideoFrameCallback fires once the frame is composited: that is
    // "shown" as precisely as a page can tell.
    if (typeof this.video.requestVideoFrameCallback === 'function') {
      this.video.requestVideoFrameCallback(report);
    } else {
      report();
    }
  }

  /** @param {{id:string, attach:Function, detach:Function}|null} source */
  setSource(source) {
    if ((this.source?.id ?? null) === (source?.id ?? null)) return;
    if (this.source) {
      this.source.detach(this.video);
      this.video.srcObject = null;
    }
    this.root.classList.remove('has-frame');
    this.source = source;
    this.delays = [];
    this.measuring = false;
    if (source) {
      source.attach(this.video);
      // A source whose frames are already flowing may not fire loadeddata again.
      if (this.video.readyState >= 2) this.frameArrived();
    }
  }

  /**
   * Notes, for each frame shown, how long after its last packet arrived
   * it was expected on screen (Chromium gives both for a WebRTC video):
   * its jitter buffer, its lip sync with the sound, decoding and
   * compositing. A recording of the person's own tracks takes their frames
   * as they arrive; this is how much later the composite shows them. It
   * runs only while asked (displayDelay) within the last DELAY_IDLE_MS,
   * so a composite nobody lines files up with makes no callback per frame.
   */
  measureDelay() {
    if (this.measuring || !this.source || typeof this.video.requestVideoFrameCallback !== 'function') return;
    this.measuring = true;
    const source = this.source;
    const frame = (_now, meta) => {
      if (this.source !== source) return;
      if (performance.now() - this.delayAskedAt > DELAY_IDLE_MS) {
        this.measuring = false;
        return;
      }
      if (typeof meta.receiveTime === 'number' && typeof meta.expectedDisplayTime === 'number') {
        this.delays.push(meta.expectedDisplayTime - meta.receiveTime);
        if (this.delays.length > DELAY_FRAMES) this.delays.shift();
      }
      this.video.requestVideoFrameCallback(frame);
    };
    this.video.requestVideoFrameCallback(frame);
  }

  /** The median of the last frames' delays (ms), or null before any; measures from now on. */
  displayDelay() {
    this.delayAskedAt = performance.now();
    this.measureDelay();
    if (!this.delays?.length) return null;
    const sorted = [...this.delays].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /**
   * @param {{name: string, id: string, micMuted?: boolean, speaking?: boolean, video: object|null}} vm
   * @param {{x:number,y:number,w:number,h:number,fit:string,bleed:boolean,role:string}} rect
   * @param {{scale:number,radius:number}} m
   */
  update(vm, rect, m) {
    const s = this.root.style;
    s.left = `${rect.x}px`;
    s.top = `${rect.y}px`;
    s.width = `${rect.w}px`;
    s.height = `${rect.h}px`;
    s.borderRadius = rect.bleed ? '0' : `${rect.role === 'strip' ? Math.round(m.radius * 0.75) : m.radius}px`;
    const short = Math.min(rect.w, rect.h);
    const labelPx = Math.max(12 * m.scale, Math.min(18 * m.scale, short * 0.065));
    s.setProperty('--label-size', `${labelPx.toFixed(1)}px`);
    s.setProperty('--label-inset', `${Math.round((rect.bleed ? 20 : 10) * m.scale)}px`);
    s.setProperty('--avatar-size', `${Math.round(Math.min(short * 0.38, 220 * m.scale))}px`);
    s.setProperty('--hue', String(hue(vm.id)));
    s.setProperty('--ring', `${Math.max(2, Math.round(3 * m.scale))}px`);

    this.root.dataset.role = rect.role;
    this.root.classList.toggle('bleed', rect.bleed);
    this.root.classList.toggle('contain', rect.fit === 'contain');
    this.root.classList.toggle('speaking', Boolean(vm.speaking) && !rect.bleed && this.kind === 'camera');
    this.root.classList.toggle('mic-muted', Boolean(vm.micMuted) && this.kind === 'camera');
    this.root.classList.toggle('no-video', !vm.video);
    if (this.nameEl.textContent !== vm.name) this.nameEl.textContent = vm.name;
    const ini = initials(vm.name);
    if (this.avatar.textContent !== ini) this.avatar.textContent = ini;
    this.setSource(vm.video ?? null);
  }

  destroy() {
    this.setSource(null);
    this.root.remove();
  }
}

export class Stage {
  /**
   * @param {HTMLElement} root the element that fills the viewport
   * @param {{onFirstFrame?: (key: string) => void}} [opts]
   */
  constructor(root, opts = {}) {
    this.root = root;
    this.onFirstFrame = opts.onFirstFrame ?? (() => {});
    /** @type {Map<string, TileView>} */
    this.tiles = new Map();
    this.layout = parseLayout('grid');
    this.state = { participants: [], screens: [], speakerId: null };
    this.emptyText = '';
    this.overflowEl = el('div', 'tile overflow');
    this.overflowCount = el('div', 'count');
    this.overflowEl.append(this.overflowCount);
    this.emptyEl = el('div', 'empty');
    this.root.append(this.emptyEl);
    this.drawn = false;
    this.drawQueued = false;
    window.addEventListener('resize', () => this.draw());
  }

  /**
   * How long after their frames arrive each person's camera is shown (ms,
   * the median of the last frames), by identity; those not shown or with
   * no frame yet are left out.
   * @returns {Record<string, number>}
   */
  displayDelays() {
    const out = {};
    for (const p of this.state.participants) {
      const delay = this.tiles.get(`c:${p.id}`)?.displayDelay();
      if (delay !== null && delay !== undefined) out[p.id] = delay;
    }
    return out;
  }

  /** @param {NonNullable<ReturnType<typeof parseLayout>>} layout */
  setLayout(layout) {
    this.layout = layout;
    document.documentElement.dataset.theme = layout.theme;
    document.documentElement.dataset.layout = layout.name;
    this.draw();
  }

  /** @param {string} text shown when nobody is in the room ('' for nothing) */
  setEmptyText(text) {
    this.emptyText = text;
    this.draw();
  }

  /**
   * @param {{participants: object[], screens: object[], speakerId: string|null}} state
   */
  render(state) {
    this.state = state;
    this.draw();
  }

  /** Redraws once after the current task (several videos may resize at once). */
  queueDraw() {
    if (this.drawQueued) return;
    this.drawQueued = true;
    queueMicrotask(() => {
      this.drawQueued = false;
      this.draw();
    });
  }

  draw() {
    const width = this.root.clientWidth || window.innerWidth;
    const height = this.root.clientHeight || window.innerHeight;
    const vms = new Map();
    const cameras = this.state.participants.map((p) => {
      const key = `c:${p.id}`;
      vms.set(key, { vm: p, kind: 'camera' });
      // The camera's shape, as decoded, keeps a featured camera uncropped.
      return { key, lastSpokeAt: p.lastSpokeAt, aspect: this.tiles.get(key)?.aspect };
    });
    const screens = this.state.screens.map((sc) => {
      const key = `s:${sc.id}`;
      vms.set(key, { vm: sc, kind: 'screen' });
      // The shared picture's shape: as decoded, else as published.
      return { key, aspect: this.tiles.get(key)?.aspect ?? sc.aspect };
    });
    const speakerKey = this.state.speakerId ? `c:${this.state.speakerId}` : null;
    const res = computeLayout({ layout: this.layout.base, width, height, cameras, screens, speakerKey });

    const seen = new Set();
    for (const rect of res.tiles) {
      const { vm, kind } = vms.get(rect.key);
      let view = this.tiles.get(rect.key);
      if (!view) {
        view = new TileView(
          rect.key,
          kind,
          (key) => this.onFirstFrame(key),
          () => this.queueDraw(),
        );
        this.tiles.set(rect.key, view);
        this.root.append(view.root);
      }
      view.update(vm, rect, res.metrics);
      seen.add(rect.key);
    }
    for (const [key, view] of this.tiles) {
      if (!seen.has(key)) {
        view.destroy();
        this.tiles.delete(key);
      }
    }

    if (res.overflow) {
      const o = res.overflow;
      const s = this.overflowEl.style;
      s.left = `${o.x}px`;
      s.top = `${o.y}px`;
      s.width = `${o.w}px`;
      s.height = `${o.h}px`;
      s.borderRadius = `${Math.round(res.metrics.radius * 0.75)}px`;
      s.setProperty('--label-size', `${Math.max(14, Math.min(o.w, o.h) * 0.22).toFixed(1)}px`);
      this.overflowCount.textContent = `+${o.count}`;
      if (!this.overflowEl.isConnected) this.root.append(this.overflowEl);
    } else {
      this.overflowEl.remove();
    }

    this.emptyEl.textContent = res.empty ? this.emptyText : '';
    this.emptyEl.style.fontSize = `${Math.round(18 * res.metrics.scale)}px`;

    if (!this.drawn) {
      this.drawn = true;
      // Animate moves only after the first layout is on screen.
      setTimeout(() => this.root.classList.add('animate'), 50);
    }
  }
}
