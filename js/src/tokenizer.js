// Text -> tokens for the next-word model: the manifest's `tokenizer` (kind "words", pattern
// "words-v2"), as the Python runtime's tokenizer.py states it.
import { foldText, casefold, classOf, L, M, N, P, S } from './unicode.js';

export const BOS_ID = 0, EOS_ID = 1, UNK_ID = 2, SPECIALS = 3;

export class Tokenizer {
  constructor(spec) {
    this.spec = spec;
    this.apostrophes = new Set(Array.from(spec.apostrophes));
  }

  /** @returns {string[]} */
  tokens(text) {
    let folded = foldText(text, this.spec.normalization, false);
    if (this.apostrophes.size) folded = Array.from(folded, (c) => (this.apostrophes.has(c) ? "'" : c)).join('');
    if (this.spec.casefold) folded = casefold(folded);
    const chars = Array.from(folded);
    const kind = chars.map((c) => {
      if (c === "'") return "'";
      const cls = classOf(c.codePointAt(0));
      return cls === L || cls === M || cls === N ? 'w' : cls === P || cls === S ? 'o' : ' ';
    });
    const tokens = [];
    let i = 0;
    while (i < chars.length) {
      if (kind[i] === 'w') {
        let end = i;
        while (end < chars.length && kind[end] === 'w') end++;
        while (kind[end] === "'" && kind[end + 1] === 'w') {
          end++;
          while (end < chars.length && kind[end] === 'w') end++;
        }
        tokens.push(chars.slice(i, end).join(''));
        i = end;
      } else {
        if (kind[i] !== ' ') tokens.push(chars[i]);
        i++;
      }
    }
    return tokens;
  }
}
