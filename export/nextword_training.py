"""Training the next-word model: tokens and vocab from the runtime's tokenizer, then fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click
import numpy as np

from bowgram.runtime.corpus import read_text
from bowgram.runtime.errors import InputError
from bowgram.runtime.tasks.nextword import metrics_of, tune_cache
from bowgram.runtime.tokenizer import BOS_ID, UNK_ID, Tokenizer, TokenizerSpec, Vocab, windows

from . import tutorial
from .reproduce import Reproduction
from .train_config import TrainConfig, fitted, no_grad, recorded, warn_if_undertrained
from .training import Quality, Source, TaskTraining, Trained, default_data

if TYPE_CHECKING:
    import torch

    from .trainer import Batches

TOP_K = 16  # best words the exported graph returns beside the full log-probs (ONNX TopK)
SHAKESPEARE = Source(
    "Tiny Shakespeare (train.txt)",
    0,
    "public domain text; repository MIT",
    "karpathy/char-rnn commit 6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e, data/tinyshakespeare/input.txt",
)


@dataclass(frozen=True)
class NextwordConfig:
    context: int = 3
    dim: int = 64
    hidden: int = 512
    dropout: float = 0.15
    tie: bool = True
    min_count: int = 2
    casefold: bool = True
    context_dropout: float = 0.1  # chance that a training context word is replaced by <unk>
    # models trained from different seeds whose probabilities are averaged; measured on
    # valid.txt (averaged weights, 20 epochs): one softmax over the vocabulary, single models
    # 115.3-121.4 perplexity, two 110.5-112.9, three 109.0; class-factored (class_size 80),
    # single models 115.5 / 117.6 / 116.1, two 109.1 (benchmarks/results/factored_nextword.md),
    # three 107.2 (0.87x Kneser-Ney); at most 18 epochs: their best epochs were 18, 17 and 17 of 20
    members: int = 3
    # words per output class (`FactoredLM`: runs of consecutive, frequency-ranked ids); 0: one
    # softmax over the whole vocabulary
    class_size: int = 80
    cache: bool = True  # tune a writer's cache (`CacheSpec`) on the validation text and ship it
    fp16: bool = True  # store the weights as float16 in the shipped files: half the size
    # lr 3e-3 with an average of the weights (decay 0.999) beat lr 1e-3, one-cycle schedules and
    # plain lr halving (measured: 115.3 vs 118.7 valid perplexity for the same seed)
    # (an annealed lr, lr 5e-3, batch 256, dim 48 or 128, more dropout: all worse at equal epochs)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=18, batch_size=512, lr=3e-3, patience=3, lr_decay=0.5, average=0.999)
    )


TUTORIAL = NextwordConfig(
    context=2,
    dim=10,
    hidden=128,
    dropout=0.0,
    tie=False,
    min_count=1,
    casefold=False,
    context_dropout=0.0,
    members=1,
    class_size=0,
    fp16=False,
    train=TrainConfig(epochs=10, batch_size=8, lr=1e-3, patience=10),
)


def load_text(data: str) -> tuple[str, str | None]:
    """(train text, valid text or None) for tutorial, default or a file."""
    if data == "tutorial":
        return tutorial.SONNET_2, None
    if data == "default":
        return read_text(default_data("lm", "train.txt")), read_text(default_data("lm", "valid.txt"))
    return read_text(data), None


def split_valid(sequences: list[list[str]]) -> tuple[list[list[str]], list[list[str]], str]:
    """A validation part when no valid text was given: the last 10% of the paragraphs; with fewer
    than 10 paragraphs, the last 10% of the tokens; with under 100 tokens, none. Returns
    (train, valid, how the validation part was chosen)."""
    if len(sequences) >= 10:
        cut = len(sequences) - len(sequences) // 10
        return sequences[:cut], sequences[cut:], "the last 10% of the paragraphs of the training file"
    tokens = [t for seq in sequences for t in seq]
    if len(tokens) < 100:
        return sequences, [], "none: the text is too short to hold a part out"
    cut = len(tokens) - len(tokens) // 10
    return (
        [tokens[:cut]],
        [tokens[cut:]],
        "the last 10% of the tokens of the training file (it has fewer than 10 paragraphs)",
    )


def train(data: str, config: NextwordConfig) -> Trained:
    """Train on `data`; returns what the exporter needs."""
    import torch

    from .models import Ensemble, FactoredLM, NgramLM, WithTopK
    from .trainer import fit, resolve_device, seed_everything

    seed_everything(config.train.seed)
    device = resolve_device(config.train.device)
    spec = TokenizerSpec(casefold=config.casefold)
    tokenizer = Tokenizer(spec)
    train_text, valid_text = load_text(data)
    sequences = tokenizer.sequences(train_text)
    valid_seqs = tokenizer.sequences(valid_text) if valid_text is not None else None
    validation = "the default validation text (export/data/lm/valid.txt)"
    if valid_seqs is None and data == "tutorial":  # as PyTorch's tutorial: the whole sonnet is training data
        valid_seqs, validation = [], "none: the tutorial trains on its whole sonnet"
    elif valid_seqs is None:
        sequences, valid_seqs, validation = split_valid(sequences)
    vocab = Vocab.build(sequences, config.min_count)
    x, y = windows(sequences, vocab, config.context)
    if len(y) < config.context + 1 or len(vocab) <= 3:
        raise InputError(
            f"{data}: too little text to train a context-{config.context} model "
            f"({len(y)} tokens, {len(vocab) - 3} words)"
        )
    vx, vy = windows(valid_seqs, vocab, config.context)
    x_t, y_t = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    vx_t, vy_t = torch.from_numpy(vx).to(device), torch.from_numpy(vy).to(device)

    def score(m: torch.nn.Module) -> dict[str, float]:
        if len(vy) == 0:  # no validation text: follow the training loss
            return {"score": float(loss_of(m, x_t, y_t))}
        ppl = float(np.exp(loss_of(m, vx_t, vy_t)))
        return {"valid_perplexity": ppl, "score": ppl}

    if data != "tutorial":  # the tutorial keeps its own settings
        config = dataclasses.replace(config, train=fitted(config.train, len(y)))
    starts = list(range(0, len(vocab), config.class_size)) if config.class_size else []
    members, history, bests = [], [], []
    for member in range(config.members):
        seed = config.train.seed + member
        seed_everything(seed)
        model = (
            FactoredLM(len(vocab), config.context, config.dim, config.hidden, config.dropout, config.class_size)
            if starts
            else NgramLM(len(vocab), config.context, config.dim, config.hidden, config.dropout, config.tie)
        ).to(device)
        batches = _batches(x_t, y_t, config, seed)
        name = f"model {member + 1}/{config.members} " if config.members > 1 else ""
        model, member_history, best = fit(
            model,
            batches,
            -(-len(y) // config.train.batch_size),
            score,
            dataclasses.replace(config.train, seed=seed),
            higher_is_better=False,
            name=name,
        )
        members.append(model)
        history += [{"model": member + 1, **h} for h in member_history] if config.members > 1 else member_history
        steps = len(member_history) * -(-len(y) // config.train.batch_size)
        if data != "tutorial":
            warn_if_undertrained(None, steps, f"next-word {name or 'model'}".strip())
        bests.append(best)
    model = Ensemble(members) if len(members) > 1 else members[0]
    best = bests[0] if len(members) == 1 else {"models": bests, **score(model.eval())}
    top_k = min(TOP_K, len(vocab))
    evaluation_text = valid_seqs or sequences
    cache, cache_perplexity = (
        (None, None) if not (config.cache and len(vy)) else tune_cache(_target_probs(model, vx_t, vy_t), vy)
    )
    return Trained(
        task="nextword",
        model=WithTopK(model, top_k),
        featurizer=spec.to_dict(),
        data_files={"vocab.json": ("vocab", vocab.token_to_id)},
        sizes={"context": config.context, "vocab": len(vocab), "top_k": top_k},
        fp16="matrices" if config.fp16 else None,
        model_info={
            "architecture": "factored-ngram-lm" if starts else "ngram-lm",
            **({"classes": starts} if starts else {}),
            "dim": config.dim,
            "hidden": config.hidden,
            "dropout": config.dropout,
            "tie": config.tie,
            "members": config.members,
            "weights_dtype": "float16" if config.fp16 else "float32",
            **({"cache": dataclasses.asdict(cache)} if cache else {}),
            "training": recorded(config),
            "training_data": [
                dataclasses.replace(SHAKESPEARE if data == "default" else Source.given(data, 0), rows=len(y)).as_dict()
            ],  # rows: training tokens
        },
        metrics={
            "history": history,
            "best": best,
            "train_tokens": len(y),
            "valid_tokens": len(vy),
            "validation": validation,
            "device": str(device),
            "valid_oov_rate": float((vy == UNK_ID).mean()) if len(vy) else None,
            "cache": f"tuned on the validation text (its perplexity with the cache: {cache_perplexity:.2f})"
            if cache
            else "none",
        },
        evaluate=lambda p: metrics_of(p, evaluation_text),
        quality=Quality(
            "valid perplexity",
            lambda p: metrics_of(p, evaluation_text)["perplexity"],
            lambda fp32, int8: int8 <= fp32 * 1.02,
            "int8 perplexity at most 2% above fp32",
        ),
        example_texts=[
            "when forty winters shall",
            "to be or not to",
            "thy beauty's",
            "",
            "and",
            "my lord , i",
            "what say you ?",
        ],
    )


def _batches(x: torch.Tensor, y: torch.Tensor, config: NextwordConfig, seed: int) -> Batches:
    """Shuffled mini-batches for one model; context words randomly replaced by <unk>."""
    import torch

    batch_size = config.train.batch_size

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        order = torch.from_numpy(np.random.default_rng(seed * 1000 + epoch).permutation(len(y))).to(x.device)
        for start in range(0, len(y), batch_size):
            rows = order[start : start + batch_size]
            inputs = x[rows]
            if config.context_dropout:  # teaches the model to back off, as Kneser-Ney does
                drop = torch.rand(inputs.shape, device=x.device) < config.context_dropout
                inputs = inputs.masked_fill(drop & (inputs != BOS_ID), UNK_ID)
            yield inputs, y[rows], None

    return batches


@no_grad
def _target_probs(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> np.ndarray:
    """The model's probability of each target (what `tune_cache` mixes a cache into)."""
    import torch

    model.eval()
    with torch.no_grad():
        parts = [model(x[s : s + batch]).gather(1, y[s : s + batch, None])[:, 0] for s in range(0, len(y), batch)]
    return np.exp(torch.cat(parts).double().cpu().numpy())


