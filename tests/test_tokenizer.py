"""The next-word tokenizer: golden cases, contexts, windows, detokenization."""

from __future__ import annotations

import pytest

from bowgram.runtime.tokenizer import Tokenizer, TokenizerSpec, Vocab, context_ids, detokenize, windows

TOK = Tokenizer(TokenizerSpec())


@pytest.mark.parametrize(
    "text, tokens",
    [
        (
            "How much more praise deserv'd thy beauty's use,",
            ["how", "much", "more", "praise", "deserv'd", "thy", "beauty's", "use", ","],
        ),
        ("Thy youth\u2019s proud livery", ["thy", "youth's", "proud", "livery"]),
        ("'This fair child of mine", ["'", "this", "fair", "child", "of", "mine"]),
        ("GREMIO: Good morrow!", ["gremio", ":", "good", "morrow", "!"]),
        ("all-eating", ["all", "-", "eating"]),
        ("", []),
    ],
    ids=["apostrophes", "unicode-quote", "leading-quote", "speaker", "hyphen", "empty"],
)
def test_tokens(text, tokens):
    assert TOK.tokens(text) == tokens


def test_case_is_kept_when_casefold_is_off():
    assert Tokenizer(TokenizerSpec(casefold=False)).tokens("When forty") == ["When", "forty"]


def test_paragraphs_end_with_eos():
    assert TOK.sequences("A b.\nc\n\n\nD") == [["a", "b", ".", "c", "</s>"], ["d", "</s>"]]


def test_short_and_unknown_contexts_are_padded_and_mapped():
    vocab = Vocab.build([["a", "b", "a"]])
    assert vocab.words[:3] == ["<s>", "</s>", "<unk>"]
    rows = context_ids([[], ["b"], ["zzz", "a", "b"]], vocab, 2)
    a, b = vocab.token_to_id["a"], vocab.token_to_id["b"]
    assert rows.tolist() == [[0, 0], [0, b], [a, b]]
    assert context_ids([["never-seen"]], vocab, 2).tolist() == [[0, 2]]


def test_windows_cover_every_token_with_left_padding():
    vocab = Vocab.build([["a", "b"]])
    x, y = windows([["a", "b", "</s>"]], vocab, 2)
    a, b = vocab.token_to_id["a"], vocab.token_to_id["b"]
    assert x.tolist() == [[0, 0], [0, a], [a, b]] and y.tolist() == [a, b, 1]


def test_detokenize_puts_no_space_before_punctuation():
    assert detokenize(["when", "forty", ",", "thy", "brow", "!", "(", "so", ")"]) == "when forty, thy brow! (so)"
