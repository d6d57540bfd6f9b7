// Small pure helpers about participants: who is shown, initials, colours.

/** Identities of LiveKit Egress recorders start with this prefix. */
export const RECORDER_PREFIX = 'EG_';

/**
 * isShown tells whether a participant belongs on screen: never the recorder
 * itself (identity "EG_…") nor anyone hidden.
 * @param {{identity: string, hidden?: boolean}} p
 */
export function isShown(p) {
  if (!p || typeof p.identity !== 'string') return false;
  if (p.hidden) return false;
  return !p.identity.startsWith(RECORDER_PREFIX);
}

/**
 * compareJoin orders participants by when they joined: joinedMs (ms since
 * the epoch; undefined sorts last), then seen (the order in which the page
 * first saw them) for equal times. A comparator for Array.prototype.sort.
 * @param {{joinedMs?: number, seen: number}} a
 * @param {{joinedMs?: number, seen: number}} b
 */
export function compareJoin(a, b) {
  const ja = a.joinedMs ?? Infinity;
  const jb = b.joinedMs ?? Infinity;
  if (ja !== jb) return ja < jb ? -1 : 1;
  return a.seen - b.seen;
}

/**
 * initials gives up to two letters for a placeholder avatar: the first
 * letters of the first and last words of the name ("Ada Lovelace" -> "AL",
 * "prince" -> "P"). Non-letters are skipped; an empty name gives "?".
 * @param {string} name
 */
export function initials(name) {
  const words = String(name ?? '')
    .split(/[\s._@-]+/u)
    .map((w) => Array.from(w).find((ch) => /\p{L}|\p{N}/u.test(ch)))
    .filter(Boolean);
  if (words.length === 0) return '?';
  const first = words[0];
  const last = words.length > 1 ? words[words.length - 1] : '';
  return (first + last).toLocaleUpperCase();
}

/**
 * hue gives a stable colour hue (0-359) for an identity, so a person keeps
 * the same avatar colour for the whole recording.
 * @param {string} id
 */
export function hue(id) {
  let h = 2166136261;
  for (const ch of String(id)) {
    h ^= ch.codePointAt(0);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % 360;
}