def loss_of(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> float:
    import torch

    total = 0.0
    for start in range(0, len(y), batch):
        rows, targets = x[start : start + batch], y[start : start + batch]
        if hasattr(model, "losses"):  # a factored model scores only each target's class
            total += model.losses(rows, targets).sum().item()
        else:
            total += torch.nn.functional.nll_loss(model(rows), targets, reduction="sum").item()
    return total / max(len(y), 1)


TRAINING = TaskTraining(
    task="nextword",
    default=NextwordConfig(),
    tutorial=TUTORIAL,
    train=train,
    # measured: benchmarks/results/reproducibility.md (a rebuild on another CPU, and with 1 and 2 threads)
    reproduction=Reproduction(
        data=lambda: default_data("lm", "valid.txt"),
        texts=lambda path: [line for line in read_text(path).splitlines() if line.strip()],
        # a two-member average trained 16-17 epochs: on another CPU the members diverge into another
        # sample of the same recipe (measured: perplexity 0.52% apart, 94.1% same top word), not a copy
        metrics={"perplexity": 0.015, "top1": 0.02, "top5": 0.02},
        agreement=0.90,
    ),
    help="Train the next-word model.\n\nExample: bowgram train nextword --data default --out my-lm",
    options=[
        click.option("--context", type=click.IntRange(min=1), help="Words of context (tutorial: 2)."),
        click.option("--dim", type=click.IntRange(min=1), help="Embedding size."),
        click.option("--hidden", type=click.IntRange(min=1), help="Hidden layer size."),
        click.option(
            "--models",
            "members",
            type=click.IntRange(min=1),
            help="Models trained from different seeds and averaged (default 3; 1 is fastest).",
        ),
        click.option(
            "--class-size",
            type=click.IntRange(min=0),
            help="Words per output class (a class-factored model: exact top-k without scoring every "
            "word); 0: one softmax over the vocabulary (default 80; tutorial: 0).",
        ),
    ],
)
