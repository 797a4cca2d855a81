"""Training on a small file of one's own: batch sizes that adapt, warnings when a model cannot
have learned, and a validation part even without paragraphs (all without torch)."""

from __future__ import annotations

import pytest

from bowgram.export.nextword_training import split_valid
from bowgram.export.train_config import TrainConfig, fitted, warn_if_undertrained
from bowgram.runtime.errors import InputError


def test_a_small_data_set_gets_a_smaller_batch_more_epochs_and_says_so():
    """270 examples: batches of 13 (21 steps an epoch), so 72 epochs for 1,500 steps, patience 18
    (a dev set of a dozen rows is noise from one epoch to the next)."""
    with pytest.warns(UserWarning, match="270 training examples: batch size 13 .was 512., up to 72 epochs .was 7."):
        small = fitted(TrainConfig(batch_size=512, epochs=7, patience=2), 270)
    assert (small.batch_size, small.epochs, small.patience) == (13, 72, 18)
    big = TrainConfig(batch_size=512, epochs=7, patience=2)
    assert fitted(big, 1_000_000) == big
    with pytest.warns(UserWarning):  # never fewer epochs than asked for, never more than 200
        assert fitted(TrainConfig(batch_size=512, epochs=300), 270).epochs == 300
        assert fitted(TrainConfig(batch_size=512, epochs=7), 5).epochs == 200  # 5 steps an epoch: 300 capped


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


def test_a_header_line_is_skipped_with_a_warning_not_learnt_as_a_language(tmp_path):
    from bowgram.runtime.corpus import read_labelled

    data = tmp_path / "mine.tsv"
    data.write_text("label\ttext\nen\thello there\nes\thola amigos\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="header line, not data"):
        assert read_labelled(data) == (["en", "es"], ["hello there", "hola amigos"])
    data.write_text("en\thello there\nlabel\ttext\n", encoding="utf-8")  # only the first line can be one
    assert read_labelled(data) == (["en", "label"], ["hello there", "text"])


def test_a_dev_file_of_ones_own_replaces_the_held_out_share(tmp_path):
    from bowgram.export.langid_training import load_data

    data, dev = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    data.write_text("".join(f"{lang}\t{lang} text {i}\n" for i in range(40) for lang in ("en", "es")), encoding="utf-8")
    dev.write_text("en\tkept apart\nes\taparte\n", encoding="utf-8")
    train_labels, _, dev_labels, dev_texts, _ = load_data(str(data), dev=str(dev))
    assert len(train_labels) == 80 and dev_texts == ["kept apart", "aparte"]
    dev.write_text("fr\tune autre langue\n", encoding="utf-8")
    with pytest.raises(InputError, match="labels not in --data: fr"):
        load_data(str(data), dev=str(dev))
