// Unicode classes and folding, as the bundle format states them (see the Python runtime's
// charclass.py): normalization, then full case folding; code points unassigned in the bundle's
// Unicode version are left unchanged and separate words. JavaScript engines ship a newer
// Unicode, so this module carries the bundle's version as data instead of trusting the engine.
import DATA from './unicode-data.js';

export const UNICODE_VERSION = DATA.unicode_version;
export const L = 1, M = 2, N = 3, P = 4, S = 5, Z = 6, C = 7, X = 8; // X: unassigned (a C)
const CODES = { L, M, N, P, S, Z, C, X, F: C }; // F: a format character (Cf), class C
const CLASS = new Uint8Array(0x110000);
const unassignedRanges = [], formatRanges = [];
DATA.classes.forEach(([first, cls], i) => {
  const end = i + 1 < DATA.classes.length ? DATA.classes[i + 1][0] : 0x110000;
  CLASS.fill(CODES[cls], first, end);
  if (cls === 'X') unassignedRanges.push([first, end - 1]);
  if (cls === 'F') formatRanges.push([first, end - 1]);
});
const FOLD = new Map(Object.entries(DATA.casefold).map(([cp, to]) => [Number(cp), String.fromCodePoint(...to)]));
const hex = (cp) => `\\u{${cp.toString(16)}}`;
const FOLDABLE = new RegExp(`[${[...FOLD.keys()].map(hex).join('')}]`, 'gu');
const UNASSIGNED = new RegExp(`[${unassignedRanges.map(([a, b]) => `${hex(a)}-${hex(b)}`).join('')}]`, 'u');
const FORMAT = new RegExp(`[${formatRanges.map(([a, b]) => `${hex(a)}-${hex(b)}`).join('')}]`, 'gu');
const FORMAT_ONE = new RegExp(FORMAT.source, 'u');
const ASCII = /^[\x00-\x7f]*$/;

/** The class code (L..X) of a code point. */
export function classOf(cp) {
  return CLASS[cp];
}

/** The text without its format characters (general category Cf: soft hyphen, zero-width space and
 * joiners, direction marks and overrides): what a featurizer with `drop_format` reads. */
export function dropFormat(text) {
  return ASCII.test(text) ? text : text.replace(FORMAT, '');
}

/** Whether a code point is a format character (Cf). */
export function isFormatChar(cp) {
  return FORMAT_ONE.test(String.fromCodePoint(cp));
}

/** Full case folding, code point by code point (no context, no renormalization). */
export function casefold(text) {
  if (ASCII.test(text)) return text.toLowerCase(); // ASCII folds like this, and only like this
  return text.replace(FOLDABLE, (ch) => FOLD.get(ch.codePointAt(0)));
}

function foldRun(text, form, fold) {
  const normal = ASCII.test(text) ? text : text.normalize(form); // ASCII is in every normal form
  return fold ? casefold(normal) : normal;
}

/** Normalize with `form`, then case-fold if `fold`, leaving code points unassigned in the
 * bundle's Unicode version alone (they neither change nor join their neighbours). */
export function foldText(text, form, fold) {
  if (!UNASSIGNED.test(text)) return foldRun(text, form, fold);
  let out = '', run = '';
  for (const ch of text) {
    if (CLASS[ch.codePointAt(0)] === X) {
      out += foldRun(run, form, fold) + ch;
      run = '';
    } else run += ch;
  }
  return out + foldRun(run, form, fold);
}
