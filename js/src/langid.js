// Language identification: texts -> [label, probability] lists, as the Python runtime's
// LanguageIdentifier answers (top-k, threshold -> "und", restriction to some languages).
import { Featurizer } from './featurizer.js';
import { InputError, BundleError } from './errors.js';

export const UNDETERMINED = 'und';
export const MAX_CHARS = 100_000; // a longer text is identified by its first MAX_CHARS code points
const MAX_CELLS = 1 << 14; // ids per model call (rows x padded width): cache-sized, as in the Python runtime
const MAX_ROWS = 256;

export class LanguageIdentifier {
  constructor(bundle, session) {
    this.bundle = bundle;
    this.session = session;
    this.labels = bundle.labels;
    const vocab = new Map(Object.entries(bundle.vocab));
    this.featurizer = new Featurizer(bundle.spec, vocab);
    if (this.labels.length !== bundle.sizes.log_probs) throw new BundleError('labels.json does not match the model output size');
    if (bundle.model.num_ids !== undefined && this.featurizer.firstBucketId + (bundle.spec.max_n ? bundle.spec.buckets : 0) !== bundle.model.num_ids) {
      throw new BundleError('vocab.json and the featurizer do not match the model\'s number of ids');
    }
    this.index = new Map(this.labels.map((l, i) => [l, i]));
  }

  /** The feature ids of one text (what examples.json records). */
  inputIds(text) {
    return this.featurizer.ids(firstCodePoints(text, MAX_CHARS));
  }

  /** The folded words of one text. */
  units(text) {
    return this.featurizer.words(firstCodePoints(text, MAX_CHARS));
  }

  get task() {
    return 'langid';
  }

  /** The model's log-probabilities (Float32Array) for each row of ids, zero-padded to one width. */
  async run(idRows) {
    const width = Math.max(1, ...idRows.map((r) => r.length));
    const batch = new BigInt64Array(idRows.length * width);
    idRows.forEach((row, r) => row.forEach((id, j) => { batch[r * width + j] = BigInt(id); }));
    const result = await this.session.run({ input_ids: new this.bundle.ort.Tensor('int64', batch, [idRows.length, width]) });
    const n = this.labels.length;
    return idRows.map((_, r) => result.log_probs.data.slice(r * n, (r + 1) * n));
  }

  /** Log-probabilities per text (Float32Array rows); null for a text without ids. Texts are
   * sorted by length and run in calls of at most MAX_CELLS padded ids, so padding stays small. */
  async logProbs(texts) {
    const ids = texts.map((t) => this.inputIds(t));
    const rows = ids.map((_, i) => i).filter((i) => ids[i].length).sort((a, b) => ids[a].length - ids[b].length || a - b);
    const out = new Array(texts.length).fill(null);
    for (let start = 0; start < rows.length; ) {
      let end = start + 1; // rows are sorted: the last row of a call is its widest
      while (end < rows.length && end - start < MAX_ROWS && (end - start + 1) * ids[rows[end]].length <= MAX_CELLS) end++;
      const chunk = rows.slice(start, end);
      const values = await this.run(chunk.map((i) => ids[i]));
      chunk.forEach((i, r) => { out[i] = values[r]; });
      start = end;
    }
    return out;
  }

  /**
   * Top-k [label, probability] per text; ["und", 1] for a text without letters, and
   * ["und", 1 - p] when the best probability p is below `threshold`. `languages` restricts the
   * answer to those labels, renormalized over them. A string gives one list, an array a list of lists.
   */
  async predict(texts, { k = 1, threshold = 0, languages = null } = {}) {
    const single = typeof texts === 'string';
    const batch = single ? [texts] : texts;
    if (!Array.isArray(batch) || batch.some((t) => typeof t !== 'string')) throw new InputError('texts must be a string or an array of strings');
    if (!(k >= 1)) throw new InputError(`k must be at least 1, got ${k}`);
    if (!(threshold >= 0 && threshold <= 1)) throw new InputError(`threshold must be between 0 and 1, got ${threshold}`);
    let allowed = this.labels.map((_, i) => i);
    if (languages) {
      const unknown = languages.filter((l) => !this.index.has(l));
      if (unknown.length || !languages.length) throw new InputError(`unknown language(s) ${unknown.join(', ') || '(none given)'}`);
      allowed = [...new Set(languages.map((l) => this.index.get(l)))].sort((a, b) => a - b);
    }
    const results = (await this.logProbs(batch)).map((row) => {
      if (row === null) return [[UNDETERMINED, 1]];
      const order = k === 1 ? [argmax(row, allowed)] : allowed.slice().sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
      const total = languages ? allowed.reduce((s, i) => s + Math.exp(row[i]), 0) : 1;
      const top = order.map((i) => [this.labels[i], Math.exp(row[i]) / total]);
      return top[0][1] < threshold ? [[UNDETERMINED, 1 - top[0][1]]] : top;
    });
    return single ? results[0] : results;
  }
}

function argmax(row, allowed) {
  let best = allowed[0];
  for (const i of allowed) if (row[i] > row[best]) best = i;
  return best;
}

function firstCodePoints(text, n) {
  if (text.length <= n) return text; // n UTF-16 units hold at most n code points
  return Array.from(text).slice(0, n).join('');
}
