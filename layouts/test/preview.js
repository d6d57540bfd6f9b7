// Fake room for test/preview.html: N participants whose "cameras" are
// canvases turned into MediaStreams, drawn by the real Stage.
//
// Query: layout (default grid), n (participants, default 4), share=1 (a
// screen share by participant 0), speaker (index of the active speaker),
// off (comma list of indices with the camera off), muted (indices with the
// mic muted), w & h (pin the stage size in px), still=1 (no
// animations), switch=ms (cycle the speaker every ms, to watch the hold).

import { parseLayout } from '../src/geometry.js';
import { hue } from '../src/people.js';
import { Stage } from '../src/stage.js';

const NAMES = [
  'Ava Thompson', 'Ben Carter', 'Chloé Martin', 'Diego Ramírez', 'Emma Schulz',
  'Farid Haddad', 'Grace Lee', 'Hiro Tanaka', 'Isla Murphy', 'Jonas Berg',
  'Kemi Adeyemi', 'Luca Rossi', 'Maya Patel', 'Noah Fischer', 'Olivia Chen',
  'Pablo Ortiz', 'Quinn Walsh', 'Rosa Lindqvist', 'Sami Nieminen', 'Tara Singh',
];

const q = new URLSearchParams(location.search);

if (q.get('still') === '1') document.documentElement.classList.add('still');

// w/h pin the stage to an exact output size (headless screenshots resize the
// viewport while capturing, so the shooter pins and crops instead).
if (q.get('w') && q.get('h')) {
  const root = document.getElementById('stage');
  Object.assign(root.style, { right: 'auto', bottom: 'auto', width: `${q.get('w')}px`, height: `${q.get('h')}px` });
}
const n = Number(q.get('n') ?? 4);
const list = (name) => new Set((q.get(name) ?? '').split(',').filter(Boolean).map(Number));
const off = list('off');
const muted = list('muted');
let speaker = Number(q.get('speaker') ?? 0);

const painters = [];

function fakeCamera(i) {
  const c = document.createElement('canvas');
  c.width = 640;
  c.height = 360;
  const g = c.getContext('2d');
  const h = (hue(NAMES[i % NAMES.length]) + 40 * i) % 360;
  painters.push((t) => {
    const bg = g.createLinearGradient(0, 0, 640, 360);
    bg.addColorStop(0, `hsl(${h} 35% 42%)`);
    bg.addColorStop(1, `hsl(${(h + 40) % 360} 40% 22%)`);
    g.fillStyle = bg;
    g.fillRect(0, 0, 640, 360);
    // A lamp and a shelf in the room behind.
    g.fillStyle = `hsl(${(h + 20) % 360} 30% 60% / 0.25)`;
    g.fillRect(60, 60, 140, 14);
    g.fillRect(470, 40, 18, 150);
    // The person, breathing a little so frames keep coming.
    const bob = Math.sin(t / 600 + i) * 3;
    g.fillStyle = `hsl(${(h + 180) % 360} 25% 18%)`;
    g.beginPath();
    g.ellipse(320, 360 + bob, 150, 110, 0, Math.PI, 0);
    g.fill();
    g.fillStyle = `hsl(28 45% ${62 - (i % 4) * 8}%)`;
    g.beginPath();
    g.arc(320, 170 + bob, 64, 0, Math.PI * 2);
    g.fill();
  });
  return c.captureStream(30);
}

function fakeScreen() {
  const c = document.createElement('canvas');
  c.width = 1280;
  c.height = 720;
  const g = c.getContext('2d');
  painters.push((t) => {
    g.fillStyle = '#fafbfc';
    g.fillRect(0, 0, 1280, 720);
    g.fillStyle = '#1f2937';
    g.font = 'bold 54px "DejaVu Sans"';
    g.fillText('Q3 Product Review', 80, 130);
    g.fillStyle = '#6b7280';
    g.font = '28px "DejaVu Sans"';
    g.fillText('Weekly active rooms, by region', 80, 185);
    const bars = [0.45, 0.62, 0.58, 0.74, 0.81, 0.93];
    bars.forEach((v, k) => {
      const hgt = 380 * v + Math.sin(t / 900 + k) * 4;
      g.fillStyle = k === bars.length - 1 ? '#2563eb' : '#93c5fd';
      g.fillRect(120 + k * 170, 640 - hgt, 110, hgt);
    });
    g.fillStyle = '#d1d5db';
    g.fillRect(80, 642, 1120, 3);
  });
  return c.captureStream(30);
}

function source(id, stream) {
  return {
    id,
    attach: (el) => {
      el.srcObject = stream;
      el.play().catch(() => {});
    },
    detach: (el) => {
      el.srcObject = null;
    },
  };
}

const people = Array.from({ length: n }, (_, i) => ({
  id: `p${i}`,
  name: NAMES[i % NAMES.length] + (i >= NAMES.length ? ` ${Math.floor(i / NAMES.length) + 1}` : ''),
  video: off.has(i) ? null : source(`cam${i}`, fakeCamera(i)),
  micMuted: muted.has(i),
  lastSpokeAt: n - i,
}));
const screens = q.get('share') === '1' && n > 0 ? [{ id: 'share0', name: people[0].name, video: source('share0', fakeScreen()) }] : [];

const stage = new Stage(document.getElementById('stage'), {
  onFirstFrame: (key) => console.log(`first frame ${key}`),
});
const layout = parseLayout(q.get('layout') ?? 'grid');
if (!layout) document.querySelector('.error').textContent = `unknown layout ${q.get('layout')}`;
stage.setLayout(layout ?? parseLayout('grid'));
stage.setEmptyText('Waiting for participants');
window.roomcastSetLayout = (name) => stage.setLayout(parseLayout(name));

function render() {
  stage.render({
    participants: people.map((p, i) => ({ ...p, speaking: i === speaker })),
    screens,
    speakerId: people[speaker]?.id ?? null,
  });
}
render();

const every = Number(q.get('switch') ?? 0);
if (every > 0) {
  setInterval(() => {
    speaker = (speaker + 1) % Math.max(1, n);
    render();
  }, every);
}

function paint(t) {
  for (const p of painters) p(t);
  requestAnimationFrame(paint);
}
requestAnimationFrame(paint);
