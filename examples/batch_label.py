"""Label every line of a text file with its language, in a few lines of Python, in constant
memory: the file is read and answered 4,096 lines at a time.

python examples/batch_label.py input.txt > labelled.tsv

(For big inputs the CLI does this and more: `bowgram langid --input big.txt.gz --workers auto`.)
"""

import sys
from itertools import islice

from bowgram.runtime import load

identifier = load(task="langid")
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        while batch := [line.rstrip("\r\n") for line in islice(f, 4096)]:
            for line, answer in zip(batch, identifier.predict(batch, threshold=0.5)):
                (label, prob), *guesses = answer  # below the threshold: ("und", p), then the best guess
                shown = f"({guesses[0][0]} {prob:.3f})" if guesses else f"{prob:.3f}"  # und (sl 0.160)
                print(f"{label}\t{shown}\t{line}")
except BrokenPipeError:  # the reader left (`| head`): stop quietly, as command-line tools do
    sys.stderr.close()
