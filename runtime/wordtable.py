"""A numpy hash table of a vocabulary's words, so a big batch's words are looked up in a few
array operations instead of one dict access per word (the slowest step of featurizing).

An internal speed-up of `featurizer.py`, not part of the bundle format: a 64-bit polynomial hash
of each word's code points, open addressing with linear probing. A vocabulary whose hashes
collide falls back to the dict (the caller checks for `None`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BASE = 0x100000001B3  # odd, so invertible modulo 2**64


def _powers(base: int, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) modulo 2**64."""
    out = np.full(n, base, dtype=np.uint64)
    if n:
        out[0] = 1
        np.cumprod(out, out=out)  # uint64 products wrap: modulo 2**64
    return out


_INVERSE = pow(_BASE, -1, 2**64)
CACHED_POWERS = 1 << 17  # powers kept between calls (2 MB at most): batches of up to ~1,300 long sentences
_cached: dict[int, np.ndarray] = {}


def _powers_of(base: int, n: int) -> np.ndarray:
    """`_powers(base, n)`, from a cache that grows in powers of two up to CACHED_POWERS (read only:
    threads may share it)."""
    if n > CACHED_POWERS:
        return _powers(base, n)
    table = _cached.get(base)
    if table is None or len(table) < n:
        table = _powers(base, max(1024, 1 << (n - 1).bit_length()))
        table.flags.writeable = False
        _cached[base] = table
    return table[:n]


def _span_hashes(cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each span cps[start:end], for all spans at once: the polynomial
    sum(cps[i] * B**(i - start)) mod 2**64 from prefix sums, then mixed."""
    prefix = np.zeros(len(cps) + 1, dtype=np.uint64)
    np.cumsum(cps.astype(np.uint64) * _powers_of(_BASE, len(cps)), out=prefix[1:])
    h = (prefix[ends] - prefix[starts]) * _powers_of(_INVERSE, len(cps) + 1)[starts]
    h ^= h >> np.uint64(33)  # a bijective mix (murmur3's finalizer step) so the top bits,
    h *= np.uint64(0xFF51AFD7ED558CCD)  # which pick a table slot, depend on every character
    mixed: np.ndarray = h ^ (h >> np.uint64(33))
    return mixed


@dataclass(frozen=True)
class WordTable:
    """vocab.json as an open-addressing table of 64-bit word hashes, so a batch's words are
    looked up in numpy rather than one dict access per word (the slowest step of featurizing).
    A hit must also match the word's length; a vocabulary whose hashes collide (or hash to 0,
    the empty mark) falls back to the dict."""

    hashes: np.ndarray  # uint64 per slot, 0 = empty; ends with at least one empty slot
    lengths: np.ndarray  # uint8: word length, capped at 255
    ids: np.ndarray  # int32
    shift: np.uint64  # a hash's home slot is hash >> shift

    @classmethod
    def build(cls, vocab: dict[str, int]) -> WordTable | None:
        words = list(vocab)
        if not words or len(vocab) >= 2**31:
            return None
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        hashes = np.concatenate(
            [_word_hashes(words[i : i + 4096], lengths[i : i + 4096]) for i in range(0, len(words), 4096)]
        )
        order = np.argsort(hashes)  # by hash is also by home slot (its top bits)
        hashes = hashes[order]
        if hashes[0] == 0 or (hashes[1:] == hashes[:-1]).any():
            return None
        bits = max(8, (4 * len(words) - 1).bit_length())  # at most a quarter full: short probes
        shift = np.uint64(64 - bits)
        rank = np.arange(len(words))
        slot = rank + np.maximum.accumulate((hashes >> shift).astype(np.int64) - rank)  # linear probing
        size = max(1 << bits, int(slot[-1]) + 1) + 1
        table_hashes, table_lengths = np.zeros(size, np.uint64), np.zeros(size, np.uint8)
        table_ids = np.zeros(size, np.int32)
        table_hashes[slot] = hashes
        table_lengths[slot] = np.minimum(lengths, 255)[order]
        table_ids[slot] = np.fromiter(vocab.values(), dtype=np.int64, count=len(words))[order]
        return cls(table_hashes, table_lengths, table_ids, shift)

    def lookup(self, cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Id of each word span, 0 when not in the vocabulary."""
        hashes, lengths = _span_hashes(cps, starts, ends), np.minimum(ends - starts, 255)
        out = np.zeros(len(hashes), dtype=np.int64)
        active = np.arange(len(hashes))
        slot = (hashes >> self.shift).astype(np.int64)
        while len(active):  # each round probes the next slot for the words still unresolved
            found = self.hashes[slot]
            hit = (found == hashes) & (self.lengths[slot] == lengths)
            out[active[hit]] = self.ids[slot[hit]]
            more = (found != 0) & (found != hashes)  # another word's slot: keep probing
            active, slot, hashes, lengths = active[more], slot[more] + 1, hashes[more], lengths[more]
        return out


def _word_hashes(words: list[str], lengths: np.ndarray) -> np.ndarray:
    cps = np.frombuffer("".join(words).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.cumsum(lengths)
    return _span_hashes(cps, ends - lengths, ends)
