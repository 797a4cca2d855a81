"""Spark and Ray Data on local clusters label a few thousand dev sentences exactly as the Python
API does (skipped where pyspark / ray are not installed: the `[spark]`, `[ray]` extras)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bowgram.runtime import load

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rows = gzip.open(ROOT / "export/data/langid/dev.tsv.gz", "rt", encoding="utf-8").read().splitlines()
    return [row.split("\t", 1)[1] for row in rows][::6] + ["", "12345"]  # ~3,000, and two without letters


def assert_same(labels: list[str], probs: list[float], texts: list[str]) -> None:
    answers = load(task="langid").predict(texts)
    assert labels == [a[0][0] for a in answers]
    # batches of other texts pad rows to other widths, so float32 sums run in another order (1.06e-6
    # apart at most on these texts, measured); the bundles' own tolerance is 1e-4
    assert probs == pytest.approx([a[0][1] for a in answers], abs=1e-5)


def test_spark_udf_on_local_spark(texts):
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from bowgram.runtime.spark import predict_udf

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        df = spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(4)
        rows = df.withColumn("lid", predict_udf("langid")("text")).select("id", "lid.label", "lid.prob").collect()
        rows.sort(key=lambda r: r.id)
        assert_same([r.label for r in rows], [r.prob for r in rows], texts)
        top = df.withColumn("lid", predict_udf("langid", k=3)("text")).orderBy("id").limit(1).collect()[0].lid
        assert [x.label for x in top] == [label for label, _ in load(task="langid").predict(texts[0], k=3)]
    finally:
        spark.stop()


def test_ray_data_map_batches_on_local_ray(texts):
    ray = pytest.importorskip("ray")
    from bowgram.runtime.ray_data import Predict

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
        out = ds.map_batches(
            Predict,
            fn_constructor_kwargs={"task": "langid"},
            compute=ray.data.ActorPoolStrategy(size=2),
            batch_format="pyarrow",
            batch_size=512,
        )
        rows = sorted(out.take_all(), key=lambda r: r["id"])
        assert [r["text"] for r in rows] == texts  # other columns kept
        assert_same([r["langid"] for r in rows], [r["langid_prob"] for r in rows], texts)
    finally:
        ray.shutdown()
