"""Training the language identifier: data, short-span augmentation, the featurizer's vocab, fit;
and its report plots (per-language F1, most-confused languages).

Features come from the runtime's `Featurizer`: the ids the model learns from are the ids it
will be served.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from bowgram.runtime.corpus import read_labelled, short_spans
from bowgram.runtime.errors import InputError
from bowgram.runtime.featurizer import Featurizer, FeaturizerSpec
from bowgram.runtime.languages import none_class
from bowgram.runtime.padding import bags, pad
from bowgram.runtime.tasks.langid import metrics_of

from . import tutorial
from .known_letters import known_letters
from .langid_data import (
    corpus_source,
    corpus_words,
    enciphered_rows,
    flores_rows,
    language_table,
    other_rows,
    udhr_rows,
    v3_rows,
    wordfreq_words,
)
from .reproduce import Reproduction
from .train_config import TrainConfig, fitted, no_grad, recorded, warn_if_undertrained
from .training import Quality, Source, TaskTraining, Trained, default_data

if TYPE_CHECKING:
    import torch

    from .models import BowClassifier


@dataclass(frozen=True)
class LangidConfig:
    # with training data v2 (benchmarks/results/langid_data.md, dev sentences / spans / single words):
    # dim 32 × 2^15 .9748/.8469/.7159, dim 48 × 2^15 .9747/.8488/.7142, dim 32 × 2^16 .9747/.8523/.7241,
    # dim 48 × 2^16 .9748/.8518/.7228: buckets pay a little on short input, width does not (2^16 buckets
    # measured 0.978x the throughput of 2^15 at batch 1024 then); 2^17 would take the bundle past 25 MB
    dim: int = 32
    hidden: int = 0  # 0: linear model (fastText style); >0 adds a ReLU layer
    # with data v3 (196 labels; benchmarks/results/langid_v3.md, FLORES-200 dev spans / single words): 2^16
    # buckets .7479/.6035 vs 2^15 .7418/.5948, sentences equal; the bundle 22.4 MB with every format
    buckets: int = 2**16
    min_n: int = 1
    max_n: int = 4
    min_count: int = 3  # words seen fewer times get no word feature (n-grams still cover them)
    max_words: int = 30000
    # random short spans (1-3 words) added per training sentence; 2 instead of 1 measured
    # .971/.827 vs .968/.809 on dev full/spans, for 1.6x the training time
    spans: int = 2
    corpus_words: int = 5000  # per language: its most frequent words of the training text, one per row
    wordfreq_words: int = 5000  # --data default: per language wordfreq covers, its top words, one per row
    udhr: bool = True  # --data default: add the UDHR translations
    other_languages: bool = True  # --data default: UDHR text in languages no label covers, labelled und
    # --data default: made-up languages labelled und: per label, `enciphered` of its sentences for each share in
    # `cipher_shares`, with that share of its letters swapped (1: far from every language; 1/3: a near neighbour).
    # Left-out languages (benchmarks/langid_v3.py) und or p < 0.5 on FLORES: 38.5% without, 41.7% with (1,),
    # 55.4% with (1, 1/3)
    enciphered: int = 100
    cipher_shares: tuple[float, ...] = (1.0, 1 / 3)
    class_weight_power: float = 0.5  # rows of a class weigh (largest class / its size) ** this: 0 none, 1 balanced
    calibrate: bool = True  # fit a softmax temperature on the tuning half of dev (sentences + spans), folded in
    drop_format: bool = True  # format characters (zero-width space, soft hyphen, ...) join letters, not split words
    known_scripts: bool = True  # letters of scripts the training text lacks are boundaries (`known_letters.py`)
    # --data default: choose the epoch on FLORES-200 dev (out of domain, every 5th row: sentences and 1-3 word
    # spans), as candidates are chosen, not on in-domain dev alone (it picked epoch 7 of 7 before; FLORES and
    # the even half of dev now both pick 6)
    stop_on_flores: bool = True
    fp16_embeddings: bool = True  # ship the embedding table as float16: half the size, same answers
    v3: bool = True  # --data default: add data v3's extra rows (97 more languages, more text for small ones)
    dev: str | None = None  # --data FILE: a labelled file to stop early and calibrate on, instead of 5% of FILE
    # labels left out of training and dev: v3 languages below the quality bar (FLORES-200 dev F1 under 0.8, or
    # costing an old language more than 0.05 F1; benchmarks/results/langid_v3.md): the 201-language model
    # called FLORES hr bs (678 of 997), nso tn (930), rn rw (819), taq kab (313) and arz ar; their text now
    # gets the closest language's label. The unknown-language protocol leaves out 10 more.
    exclude: tuple[str, ...] = ("arz", "bs", "nso", "rn", "taq")  # --data default only
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=7, batch_size=512, lr=3e-3, patience=2))


TUTORIAL = LangidConfig(
    dim=8,
    buckets=0,
    min_n=0,
    max_n=0,
    min_count=1,
    spans=0,
    corpus_words=0,
    calibrate=False,
    fp16_embeddings=False,
    train=TrainConfig(epochs=60, batch_size=4, lr=0.05, patience=60),
)


def load_data(data: str, seed: int = 0, v3: bool = False, exclude: tuple[str, ...] = (), dev: str | None = None):
    """(train_labels, train_texts, dev_labels, dev_texts, sources of train) for tutorial, default or
    a file; with the default data, `exclude`d labels are left out of all four."""
    train_labels, train_texts, dev_labels, dev_texts, sources = _read_data(data, seed, v3, dev, exclude)
    if exclude and data == "default":  # the default corpus's labels; a file of one's own keeps all of its own
        train_labels, train_texts = _without(exclude, train_labels, train_texts)
        dev_labels, dev_texts = _without(exclude, dev_labels, dev_texts)
    return train_labels, train_texts, dev_labels, dev_texts, sources


def _without(exclude: tuple[str, ...], labels: list[str], texts: list[str]) -> tuple[list[str], list[str]]:
    kept = [(label, text) for label, text in zip(labels, texts) if label not in exclude]
    return [label for label, _ in kept], [text for _, text in kept]


def _read_data(data: str, seed: int, v3: bool, dev_file: str | None = None, exclude: tuple[str, ...] = ()):
    if data == "tutorial":
        (tl, tt), (dl, dt) = zip(*tutorial.LANGID_TRAIN), zip(*tutorial.LANGID_TEST)
        return list(tl), list(tt), list(dl), list(dt), [Source.given(data, len(tl))]
    if data == "default":
        train_labels, train_texts = read_labelled(default_data("langid", "train.tsv.gz"))
        dev_labels, dev_texts = read_labelled(default_data("langid", "dev.tsv.gz"))
        sources = [corpus_source(len(train_texts))]
        if v3:
            extra_labels, extra_texts, source = v3_rows("train", exclude)  # the source counts what is kept
            dev_extra_labels, dev_extra_texts, _ = v3_rows("dev", exclude)
            train_labels, train_texts = train_labels + extra_labels, train_texts + extra_texts
            dev_labels, dev_texts = dev_labels + dev_extra_labels, dev_texts + dev_extra_texts
            sources.append(source)
        return train_labels, train_texts, dev_labels, dev_texts, sources
    labels, texts = read_labelled(data)
    if len(labels) < 2 or len(set(labels)) < 2:
        raise InputError(f"{data}: need at least two labelled lines and two different labels to train")
    if dev_file is not None:  # the caller's own held-out file: all of --data trains
        dev_labels, dev_texts = read_labelled(dev_file)
        unknown = sorted(set(dev_labels) - set(labels))
        if unknown:
            raise InputError(f"--dev {dev_file}: labels not in --data: {', '.join(unknown[:10])}")
        return labels, texts, dev_labels, dev_texts, [Source.given(data, len(labels))]
    order = np.random.default_rng(seed).permutation(len(labels))
    n_dev = max(1, len(labels) // 20)  # 5% held out for early stopping
    dev, train = order[:n_dev], order[n_dev:]
    train_labels, train_texts = [labels[i] for i in train], [texts[i] for i in train]
    return (
        train_labels,
        train_texts,
        [labels[i] for i in dev],
        [texts[i] for i in dev],
        [Source.given(data, len(train))],
    )


def build_vocab(featurizer_spec: FeaturizerSpec, texts: list[str], min_count: int, max_words: int) -> dict[str, int]:
    counts: Counter = Counter()
    probe = Featurizer(featurizer_spec, {})
    for start in range(0, len(texts), 8192):
        for words in probe.words(texts[start : start + 8192]):
            counts.update(words)
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))[:max_words]
    return {w: i + 1 for i, w in enumerate(ranked)}


def train(data: str, config: LangidConfig) -> Trained:
    """Train on `data`; returns what the exporter needs."""
    import torch

    from .models import BowClassifier
    from .trainer import fit, resolve_device, seed_everything

    seed_everything(config.train.seed)
    device = resolve_device(config.train.device)
    if config.dev is not None and data in ("tutorial", "default"):
        raise InputError("--dev goes with --data FILE (the tutorial and default data bring their own dev sets)")
    train_labels, train_texts, dev_labels, dev_texts, sources = load_data(
        data, config.train.seed, config.v3, config.exclude, config.dev
    )
    spec = FeaturizerSpec(
        word_features=config.min_count > 0,
        min_n=config.min_n if config.max_n else 0,
        max_n=config.max_n,
        buckets=config.buckets if config.max_n else 0,
        drop_format=config.drop_format,
    )
    if config.known_scripts:
        spec = dataclasses.replace(spec, known_letters=known_letters(train_texts, spec))
    on_flores = data == "default" and config.v3 and config.stop_on_flores
    (tune_labels, tune_texts), (held_labels, held_texts), validation = split_dev(dev_labels, dev_texts, on_flores)
    stop_labels, stop_texts, stop_name = tune_labels, tune_texts, "dev"
    if on_flores:
        stop_labels, stop_texts = flores_rows(set(train_labels), every=5)
        stop_name = "flores"
    vocab = build_vocab(spec, train_texts, config.min_count, config.max_words) if spec.word_features else {}
    featurizer = Featurizer(spec, vocab)
    train_labels, train_texts, sources = _with_extra_rows(data, config, spec, train_labels, train_texts, sources)
    names = sorted(set(train_labels))
    index = {label: i for i, label in enumerate(names)}
    y = np.array([index[label] for label in train_labels])
    x = featurizer(train_texts)
    keep = np.flatnonzero(x.lengths() > 0)
    counts = np.bincount(y, minlength=len(names))
    balance = (counts.max() / np.maximum(counts, 1)) ** config.class_weight_power
    class_weight = torch.tensor(balance, dtype=torch.float32, device=device)
    tune_short = short_spans(tune_labels, tune_texts, config.train.seed + 1)
    stop_short = short_spans(stop_labels, stop_texts, config.train.seed + 1)
    model = BowClassifier(featurizer.num_ids, len(names), config.dim, config.hidden).to(device)
    if data != "tutorial":  # the tutorial keeps its own settings
        config = dataclasses.replace(config, train=fitted(config.train, len(keep)))
    batch_size = config.train.batch_size

    def batches(epoch: int):
        rng = np.random.default_rng(config.train.seed * 1000 + epoch)
        order = keep[rng.permutation(len(keep))]
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            targets = torch.from_numpy(y[rows]).to(device)
            ids, offsets = bags(x, rows)
            yield (
                (torch.from_numpy(ids).to(device), torch.from_numpy(offsets).to(device)),
                targets,
                class_weight[targets],
            )

    def score(m):
        full = accuracy(m, featurizer, index, stop_labels, stop_texts, device)
        short = accuracy(m, featurizer, index, *stop_short, device)
        return {f"{stop_name}_accuracy": full, f"{stop_name}_short_accuracy": short, "score": (full + short) / 2}

    model, history, best = fit(model, batches, -(-len(keep) // batch_size), score, config.train)
    sample = keep[:5000]
    trained_on = accuracy(
        model, featurizer, index, [train_labels[i] for i in sample], [train_texts[i] for i in sample], device
    )
    if data != "tutorial":
        warn_if_undertrained(trained_on, len(history) * -(-len(keep) // batch_size), "the language identifier")
    calibration = (
        _calibrate(model, featurizer, index, tune_labels, tune_texts, tune_short, device)
        if config.calibrate
        else {"temperature": 1.0}
    )
    languages = language_table(names)
    return Trained(
        task="langid",
        model=model,
        featurizer=spec.to_dict(),
        sizes={"labels": len(names)},
        data_files={
            "vocab.json": ("vocab", vocab),
            "labels.json": ("labels", names),
            **({"languages.json": ("languages", languages)} if languages else {}),
        },
        facts={"labels": names},
        fp16="embedding" if config.fp16_embeddings else None,
        model_info={
            "architecture": "bow-classifier",
            "num_ids": featurizer.num_ids,
            "dim": config.dim,
            "hidden": config.hidden,
            "embedding_dtype": "float16" if config.fp16_embeddings else "float32",
            "temperature": calibration["temperature"],
            "training_data": [s.as_dict() for s in sources],
            "training": recorded(dataclasses.replace(config, dev=config.dev and Path(config.dev).name)),
        },
        metrics={
            "history": history,
            "best": best,
            "train_rows": len(keep),
            "device": str(device),
            "calibration": calibration,
            "validation": validation,
        },
        example_texts=_example_texts(held_labels, held_texts) + tutorial_examples(),
        evaluate=lambda p: metrics_of(p, held_labels, held_texts, confusions=1000),
        quality=Quality(
            "held-out dev accuracy",
            lambda p: metrics_of(p, held_labels, held_texts)["accuracy"],
            lambda fp32, int8: int8 >= fp32 - 0.003,
            "int8 accuracy at most 0.3 points below fp32",
        ),
    )


def _with_extra_rows(
    data: str, config: LangidConfig, spec: FeaturizerSpec, labels: list[str], texts: list[str], sources: list[Source]
) -> tuple[list[str], list[str], list[Source]]:
    """The sentences plus short spans and word rows (see `langid_data`), and their sources."""
    out_labels, out_texts, sources = list(labels), list(texts), list(sources)
    sentence_licence = "; ".join(dict.fromkeys(source.licence for source in sources))  # spans and words inherit

    def add(new_labels: list[str], new_texts: list[str], source: Source) -> None:
        out_labels.extend(new_labels)
        out_texts.extend(new_texts)
        sources.append(source)

    if config.spans:
        span_labels, span_texts = short_spans(labels, texts, config.train.seed, config.spans)
        add(
            span_labels,
            span_texts,
            Source(
                f"{config.spans} random 1-3 word spans of each sentence",
                len(span_texts),
                sentence_licence,
                "cut from the sentences",
            ),
        )
    if config.corpus_words:
        word_labels, words = corpus_words(spec, labels, texts, config.corpus_words)
        add(
            word_labels,
            words,
            Source(
                f"top {config.corpus_words} words of each language's sentences",
                len(words),
                sentence_licence,
                "counted in the sentences",
            ),
        )
    if data == "default" and config.wordfreq_words:
        add(*wordfreq_words(set(labels), config.wordfreq_words))
    if data == "default" and config.udhr:
        udhr_labels, udhr_texts, source = udhr_rows()
        udhr_labels, udhr_texts = _without(config.exclude, udhr_labels, udhr_texts)
        add(udhr_labels, udhr_texts, dataclasses.replace(source, rows=len(udhr_texts)))
    if data == "default" and config.other_languages:
        add(*other_rows(config.exclude))
    if data == "default" and config.enciphered:
        for i, share in enumerate(config.cipher_shares):
            seed = config.train.seed + i
            cipher_labels, cipher_texts = enciphered_rows(labels, texts, config.enciphered, seed, share)
            add(
                cipher_labels,
                cipher_texts,
                Source(
                    f"{config.enciphered} sentences of each language with {share:.0%} of its letters swapped, as und",
                    len(cipher_texts),
                    sentence_licence,
                    "made from the sentences",
                ),
            )
    return out_labels, out_texts, sources


@no_grad
def _calibrate(
    model: BowClassifier,
    featurizer: Featurizer,
    index: dict[str, int],
    dev_labels: list[str],
    dev_texts: list[str],
    dev_short: tuple[list[str], list[str]],
    device: torch.device,
) -> dict[str, float]:
    """Temperature scaling: the T that minimizes the negative log-likelihood of the tuning rows of
    dev, sentences and spans (`split_dev`: the held-out half stays for measuring), folded into the
    output layer: log_softmax(z / T) = log_softmax((W / T) x + b / T)."""
    import torch
    import torch.nn.functional as F

    labels, texts = dev_labels + dev_short[0], dev_texts + dev_short[1]
    x = featurizer(texts)
    rows = np.flatnonzero((x.lengths() > 0) & np.array([label in index for label in labels]))
    if len(rows) < 100:  # too little to fit one number reliably
        return {"temperature": 1.0}
    gold = torch.tensor([index[labels[i]] for i in rows], device=device)
    log_probs = torch.cat(
        [model(torch.from_numpy(pad(x, rows[s : s + 2048])).to(device)) for s in range(0, len(rows), 2048)]
    )
    grid = torch.exp(torch.linspace(np.log(0.25), np.log(4.0), 97))
    nll = [float(F.nll_loss(F.log_softmax(log_probs / t, dim=-1), gold)) for t in grid]
    best = int(np.argmin(nll))
    temperature = float(grid[best])
    model.output.weight /= temperature
    model.output.bias /= temperature
    return {
        "temperature": temperature,
        "nll_before": nll[int(torch.argmin(torch.abs(grid - 1.0)))],
        "nll_after": nll[best],
    }


HELD_OUT_MIN_ROWS = 1000  # a dev set this big is halved: one half tunes, the other measures


def split_dev(labels: list[str], texts: list[str], on_flores: bool = False):
    """(tuning rows, held-out rows, how they were chosen). The tuning rows choose the epoch (unless
    FLORES-200 dev does, `on_flores`) and fit the temperature; the held-out rows are what the
    report and the int8 check measure, so those figures are not flattered by the choices they
    would judge. Alternate rows, so every language is in both halves. A smaller dev set is not
    halved (each half would be too noisy to stop on): it does both, and the report says its
    figures are optimistic."""
    if len(labels) < HELD_OUT_MIN_ROWS:
        return (
            (labels, texts),
            (labels, texts),
            f"all {len(labels):,} dev rows chose the epoch and fitted the temperature, and are what the "
            "figures below measure (too few to halve: the figures are optimistic)",
        )
    tuned = (
        "neither the epoch's choice (FLORES-200 dev) nor calibration saw; the even rows fitted the temperature"
        if on_flores
        else "neither early stopping nor calibration saw; the even rows chose the epoch and fitted the temperature"
    )
    return (
        (labels[::2], texts[::2]),
        (labels[1::2], texts[1::2]),
        f"the odd dev rows ({len(labels) // 2:,} of {len(labels):,}), which {tuned}",
    )


def tutorial_examples() -> list[str]:
    return [t for _, t in tutorial.LANGID_TEST] + ["Das ist gut", "naïve café ÉCOLE", "नमस्ते दुनिया", "你好，世界"]


def _example_texts(labels: list[str], texts: list[str], n: int = 12) -> list[str]:
    seen, out = set(), []
    for label, text in zip(labels, texts):
        if label not in seen:
            seen.add(label)
            out.append(text)
        if len(out) == n:
            break
    return out


@no_grad
def accuracy(
    model: torch.nn.Module,
    featurizer: Featurizer,
    index: dict[str, int],
    labels: list[str],
    texts: list[str],
    device: torch.device,
    batch: int = 2048,
) -> float:
    import torch

    if not texts:
        return 0.0
    x = featurizer(texts)
    gold = np.array([index.get(label, -1) for label in labels])
    none = none_class(list(index))  # never an answer: the served answer is the best language
    correct = 0
    for start in range(0, len(texts), batch):
        rows = np.arange(start, min(start + batch, len(texts)))
        log_probs = model(torch.from_numpy(pad(x, rows)).to(device))
        if none is not None:
            log_probs[:, none] = -torch.inf
        pred = log_probs.argmax(dim=1).cpu().numpy()
        empty = x.lengths()[rows] == 0
        correct += int(((pred == gold[rows]) & ~empty).sum())
    return correct / len(texts)


def plots(folder: Path, dev: dict[str, Any], plt: Any) -> list[str]:
    """The report's language-ID plots: per-language F1, and the most-confused languages."""
    return [_f1(folder, dev, plt)] + ([_confusions(folder, dev, plt)] if dev["confusions"] else [])


