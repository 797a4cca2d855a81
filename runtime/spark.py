"""Spark: a pandas UDF that labels a column of texts (the `[spark]` extra; pyspark is imported
only here).

    from bowgram.runtime.spark import predict_udf
    lid = predict_udf("langid", k=1)                      # the default bundle, or bundle="path"
    df.withColumn("langid", lid("text")).select("text", "langid.label", "langid.prob")

The predictor is loaded on the driver (a bad bundle fails before the job starts), travels to
the executors pickled as (bundle path, options), and is loaded there once per Python worker
process (`tasks.reload`), not per row or per batch. The bundle's path must be readable on every
executor (a shared folder, or the same install). Arrow moves the texts and answers in batches.
"""

from __future__ import annotations

from typing import Any

from .columns import answer_names
from .errors import InputError
from .loader import load


def predict_udf(task: str = "langid", bundle: str | None = None, **options: Any) -> Any:
    """A pandas UDF: texts → struct<label|word: string, prob: double> (k = 1), or an array of
    them (k > 1), best first. `options` are `predict()`'s (k, threshold, languages, prefix) and
    `load()`'s (backend, precision, threads)."""
    try:
        import pandas as pd
        from pyspark.sql.functions import pandas_udf
    except ImportError:
        raise InputError("Spark needs pyspark and pandas: pip install 'bowgram[spark]'") from None
    opened = {key: options.pop(key) for key in ("backend", "precision", "threads") if key in options}
    predictor = load(bundle, task=task, **opened)
    predictor.predict(["warm up"], **options)  # bad options fail here, on the driver
    name, k = answer_names(task)[1], options.setdefault("k", 1)
    item = f"struct<{name}: string, prob: double>"

    def best(texts):  # type: ignore[no-untyped-def]
        answers = predictor.predict(texts.fillna("").tolist(), **options)
        return pd.DataFrame({name: [a[0][0] for a in answers], "prob": [a[0][1] for a in answers]})

    def top(texts):  # type: ignore[no-untyped-def]
        answers = predictor.predict(texts.fillna("").tolist(), **options)
        return pd.Series([[{name: n, "prob": p} for n, p in a] for a in answers])

    # real classes as type hints (this module's annotations are strings): how pyspark tells the UDF's kind
    best.__annotations__ = {"texts": pd.Series, "return": pd.DataFrame}
    top.__annotations__ = {"texts": pd.Series, "return": pd.Series}
    if k == 1:
        return pandas_udf(f"{name} string, prob double")(best)
    return pandas_udf(f"array<{item}>")(top)
