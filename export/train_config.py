"""How a model is trained (epochs, batch size, learning rate, ...): a plain dataclass, importable
without torch, so the CLI can list options and defaults before torch is loaded."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 2  # epochs without dev improvement before stopping
    lr_decay: float = 1.0  # multiply the learning rate by this after an epoch without improvement
    # > 0: score and keep an exponential moving average of the weights, updated every step with
    # this decay (smooths the noise of a high learning rate; 0.999 ≈ the last 1,000 steps)
    average: float = 0.0
    seed: int = 0
    device: str = "auto"  # auto = CUDA when available
    quiet: bool = False


def recorded(config: Any) -> dict[str, Any]:
    """A task config as the manifest records it: everything that shapes the model, not how
    training reported progress (so a quiet and a verbose build write identical files)."""
    data = dataclasses.asdict(config)
    data["train"].pop("quiet", None)
    return data


def no_grad(fn: Any) -> Any:
    """`torch.no_grad()` as a decorator that imports torch only when the function runs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return wrapper


MIN_STEPS = 1500  # small data: epochs are raised until training takes at least this many steps
MAX_SMALL_DATA_EPOCHS = 200
MIN_STEPS_PER_EPOCH = 20  # a smaller data set gets a smaller batch, so one epoch still takes this many steps


def fitted(config: TrainConfig, examples: int) -> TrainConfig:
    """`config` for `examples` examples. Small data gets a batch size that gives at least
    MIN_STEPS_PER_EPOCH steps an epoch (a few hundred examples in batches of 512 would be 1 step an
    epoch: an untrained model that looks trained), enough epochs for MIN_STEPS steps in all, and a
    patience that grows with them (its dev set is a handful of rows: one bad epoch is noise).
    Says so when it changes anything."""
    batch = max(1, min(config.batch_size, examples // MIN_STEPS_PER_EPOCH))
    if batch == config.batch_size:
        return config
    steps = max(1, -(-examples // batch))
    epochs = max(config.epochs, min(MAX_SMALL_DATA_EPOCHS, -(-MIN_STEPS // steps)))
    patience = max(config.patience, epochs // 4)
    warnings.warn(
        f"{examples} training examples: batch size {batch} (was {config.batch_size}), up to {epochs} epochs "
        f"(was {config.epochs}), patience {patience}, for at least {MIN_STEPS} optimizer steps",
        stacklevel=2,
    )
    return dataclasses.replace(config, batch_size=batch, epochs=epochs, patience=patience)


def warn_if_undertrained(train_accuracy: float | None, steps: int, what: str) -> None:
    """A warning when training cannot have converged: few optimizer steps, or a model that does
    not even fit its own training data."""
    problems = []
    if steps < 200:
        problems.append(f"only {steps} optimizer steps")
    if train_accuracy is not None and train_accuracy < 0.9:
        problems.append(f"training accuracy {train_accuracy:.3f}")
    if problems:
        warnings.warn(
            f"{what} may be under-trained ({', '.join(problems)}): add data or raise --epochs",
            stacklevel=2,
        )
