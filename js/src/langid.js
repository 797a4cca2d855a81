// Language identification: texts -> [label, probability] lists, as the Python runtime's
// LanguageIdentifier answers (top-k, threshold -> "und", restriction to some languages).
import { Featurizer } from './featurizer.js';
import { InputError, BundleError, checkOptions } from './errors.js';
import { validateLanguages, codeMap, UNDETERMINED } from './languages.js';

export { UNDETERMINED };
export const MAX_CHARS = 100_000; // a longer text is identified by its first MAX_CHARS code points
const CALL_VALUES = 1 << 17; // ids per model call (rows x padded width) = CALL_VALUES / the model's dim, as in the
// Python runtime: the gathered embeddings stay cache-sized
const MAX_ROWS = 256;
export const SWITCH_COST = 7; // segments: as the Python runtime's defaults
export const MIN_WORDS = 1;
const CACHE_BYTES = 8 << 20; // the word-score cache's rows at most, as the Python runtime's
const MAX_CACHED_CHARS = 64; // longer words are scored every time, never kept

export class LanguageIdentifier {
  constructor(bundle, session) {
    this.bundle = bundle;
    this.session = session;
    this.labels = bundle.labels;
    if (!Array.isArray(this.labels) || !this.labels.every((l) => typeof l === 'string') || new Set(this.labels).size !== this.labels.length) {
      throw new BundleError('labels.json must be a list of distinct strings');
    }
    if (typeof bundle.vocab !== 'object' || bundle.vocab === null || Array.isArray(bundle.vocab)) {
      throw new BundleError('vocab.json must map each word to an id, the ids 1..N each once');
    }
    const vocab = new Map(Object.entries(bundle.vocab));
    const ids = [...vocab.values()];
    if (!ids.every((i) => Number.isInteger(i) && i >= 1 && i <= ids.length) || new Set(ids).size !== ids.length) {
      throw new BundleError('vocab.json must map each word to an id, the ids 1..N each once');
    }
    this.featurizer = new Featurizer(bundle.spec, vocab);
    this.letterishCache = new Map(); // code point -> whether it folds to word characters (segments' runs)
    if (this.labels.length !== bundle.sizes.log_probs) throw new BundleError('labels.json does not match the model output size');
    if (bundle.model.num_ids !== undefined && this.featurizer.firstBucketId + (bundle.spec.max_n ? bundle.spec.buckets : 0) !== bundle.model.num_ids) {
      throw new BundleError('vocab.json and the featurizer do not match the model\'s number of ids');
    }
    // a model trained with an `und` class ("none of these languages") keeps its share of the probability,
    // so text in a language it was not trained on gets a low p; `und` is never a guess, nor a language to restrict to
    this.index = new Map(this.labels.map((l, i) => [l, i]).filter(([l]) => l !== UNDETERMINED));
    this.answerable = [...this.index.values()];
    this.languages = bundle.languages === null || bundle.languages === undefined ? new Map() : validateLanguages(bundle.languages, this.labels);
    this.maxCells = Math.max(256, Math.floor(CALL_VALUES / Math.max(1, Number(bundle.model.dim) || 32)));
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

  /** u(word) = logp(word alone) - logp(nothing) for folded words: the word's part of the model's
   * logits (null for a word without ids). Cached as the Python runtime's word_scores.py caches:
   * at most CACHE_BYTES of rows (the older half forgotten when full), never a word longer than
   * MAX_CACHED_CHARS (one text cannot fill memory with keys). */
  async wordScores(words) {
    this.scoreCache ??= new Map();
    this.base ??= Float64Array.from((await this.run([[0]]))[0]);
    const capacity = Math.max(1024, Math.floor(CACHE_BYTES / (8 * this.labels.length)));
    const fresh = new Map();
    for (const w of words) if (!this.scoreCache.has(w) && !fresh.has(w)) fresh.set(w, null);
    const names = [...fresh.keys()];
    const rows = names.map((w) => this.featurizer.ids(w, true));
    const withIds = names.map((_, i) => i).filter((i) => rows[i].length);
    for (let start = 0; start < withIds.length; start += MAX_ROWS) {
      const chunk = withIds.slice(start, start + MAX_ROWS);
      const out = await this.run(chunk.map((i) => rows[i]));
      chunk.forEach((i, r) => fresh.set(names[i], Float64Array.from(out[r], (v, y) => v - this.base[y])));
    }
    const answer = words.map((w) => (fresh.has(w) ? fresh.get(w) : this.scoreCache.get(w)));
    for (const [word, row] of fresh) {
      if (Array.from(word).length > MAX_CACHED_CHARS) continue;
      if (this.scoreCache.size >= capacity) { // full: forget the older half (insertion order)
        let drop = Math.floor(capacity / 2);
        for (const key of this.scoreCache.keys()) { if (drop-- <= 0) break; this.scoreCache.delete(key); }
      }
      this.scoreCache.set(word, row);
    }
    return answer;
  }

  /**
   * Which languages, where: [start, end, label, probability] per segment, over UTF-16 offsets
   * of the text, as the Python runtime's `segments` (Viterbi over per-word scores, a cost per
   * change of language; labels never among a word's best three nor the text's best five are
   * not considered).
   */
  async segments(text, options = {}) {
    checkOptions(options, ['switchCost', 'minWords', 'codes']);
    const { switchCost = SWITCH_COST, minWords = MIN_WORDS, codes = 'label' } = options;
    if (typeof text !== 'string') throw new InputError('text must be a string');
    const map = codeMap(this.languages, this.labels, codes);
    if (map) return (await this.segments(text, { switchCost, minWords })).map(([a, b, label, p]) => [a, b, map.get(label) ?? label, p]);
    if (minWords !== 1) throw new InputError('this runtime segments with minWords 1 only');
    if (!(Number.isFinite(switchCost) && switchCost >= 0)) throw new InputError(`switchCost must be a number >= 0, got ${switchCost}`);
    const out = []; // [start, end, label index, summed word scores]: MAX_CHARS code points at a time
    for (const [offset, window] of windows(text, MAX_CHARS)) {
      const { spans, vectors } = await this.wordSpans(window, offset);
      if (!spans.length) continue;
      const total = this.base.map((b, y) => vectors.reduce((s, v) => s + v[y], b));
      const candidates = new Set(topIndices(total, 5));
      for (const v of vectors) for (const y of topIndices(v, 3)) candidates.add(y);
      candidates.delete(this.labels.indexOf(UNDETERMINED)); // "none of these" is never a segment's language
      const labels = [...candidates].sort((a, b) => a - b);
      const path = viterbi(vectors, labels, switchCost);
      for (let t = 0; t < path.length; ) {
        let end = t;
        while (end + 1 < path.length && path[end + 1] === path[t]) end++;
        const summed = new Float64Array(this.base.length);
        for (let j = t; j <= end; j++) for (let y = 0; y < summed.length; y++) summed[y] += vectors[j][y];
        let label = labels[0]; // the run's best among the candidates, as segmenter.py relabels it
        for (const y of labels) if (summed[y] + this.base[y] > summed[label] + this.base[label]) label = y;
        const last = out[out.length - 1];
        if (last && last[2] === label) { // the same language goes on (also into the next window)
          last[1] = spans[end][1];
          for (let y = 0; y < summed.length; y++) last[3][y] += summed[y];
        } else {
          out.push([spans[t][0], spans[end][1], label, summed]);
        }
        t = end + 1;
      }
    }
    return out.map(([a, b, label, summed]) => {
      const logits = this.base.map((base, y) => base + summed[y]);
      return [a, b, this.labels[label], 1 / logits.reduce((s, v) => s + Math.exp(v - logits[label]), 0)];
    });
  }

  letterish(cp) {
    let value = this.letterishCache.get(cp);
    if (value === undefined) this.letterishCache.set(cp, (value = this.featurizer.letterish(cp)));
    return value;
  }

  /** The runs of letters of `window` (UTF-16 offsets, plus `offset`) that carry features, and
   * each run's summed word scores. */
  async wordSpans(window, offset) {
    const runs = [];
    let start = -1, i = 0;
    for (const ch of window) {
      if (this.letterish(ch.codePointAt(0))) {
        if (start < 0) start = i;
      } else if (start >= 0) {
        runs.push([start, i]);
        start = -1;
      }
      i += ch.length;
    }
    if (start >= 0) runs.push([start, window.length]);
    const runWords = runs.map(([a, b]) => this.featurizer.words(window.slice(a, b)));
    const scores = await this.wordScores(runWords.flat());
    const n = this.labels.length;
    const keep = [];
    let k = 0;
    for (const words of runWords) keep.push(words.some(() => scores[k++] !== null));
    // one block for the window's rows (not one array per run: a long text would fragment memory)
    const rows = new Float32Array(keep.filter(Boolean).length * n); // float32, as the Python runtime keeps word scores
    const spans = [], vectors = [];
    k = 0;
    runWords.forEach((words, r) => {
      const sum = keep[r] ? rows.subarray(spans.length * n, (spans.length + 1) * n) : null;
      for (const _ of words) {
        const u = scores[k++];
        if (u && sum) for (let y = 0; y < n; y++) sum[y] += u[y];
      }
      if (sum) { spans.push([runs[r][0] + offset, runs[r][1] + offset]); vectors.push(sum); }
    });
    return { spans, vectors };
  }

  /** The model's log-probabilities (Float32Array) for each row of ids, zero-padded to one width. */
  async run(idRows) {
    const width = Math.max(1, ...idRows.map((r) => r.length));
    const batch = new BigInt64Array(idRows.length * width);
    idRows.forEach((row, r) => row.forEach((id, j) => { batch[r * width + j] = BigInt(id); }));
    const result = await this.session.run({ input_ids: new this.bundle.ort.Tensor('int64', batch, [idRows.length, width]) });
    const n = this.labels.length;
    const dims = result.log_probs.dims;
    if (dims.length !== 2 || Number(dims[0]) !== idRows.length || Number(dims[1]) !== n) {
      throw new BundleError(`the model answers [${dims.join(', ')}] log-probabilities for ${idRows.length} texts of ${n} labels`);
    }
    return idRows.map((_, r) => result.log_probs.data.slice(r * n, (r + 1) * n));
  }

  /** Log-probabilities per text (Float32Array rows); null for a text without ids. Texts are
   * sorted by length and run in calls of at most `maxCells` padded ids, so padding stays small. */
  async logProbs(texts) {
    const ids = texts.map((t) => (notText(t) ? [] : this.inputIds(t))); // binary data read as text: und
    const rows = ids.map((_, i) => i).filter((i) => ids[i].length).sort((a, b) => ids[a].length - ids[b].length || a - b);
    const out = new Array(texts.length).fill(null);
    for (let start = 0; start < rows.length; ) {
      let end = start + 1; // rows are sorted: the last row of a call is its widest
      while (end < rows.length && end - start < MAX_ROWS && (end - start + 1) * ids[rows[end]].length <= this.maxCells) end++;
      const chunk = rows.slice(start, end);
      const values = await this.run(chunk.map((i) => ids[i]));
      chunk.forEach((i, r) => { out[i] = values[r]; });
      start = end;
    }
    return out;
  }

  /**
   * Top-k [label, probability] per text; [["und", 1]] for a text without letters, and
   * [["und", p], [best, p], …] when the best probability p is below `threshold`. `languages` restricts the
   * answer to those labels, renormalized over them; `codes` gives each label as its "iso639-1", "iso639-3" or
   * "flores" code (languages.json). A string gives one list, an array a list of lists.
   */
  async predict(texts, options = {}) {
    checkOptions(options, ['k', 'threshold', 'languages', 'codes']);
    const { k = 1, threshold = 0, languages = null, codes = 'label' } = options;
    const map = codeMap(this.languages, this.labels, codes);
    if (map) {
      const answers = await this.predict(texts, { k, threshold, languages });
      const relabel = (answer) => answer.map(([label, p]) => [map.get(label) ?? label, p]);
      return typeof texts === 'string' ? relabel(answers) : answers.map(relabel);
    }
    const single = typeof texts === 'string';
    const batch = single ? [texts] : texts;
    if (!Array.isArray(batch) || batch.some((t) => typeof t !== 'string')) throw new InputError('texts must be a string or an array of strings');
    if (!(k >= 1)) throw new InputError(`k must be at least 1, got ${k}`);
    if (!(threshold >= 0 && threshold <= 1)) throw new InputError(`threshold must be between 0 and 1, got ${threshold}`);
    let allowed = this.answerable;
    if (languages) {
      const unknown = languages.filter((l) => !this.index.has(l));
      if (unknown.length || !languages.length) throw new InputError(`unknown language(s) ${unknown.join(', ') || '(none given)'}`);
      allowed = [...new Set(languages.map((l) => this.index.get(l)))].sort((a, b) => a - b);
    }
    const results = (await this.logProbs(batch)).map((row) => {
      if (row === null) return [[UNDETERMINED, 1]];
      const order = k === 1 ? [argmax(row, allowed)] : allowed.slice().sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
      // renormalized over the allowed labels from their best (all of them may underflow exp())
      const best = languages ? Math.max(...allowed.map((i) => row[i])) : 0;
      const total = languages ? allowed.reduce((s, i) => s + Math.exp(row[i] - best), 0) : 1;
      const top = order.map((i) => [this.labels[i], Math.exp(row[i] - best) / total]);
      return top[0][1] < threshold ? [[UNDETERMINED, top[0][1]], ...top] : top; // und, then the guesses
    });
    return single ? results[0] : results;
  }
}

const NOT_TEXT = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]/gu;

