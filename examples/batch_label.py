"""Label every line of a text file with its language, in a few lines of Python.

python examples/batch_label.py input.txt > labelled.tsv
"""

import sys

from bowgram.runtime import load

identifier = load(task="langid")
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
for line, [(label, prob)] in zip(lines, identifier.predict(lines, threshold=0.5)):
    print(f"{label}\t{prob:.3f}\t{line}")
