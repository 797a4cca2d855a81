// The manifest, checked as strictly as the Python runtime checks it: every field this runtime
// uses is validated, an unknown recipe field or a newer format is refused.
import { BundleError } from './errors.js';
import { UNICODE_VERSION } from './unicode.js';

export const FORMAT_VERSION = 3;
export const MAX_MANIFEST_BYTES = 16 << 20; // as the Python runtime: a bigger manifest is refused unread
const NORMAL_FORMS = ['NFC', 'NFD', 'NFKC', 'NFKD'];
const MAX_N = 8;
const MAX_BUCKETS = 2 ** 24;
const MAX_RANGES = 10000; // most featurizer.known_letters ranges

const SPECS = {
  langid: {
    kind: 'words+char-ngrams',
    fields: {
      normalization: 'string', casefold: 'boolean', keep: 'string', word_features: 'boolean',
      min_n: 'number', max_n: 'number', buckets: 'number', hash: 'string', unicode_version: 'string',
    },
    optional: { drop_format: 'boolean', known_letters: 'object' }, // absent: false, every letter
  },
  nextword: {
    kind: 'words',
    fields: { normalization: 'string', casefold: 'boolean', apostrophes: 'string', pattern: 'string', unicode_version: 'string' },
  },
};
const CONTRACTS = {
  langid: { inputs: [['input_ids', 'int64']], outputs: [['log_probs', 'float32']] },
  nextword: {
    inputs: [['input_ids', 'int64']],
    outputs: [['log_probs', 'float32'], ['top_log_probs', 'float32'], ['top_ids', 'int64']],
  },
};

function fail(message) {
  throw new BundleError(`manifest.json: ${message}`);
}

/** Check a parsed manifest; returns {task, spec, sizes, artifacts}. */
export function readManifest(data) {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail('expected a JSON object');
  const version = data.format_version;
  if (!Number.isInteger(version)) fail("field 'format_version' is missing or not an integer");
  if (version > FORMAT_VERSION) fail(`format_version ${version} is newer than this runtime reads (${FORMAT_VERSION}); upgrade bowgram`);
  if (version < FORMAT_VERSION) {
    fail(`format_version ${version} predates the portable recipe (${FORMAT_VERSION}); rebuild the bundle with the current bowgram`);
  }
  const task = data.task;
  if (!Object.hasOwn(SPECS, task)) fail(`task ${JSON.stringify(task)} is not one this runtime serves (${Object.keys(SPECS).join(', ')})`);
  const spec = checkSpec(task, data.featurizer);
  const sizes = checkSignature(task, data.signature);
  if (!Array.isArray(data.artifacts)) fail("field 'artifacts' is not a list");
  for (const a of data.artifacts) {
    if (typeof a?.path !== 'string' || !a.path || /[\/\\\0]/.test(a.path) || a.path === '.' || a.path === '..') {
      fail(`artifact path ${JSON.stringify(a?.path)} is not a plain file name`);
    }
    if (typeof a.sha256 !== 'string' || !Number.isInteger(a.size)) fail(`artifact ${a.path} lacks its sha256 or size`);
  }
  return { task, spec, sizes, artifacts: data.artifacts, model: data.model ?? {} };
}

function checkSpec(task, spec) {
  const { kind, fields, optional = {} } = SPECS[task];
  const where = 'featurizer';
  if (typeof spec !== 'object' || spec === null) fail(`'${where}' is not an object`);
  if (spec.kind !== kind) fail(`${where}.kind is ${JSON.stringify(spec.kind)}, this task reads ${JSON.stringify(kind)}`);
  const known = (k) => Object.hasOwn(fields, k) || Object.hasOwn(optional, k); // not "constructor", "__proto__"
  const unknown = Object.keys(spec).filter((k) => k !== 'kind' && !known(k));
  if (unknown.length) fail(`${where}: unknown fields ${JSON.stringify(unknown)}; a newer bowgram may read this bundle`);
  for (const [name, type] of Object.entries(fields)) {
    if (typeof spec[name] !== type || (type === 'number' && !Number.isInteger(spec[name]))) {
      fail(`${where}.${name} is ${JSON.stringify(spec[name])}, expected ${type === 'number' ? 'an integer' : `a ${type}`}`);
    }
  }
  for (const [name, type] of Object.entries(optional)) {
    if (Object.hasOwn(spec, name) && typeof spec[name] !== type) fail(`${where}.${name} is ${JSON.stringify(spec[name])}, expected a ${type === 'object' ? 'list' : type}`);
  }
  if (!NORMAL_FORMS.includes(spec.normalization)) fail(`${where}.normalization ${JSON.stringify(spec.normalization)} is not one of ${NORMAL_FORMS}`);
  if (spec.unicode_version !== UNICODE_VERSION) {
    fail(`${where}.unicode_version is ${spec.unicode_version}; this runtime carries the Unicode ${UNICODE_VERSION} tables`);
  }
  if (task === 'langid') {
    if (spec.hash !== 'fnv1a32-codepoints' || spec.keep !== 'unicode-letters-and-marks') fail(`${where}: unsupported hash or character class`);
    if (spec.max_n && !(spec.min_n >= 1 && spec.min_n <= spec.max_n && spec.max_n <= MAX_N && spec.buckets > 0 && spec.buckets <= MAX_BUCKETS)) {
      fail(`${where}: n-grams need 1 <= min_n <= max_n <= ${MAX_N} and 0 < buckets <= ${MAX_BUCKETS}`);
    }
    if (!spec.max_n && (spec.min_n || spec.buckets)) fail(`${where}: max_n 0 (no n-grams) goes with min_n 0 and buckets 0`);
    checkRanges(Object.hasOwn(spec, 'known_letters') ? spec.known_letters : []);
  } else {
    if (spec.pattern !== 'words-v2') fail(`${where}.pattern ${JSON.stringify(spec.pattern)} is not one this runtime knows (words-v2)`);
    if (Array.from(spec.apostrophes).length > 32) fail(`${where}.apostrophes: at most 32 characters`);
  }
  return spec;
}

/** featurizer.known_letters: [first, last] code point ranges, ascending and apart. */
function checkRanges(ranges) {
  if (!Array.isArray(ranges) || ranges.length > MAX_RANGES) fail(`featurizer.known_letters must be a list of at most ${MAX_RANGES} [first, last] ranges`);
  let last = -1;
  for (const r of ranges) {
    const ok = Array.isArray(r) && r.length === 2 && r.every(Number.isInteger);
    if (!ok || r[0] < 0 || r[0] > r[1] || r[1] >= 0x110000 || r[0] <= last) {
      fail(`featurizer.known_letters: ${JSON.stringify(r).slice(0, 40)} is not a [first, last] code point range after the previous one (ranges ascend and do not overlap)`);
    }
    last = r[1];
  }
}

function checkSignature(task, signature) {
  const contract = CONTRACTS[task];
  const sizes = {};
  for (const side of ['inputs', 'outputs']) {
    const tensors = signature?.[side];
    if (!Array.isArray(tensors) || tensors.length !== contract[side].length) fail(`signature.${side} does not match the ${task} contract`);
    contract[side].forEach(([name, dtype], i) => {
      const t = tensors[i];
      if (t?.name !== name || t?.dtype !== dtype || !Array.isArray(t?.shape) || t.shape.length !== 2 || t.shape[0] !== 'batch') {
        fail(`signature.${side}[${i}] should be ${name} (${dtype}, [batch, …])`);
      }
      sizes[name] = t.shape[1];
    });
  }
  return sizes;
}