/** Whether `text` is binary data read as text: a third or more of its non-space characters (of the
 * first MAX_CHARS) are U+FFFD or control characters; as the Python runtime's `not_text`. */
export function notText(text) {
  const sample = firstCodePoints(text, MAX_CHARS);
  NOT_TEXT.lastIndex = 0;
  if (!NOT_TEXT.test(sample)) return false;
  const bad = sample.match(NOT_TEXT).length;
  let total = 0;
  for (const ch of sample) if (!/\s/u.test(ch)) total++;
  return 3 * bad >= total;
}

/** The Viterbi labelling of word scores (vectors[t][labels[y]]: candidate y of word t) with one cost
 * per switch (see segmenter.py); returns candidate indices. */
function viterbi(vectors, labels, cost) {
  const n = vectors.length, m = labels.length;
  const best = Float64Array.from(labels, (y) => vectors[0][y]);
  const stay = new Uint8Array(n * m), leader = new Int32Array(n); // flat: no array per word
  for (let t = 1; t < n; t++) {
    let lead = 0;
    for (let y = 1; y < m; y++) if (best[y] > best[lead]) lead = y;
    const floor = best[lead] - cost;
    for (let y = 0; y < m; y++) stay[t * m + y] = best[y] >= floor ? 1 : 0;
    leader[t] = lead;
    for (let y = 0; y < m; y++) best[y] = Math.max(best[y], floor) + vectors[t][labels[y]];
  }
  let last = 0;
  for (let y = 1; y < m; y++) if (best[y] > best[last]) last = y;
  const path = [last];
  for (let t = n - 1; t > 0; t--) path.push(stay[t * m + path[path.length - 1]] ? path[path.length - 1] : leader[t]);
  return path.reverse();
}

