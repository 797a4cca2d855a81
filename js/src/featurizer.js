// Text -> feature ids for the language identifier: the recipe of the manifest's `featurizer`
// (kind "words+char-ngrams"), as the Python runtime's featurizer.py states it.
import { foldText, dropFormat, isFormatChar, classOf, L, M } from './unicode.js';

const FNV_BASIS = 2166136261;
const FNV_PRIME = 16777619;
const BOUNDARY = 32;

export class Featurizer {
  /** @param {object} spec the manifest's featurizer (validated) @param {Map<string, number>} vocab */
  constructor(spec, vocab) {
    this.spec = spec;
    this.vocab = spec.word_features ? vocab : new Map();
    this.firstBucketId = 1 + vocab.size;
    const ranges = spec.known_letters ?? [];
    this.rangeStarts = Int32Array.from(ranges, (r) => r[0]);
    this.rangeEnds = Int32Array.from(ranges, (r) => r[1]);
  }

  /** Whether a folded code point is part of words: a letter or mark of a known script. */
  kept(cp) {
    const cls = classOf(cp);
    if (cls !== L && cls !== M) return false;
    const n = this.rangeStarts.length;
    if (!n) return true;
    let lo = 0, hi = n; // the last range starting at or before cp
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rangeStarts[mid] <= cp) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && cp <= this.rangeEnds[lo - 1];
  }

  /** Fold a text as the recipe says: normalize, case-fold, then drop format characters if asked. */
  fold(text) {
    const folded = foldText(text, this.spec.normalization, this.spec.casefold);
    return this.spec.drop_format ? dropFormat(folded) : folded;
  }

  /** Whether a code point of a text not yet folded folds to word characters (`segments` labels
   * the runs of such characters); a dropped format character joins its neighbours. */
  letterish(cp) {
    if (this.spec.drop_format && isFormatChar(cp)) return true;
    for (const c of foldText(String.fromCodePoint(cp), this.spec.normalization, this.spec.casefold)) {
      if (this.kept(c.codePointAt(0))) return true;
    }
    return false;
  }

  /** The folded text and its words as [start, end) UTF-16 offsets into it: maximal runs of
   * letters and marks. `folded`: the text is folded already (a word of `words()`). */
  spans(text, folded = false) {
    if (!folded) text = this.fold(text);
    return this.spansOfFolded(text);
  }

  spansOfFolded(folded) {
    const spans = [];
    let start = -1;
    for (let i = 0; i < folded.length; ) {
      const cp = folded.codePointAt(i);
      if (this.kept(cp)) {
        if (start < 0) start = i;
      } else if (start >= 0) {
        spans.push(start, i);
        start = -1;
      }
      i += cp > 0xffff ? 2 : 1;
    }
    if (start >= 0) spans.push(start, folded.length);
    return { folded, spans };
  }

  /** The words of a text (folded). */
  words(text) {
    const { folded, spans } = this.spans(text);
    const words = [];
    for (let w = 0; w < spans.length; w += 2) words.push(folded.slice(spans[w], spans[w + 1]));
    return words;
  }

  /** Feature ids of one text: word ids in text order, then n-grams by n, each in text order.
   * `folded`: the text is folded already (not folded again). */
  ids(text, folded = false) {
    const { min_n: minN, max_n: maxN, buckets } = this.spec;
    const { folded: foldedText, spans } = this.spans(text, folded);
    return this.idsOf(foldedText, spans, minN, maxN, buckets);
  }

  idsOf(folded, spans, minN, maxN, buckets) {
    const ids = [];
    if (this.vocab.size) {
      for (let w = 0; w < spans.length; w += 2) {
        const id = this.vocab.get(folded.slice(spans[w], spans[w + 1]));
        if (id !== undefined) ids.push(id);
      }
    }
    if (!maxN || !spans.length) return ids;
    // every word wrapped in boundaries, as code points: " w1  w2 " with a start offset per word
    const cps = new Int32Array(folded.length + spans.length + 2);
    const starts = [];
    let m = 0;
    for (let w = 0; w < spans.length; w += 2) {
      starts.push(m);
      cps[m++] = BOUNDARY;
      for (let i = spans[w]; i < spans[w + 1]; ) {
        const cp = folded.codePointAt(i);
        cps[m++] = cp;
        i += cp > 0xffff ? 2 : 1;
      }
      cps[m++] = BOUNDARY;
    }
    starts.push(m);
    for (let n = minN; n <= maxN; n++) {
      for (let w = 0; w + 1 < starts.length; w++) {
        const first = starts[w], end = starts[w + 1]; // the wrapped word is cps[first:end]
        for (let i = first; i + n <= end; i++) {
          if (n === 1 && (i === first || i === end - 1)) continue; // the lone marker
          let h = FNV_BASIS;
          for (let j = i; j < i + n; j++) h = Math.imul(h ^ cps[j], FNV_PRIME) >>> 0;
          ids.push(this.firstBucketId + (h % buckets));
        }
      }
    }
    return ids;
  }
}
