// Next-word prediction: contexts -> [word, probability] lists, as the Python runtime's
// NextWordPredictor answers (top-k from the graph's own TopK, or a prefix over the full scores).
import { Tokenizer, BOS_ID, SPECIALS } from './tokenizer.js';
import { InputError, BundleError, checkOptions } from './errors.js';

export const TAIL_CHARS = 10_000; // only a context's last TAIL_CHARS code points are tokenized
const ROWS = 64; // contexts per model call: each makes a few [rows, vocab] float arrays

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
      const wanted = prefix && prefix.trim() ? this.tokenizer.tokens(prefix).join('') : prefix || '';
      const allowed = [];
      for (let id = SPECIALS; id < this.words.length; id++) if (this.words[id].startsWith(wanted)) allowed.push(id);
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
