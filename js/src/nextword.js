// Next-word prediction: contexts -> [word, probability] lists, as the Python runtime's
// NextWordPredictor answers (top-k from the graph's own TopK, or a prefix over the full scores).
import { Tokenizer, BOS_ID, SPECIALS } from './tokenizer.js';
import { InputError, BundleError, checkOptions } from './errors.js';

export const TAIL_CHARS = 10_000; // only a context's last TAIL_CHARS code points are tokenized
const ROWS = 64; // contexts per model call: each makes a few [rows, vocab] float arrays
const EOS_ID = 1;
export const MAX_CACHE_WINDOW = 1000;
const PARAGRAPH_BREAK = /\n[ \t\r\f\v]*\n/g; // a blank line, as the Python tokenizer cuts paragraphs

/**
 * The manifest's model.classes (absent: null): the first id of each output class of a factored
 * model, checked as the Python runtime checks it. This runtime answers from the graph's full
 * distribution, which the classes already shape; the Python runtime also searches them.
 */
export function readClasses(model, vocab) {
  if (!Object.hasOwn(model, 'classes') || model.classes === null) return null;
  const starts = model.classes;
  const ok = Array.isArray(starts) && starts.length > 0 && starts[0] === 0
    && starts.every((s, i) => Number.isInteger(s) && s < vocab && (i === 0 || s > starts[i - 1]));
  if (!ok) {
    throw new BundleError(`manifest.json: model.classes must list the first id of each class: whole numbers from 0, increasing, each below the vocabulary size (${vocab})`);
  }
  return starts;
}

/** The manifest's model.cache (absent: null), checked as the Python runtime checks it. */
export function readCache(model) {
  if (!Object.hasOwn(model, 'cache') || model.cache === null) return null;
  const cache = model.cache;
  const keys = cache && typeof cache === 'object' && !Array.isArray(cache) ? Object.keys(cache).sort().join(',') : '';
  if (keys !== 'bigram,unigram,window') throw new BundleError('manifest.json: model.cache must be {"window": n, "unigram": w, "bigram": w}');
  for (const name of ['unigram', 'bigram']) {
    const w = cache[name];
    if (typeof w !== 'number' || !(w >= 0 && w < 1)) throw new BundleError(`manifest.json: model.cache.${name} must be a number from 0 up to 1 (not 1)`);
  }
  if (!Number.isInteger(cache.window) || cache.window < 1 || cache.window > MAX_CACHE_WINDOW) {
    throw new BundleError(`manifest.json: model.cache.window must be a whole number from 1 to ${MAX_CACHE_WINDOW}`);
  }
  return { window: cache.window, unigram: cache.unigram, bigram: cache.bigram };
}

/** A cache's counts: the last `size` tokens of a stream and the pairs they end (see the Python
 * runtime's _Window): <s> and </s> are not counted, but </s> is a history. */
class CacheWindow {
  constructor(size, vocab) {
    this.size = size;
    this.entries = [];
    this.before = -1;
    this.unigrams = new Float64Array(vocab);
    this.held = 0;
    this.pairs = new Map();
  }

  history() {
    return this.entries.length ? this.entries[this.entries.length - 1] : this.before;
  }

  add(token) {
    const previous = this.history();
    this.entries.push(token);
    this.count(previous, token, 1);
    if (this.entries.length > this.size) {
      const oldest = this.entries.shift();
      this.count(this.before, oldest, -1);
      this.before = oldest;
    }
  }

  count(history, token, step) {
    if (token <= EOS_ID) return;
    this.unigrams[token] += step;
    this.held += step;
    if (history < 0) return;
    let following = this.pairs.get(history);
    if (!following) this.pairs.set(history, (following = new Map()));
    const c = (following.get(token) ?? 0) + step;
    if (c) following.set(token, c);
    else {
      following.delete(token);
      if (!following.size) this.pairs.delete(history);
    }
  }

