"""Ray Data: a callable class for `Dataset.map_batches` that adds answer columns to each batch
(the `[ray]` extra; ray itself is not imported here, only pyarrow).

    import ray
    from bowgram.runtime.ray_data import Predict
    ds = ray.data.read_parquet("texts/")
    ds = ds.map_batches(Predict, fn_constructor_kwargs={"task": "langid", "column": "text"},
                        compute=ray.data.ActorPoolStrategy(size=2), batch_format="pyarrow",
                        batch_size=4096)

Each actor loads the bundle once, in its constructor. Columns added: `langid` and `langid_prob`
(k = 1), or `langid` as a list of {label, prob} (k > 1); `next_word`, `next_word_prob` likewise.
"""

from __future__ import annotations

from typing import Any

from .columns import answer_columns, answer_names
from .errors import InputError
from .loader import load


class Predict:
    """`map_batches` callable: `column`'s texts → answer columns, every other column kept."""

    def __init__(self, task: str = "langid", bundle: str | None = None, column: str = "text", **options: Any):
        opened = {key: options.pop(key) for key in ("backend", "precision", "threads") if key in options}
        self.predictor = load(bundle, task=task, **opened)
        self.column, self.options = column, options
        self.key, self.name = answer_names(task)

    def __call__(self, batch: Any) -> Any:
        if not hasattr(batch, "append_column"):
            raise InputError("Predict takes pyarrow batches: map_batches(..., batch_format='pyarrow')")
        if self.column not in batch.column_names:
            raise InputError(f"the batch has no column {self.column!r} (columns: {', '.join(batch.column_names)})")
        texts = batch.column(self.column)
        for name, array in answer_columns(self.predictor, texts, self.key, self.name, **self.options).items():
            batch = batch.append_column(name, array)
        return batch
