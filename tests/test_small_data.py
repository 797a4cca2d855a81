"""Training on a small file of one's own: batch sizes that adapt, warnings when a model cannot
have learned, and a validation part even without paragraphs (all without torch)."""

from __future__ import annotations

import pytest

from bowgram.export.nextword_training import split_valid
from bowgram.export.train_config import TrainConfig, fitted, warn_if_undertrained


def test_a_small_data_set_gets_a_smaller_batch_and_says_so():
    with pytest.warns(UserWarning, match="270 training examples: batch size lowered from 512 to 13"):
        assert fitted(TrainConfig(batch_size=512), 270).batch_size == 13
    assert fitted(TrainConfig(batch_size=512), 1_000_000).batch_size == 512


def test_an_undertrained_model_is_reported():
    with pytest.warns(UserWarning, match=r"under-trained \(only 7 optimizer steps, training accuracy 0.678\)"):
        warn_if_undertrained(0.678, 7, "the language identifier")


def test_validation_comes_from_paragraphs_or_else_the_last_tokens():
    paragraphs = [["a", "b", "</s>"]] * 20
    train, valid, how = split_valid(paragraphs)
    assert (len(train), len(valid)) == (18, 2) and "paragraphs" in how
    one_paragraph = [[f"w{i}" for i in range(400)] + ["</s>"]]
    train, valid, how = split_valid(one_paragraph)
    assert len(train[0]) == 361 and len(valid[0]) == 40 and "tokens" in how
    assert train[0] + valid[0] == one_paragraph[0]
    assert split_valid([["too", "short", "</s>"]])[1:] == ([], "none: the text is too short to hold a part out")