def _f1(folder: Path, dev: dict[str, Any], plt: Any) -> str:
    rows = sorted(dev["per_label"].items(), key=lambda kv: kv[1]["f1"])
    fig, ax = plt.subplots(figsize=(7, max(4, len(rows) * 0.16)), dpi=100)
    ax.barh([label for label, _ in rows], [r["f1"] for _, r in rows], color="tab:blue")
    ax.set_xlabel("F1 on the dev set")
    ax.set_xlim(min(0.5, min(r["f1"] for _, r in rows)), 1.0)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title("Per-language F1 (dev), worst at the bottom")
    ax.margins(y=0.005)
    fig.tight_layout()
    fig.savefig(folder / "per_language_f1.png")
    plt.close(fig)
    return "per_language_f1.png"


def _confusions(folder: Path, dev: dict[str, Any], plt: Any, size: int = 12) -> str:
    langs: list[str] = []
    for c in dev["confusions"]:
        for lang in (c["gold"], c["predicted"]):
            if lang not in langs and len(langs) < size:
                langs.append(lang)
    index = {lang: i for i, lang in enumerate(langs)}
    matrix = np.zeros((len(langs), len(langs)), dtype=int)
    for c in dev["confusions"]:
        if c["gold"] in index and c["predicted"] in index:
            matrix[index[c["gold"]], index[c["predicted"]]] += c["count"]
    fig, ax = plt.subplots(figsize=(6.5, 5.5), dpi=100)
    image = ax.imshow(matrix, cmap="Reds")
    ax.set_xticks(range(len(langs)), langs, rotation=45)
    ax.set_yticks(range(len(langs)), langs)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(
                j, i, str(v), ha="center", va="center", fontsize=8, color="white" if v > matrix.max() / 2 else "black"
            )
    fig.colorbar(image, ax=ax, label="dev sentences (errors only)")
    ax.set_title("Most-confused languages (dev errors)")
    fig.tight_layout()
    fig.savefig(folder / "confusions.png")
    plt.close(fig)
    return "confusions.png"