  /** The writer's distribution from the model's probabilities (Float64Array, changed in place). */
  mix(probs, cache) {
    if (this.held) {
      for (let w = 0; w < probs.length; w++) probs[w] = probs[w] * (1 - cache.unigram) + this.unigrams[w] * (cache.unigram / this.held);
    }
    const following = this.pairs.get(this.history());
    if (following) {
      let total = 0;
      for (const c of following.values()) total += c;
      for (let w = 0; w < probs.length; w++) probs[w] *= 1 - cache.bigram;
      for (const [w, c] of following) probs[w] += (cache.bigram * c) / total;
    }
    return probs;
  }
}

/** One user's writing: answers that adapt to what this writer has written (the bundle's cache);
 * as the Python runtime's Writer. write(text) appends what the user typed; predict() completes
 * the word being typed (after the last space) or offers the next word. */
export class Writer {
  constructor(predictor) {
    this.predictor = predictor;
    this.cache = predictor.cache;
    this.context = '';
    this.typing = '';
    this.window = new CacheWindow(this.cache ? this.cache.window : 0, predictor.words.length);
  }

  write(text) {
    if (typeof text !== 'string') throw new InputError('a writer is given text (a string)');
    const pending = this.typing + text;
    let cut = Math.max(...[' ', '\t', '\n', '\r'].map((c) => pending.lastIndexOf(c))) + 1;
    if (pending.length - cut > TAIL_CHARS) cut = pending.length - TAIL_CHARS;
    const done = pending.slice(0, cut);
    this.typing = pending.slice(cut);
    if (!done) return;
    const joined = this.context.slice(-16) + done;
    const offset = joined.length - done.length;
    const ends = [...joined.matchAll(PARAGRAPH_BREAK)].map((m) => m.index + m[0].length).filter((e) => e > offset).map((e) => Math.max(0, e - offset));
    this.context = (this.context + done).slice(-TAIL_CHARS);
    if (!this.cache) return;
    const bounds = [0, ...ends, done.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      if (i) this.window.add(EOS_ID);
      for (const token of this.predictor.units(done.slice(bounds[i], bounds[i + 1]))) this.window.add(this.predictor.ids.get(token) ?? 2);
    }
  }

  async predict(options = {}) {
    checkOptions(options, ['k']);
    const { k = 5 } = options;
    const prefix = this.typing || null;
    if (!this.cache || !this.window.held) return this.predictor.predict(this.context, { k, prefix });
    if (!(k >= 1)) throw new InputError(`k must be at least 1, got ${k}`);
    const [row] = await this.predictor.run([this.predictor.inputIds(this.context)]);
    const probs = this.window.mix(Float64Array.from(row, Math.exp), this.cache);
    const allowed = this.predictor.allowed(prefix);
    return allowed.sort((a, b) => probs[b] - probs[a] || a - b).slice(0, k).map((id) => [this.predictor.words[id], probs[id]]);
  }
}

export class NextWordPredictor {
  constructor(bundle, session) {
    this.bundle = bundle;
    this.session = session;
    this.tokenizer = new Tokenizer(bundle.spec);
    const vocab = bundle.vocab;
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new BundleError('vocab.json must map each token to its id');
    const entries = Object.entries(vocab);
    // checked before use: a string id "4" would index the array as 4, a huge one would grow it
    if (!entries.every(([, id]) => Number.isInteger(id) && id >= 0 && id < entries.length)) throw new BundleError('vocab.json: ids must be 0..N-1, each once');
    this.words = new Array(entries.length);
    for (const [word, id] of entries) this.words[id] = word;
    if (this.words.includes(undefined)) throw new BundleError('vocab.json: ids must be 0..N-1, each once');
    if (this.words[0] !== '<s>' || this.words[1] !== '</s>' || this.words[2] !== '<unk>') throw new BundleError('vocab.json must map <s>, </s>, <unk> to 0, 1, 2');
    this.ids = new Map(Object.entries(vocab));
    this.contextSize = bundle.sizes.input_ids;
    this.graphTopK = bundle.sizes.top_ids;
    if (bundle.sizes.log_probs !== this.words.length) throw new BundleError('vocab.json does not match the model output size');
    this.cache = readCache(bundle.model ?? {});
    this.classes = readClasses(bundle.model ?? {}, this.words.length);
  }

  /** A new writer (see Writer). */
  writer() {
    return new Writer(this);
  }