function argmax(row, allowed) {
  let best = allowed[0];
  for (const i of allowed) if (row[i] > row[best]) best = i;
  return best;
}

/** The indices of the k largest values, largest first (ties: the lower index), without sorting all. */
function topIndices(values, k) {
  const top = [];
  for (let i = 0; i < values.length; i++) {
    if (top.length === k && !(values[i] > values[top[k - 1]])) continue;
    let j = top.length;
    while (j > 0 && values[top[j - 1]] < values[i]) j--;
    top.splice(j, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}

/** [UTF-16 offset, text] pieces of at most n code points each, as the Python runtime cuts them:
 * after the last space of the piece's second half when there is one (a word is not cut in two). */
function* windows(text, n) {
  for (let start = 0; start < text.length; ) {
    let end = start, afterSpace = -1;
    for (let count = 0; end < text.length && count < n; count++) {
      const cp = text.codePointAt(end);
      end += cp > 0xffff ? 2 : 1;
      if (cp === 32 && count >= Math.floor(n / 2)) afterSpace = end;
    }
    if (end < text.length && afterSpace > 0) end = afterSpace;
    yield [start, text.slice(start, end)];
    start = end;
  }
}

function firstCodePoints(text, n) {
  if (text.length <= n) return text; // n UTF-16 units hold at most n code points
  return Array.from(text).slice(0, n).join('');
}