TRAINING = TaskTraining(
    task="langid",
    default=LangidConfig(),
    tutorial=TUTORIAL,
    train=train,
    plots=plots,
    # measured: benchmarks/results/reproducibility.md (a rebuild on another CPU, and with 1 and 2 threads)
    reproduction=Reproduction(
        data=lambda: default_data("langid", "dev.tsv.gz"),
        texts=lambda path: read_labelled(path)[1],
        metrics={"accuracy": 0.002, "macro_f1": 0.002, "short_spans.accuracy": 0.005, "single_words.accuracy": 0.01},
        agreement=0.99,
    ),
    help="Train the language identifier.\n\nExample: bowgram train langid --data tutorial --out /tmp/lid",
    options=[
        click.option("--dim", type=click.IntRange(min=1), help="Embedding size."),
        click.option("--buckets", type=click.IntRange(min=1, max=2**24), help="Hash buckets for character n-grams."),
        click.option("--max-n", type=click.IntRange(min=0), help="Longest character n-gram (0 turns them off)."),
        click.option(
            "--dev",
            type=click.Path(exists=True, dir_okay=False),
            help="With --data FILE: a labelled file to stop early and calibrate on (default: 5% of FILE).",
        ),
        click.option(
            "--v3/--no-v3",
            default=None,
            help="--data default: add data v3's extra rows (201 languages; export/data/README.md).",
        ),
    ],
)
