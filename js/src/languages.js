// What each label of a language identifier is: the optional languages.json of a bundle, checked by
// the rules of the Python runtime (runtime/languages.py), and the label -> code maps it gives.
import { BundleError, InputError } from './errors.js';

export const UNDETERMINED = 'und'; // the answer for "no language found", and a model's "none of these" class
export const FIELDS = ['name', 'iso639_1', 'iso639_3', 'script', 'flores'];
export const CODES = ['label', 'iso639-1', 'iso639-3', 'flores'];
const MAX_FIELD = 100;

/** languages.json's content, checked against the bundle's labels (a Map of label -> fields). */
export function validateLanguages(data, labels) {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new BundleError('languages.json must be an object of label -> fields');
  const known = new Set(labels);
  const out = new Map();
  for (const [label, entry] of Object.entries(data)) {
    if (!known.has(label)) throw new BundleError(`languages.json names '${label}', which is not one of the model's labels`);
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || !Object.keys(entry).every((k) => FIELDS.includes(k))) {
      throw new BundleError(`languages.json['${label}'] must be an object with fields among ${FIELDS.join(', ')}`);
    }
    if (!Object.values(entry).every((v) => typeof v === 'string' && [...v].length <= MAX_FIELD)) {
      throw new BundleError(`languages.json['${label}'] fields must be strings of at most ${MAX_FIELD}`);
    }
    out.set(label, new Map(Object.entries(entry)));
  }
  for (const field of ['iso639_1', 'iso639_3', 'flores']) {
    const given = [...out.values()].map((e) => e.get(field)).filter(Boolean);
    if (new Set(given).size !== given.length) throw new BundleError(`languages.json gives two labels the same ${field} code`);
  }
  return out;
}

/** label -> its code of kind `codes` (null for "label"); "iso639-1" falls back to the 639-3 code. */
export function codeMap(languages, labels, codes) {
  if (!CODES.includes(codes)) throw new InputError(`codes must be one of ${CODES.join(', ')}, got ${codes}`);
  if (codes === 'label') return null;
  if (!languages.size) throw new InputError(`this bundle has no languages.json (names and codes): it answers in labels, not ${codes}`);
  const map = new Map();
  const missing = [];
  for (const label of labels) {
    if (label === UNDETERMINED) continue; // a model's "none of these" class: never answered as a label, needs no code
    const entry = languages.get(label) ?? new Map();
    const code = codes === 'iso639-1' ? entry.get('iso639_1') || entry.get('iso639_3') : entry.get(codes.replace('-', '_'));
    if (code) map.set(label, code);
    else missing.push(label);
  }
  if (missing.length) {
    const more = missing.length > 10 ? ` and ${missing.length - 10} more` : '';
    throw new InputError(`this bundle's languages.json gives no ${codes} code for: ${missing.slice(0, 10).join(', ')}${more}`);
  }
  return map;
}