  /** Ids of the words that may be offered: no specials, and starting with `prefix` (folded as a context is). */
  allowed(prefix) {
    const wanted = prefix && prefix.trim() ? this.tokenizer.tokens(prefix).join('') : prefix || '';
    const allowed = [];
    for (let id = SPECIALS; id < this.words.length; id++) if (this.words[id].startsWith(wanted)) allowed.push(id);
    return allowed;
  }

  /** The tokens of a context (its last TAIL_CHARS code points). */
  units(text) {
    return this.tokenizer.tokens(lastCodePoints(text, TAIL_CHARS));
  }

  /** The model's input: the last `context` token ids, left-padded with <s>. */
  inputIds(text) {
    const tokens = this.units(text).slice(-this.contextSize);
    const ids = tokens.map((t) => this.ids.get(t) ?? 2);
    return [...new Array(this.contextSize - ids.length).fill(BOS_ID), ...ids];
  }

  get task() {
    return 'nextword';
  }

  /** The named outputs for rows of context ids, ROWS rows per model call, as {name: {data, dims}}. */
  async outputs(idRows, names) {
    const parts = [];
    for (let start = 0; start < idRows.length; start += ROWS) {
      const rows = idRows.slice(start, start + ROWS);
      const batch = BigInt64Array.from(rows.flat(), BigInt);
      const feeds = { input_ids: new this.bundle.ort.Tensor('int64', batch, [rows.length, this.contextSize]) };
      parts.push(await this.session.run(feeds, names));
    }
    if (parts.length === 1) return parts[0];
    return Object.fromEntries(names.map((name) => {
      const width = parts[0][name].dims[1];
      const data = new parts[0][name].data.constructor(idRows.length * width);
      let offset = 0;
      for (const part of parts) {
        data.set(part[name].data, offset);
        offset += part[name].data.length;
      }
      return [name, { data, dims: [idRows.length, width] }];
    }));
  }

  /** The model's log-probabilities (Float32Array) over the vocabulary for each row of context ids. */
  async run(idRows) {
    const out = await this.outputs(idRows, ['log_probs']);
    const n = this.words.length;
    return idRows.map((_, r) => out.log_probs.data.slice(r * n, (r + 1) * n));
  }

  /**
   * Top-k [word, probability] per context; `prefix` keeps only words starting with it.
   * <s>, </s> and <unk> are never offered. A string gives one list, an array a list of lists.
   */
  async predict(contexts, options = {}) {
    checkOptions(options, ['k', 'prefix']);
    const { k = 5, prefix = null } = options;
    const single = typeof contexts === 'string';
    const batch = single ? [contexts] : contexts;
    if (!Array.isArray(batch) || batch.some((t) => typeof t !== 'string')) throw new InputError('contexts must be a string or an array of strings');
    if (!(k >= 1)) throw new InputError(`k must be at least 1, got ${k}`);
    if (!batch.length) return [];
    let results;
    if (!prefix && k + SPECIALS <= this.graphTopK) {
      const out = await this.outputs(batch.map((c) => this.inputIds(c)), ['top_log_probs', 'top_ids']);
      const w = this.graphTopK;
      results = batch.map((_, r) => {
        const picked = [];
        for (let j = 0; j < w; j++) {
          const id = Number(out.top_ids.data[r * w + j]);
          if (id >= SPECIALS) picked.push([this.words[id], Math.exp(out.top_log_probs.data[r * w + j])]);
        }
        return picked.slice(0, k);
      });
    } else {
      const allowed = this.allowed(prefix);
      const out = await this.outputs(batch.map((c) => this.inputIds(c)), ['log_probs']);
      const n = this.words.length;
      results = batch.map((_, r) => {
        const row = out.log_probs.data.subarray(r * n, (r + 1) * n);
        return allowed.slice().sort((a, b) => row[b] - row[a] || a - b).slice(0, k).map((id) => [this.words[id], Math.exp(row[id])]);
      });
    }
    return single ? results[0] : results;
  }
}

function lastCodePoints(text, n) {
  if (text.length <= n) return text;
  return Array.from(text).slice(-n).join('');
}
