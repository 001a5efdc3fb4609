"""Print the SHA-256 of licodec.encode's files for 6 Kodak images × q 1, 3.5, 8, from the licodec
package found under SOURCE: run it with an old checkout and with this one, and diff the outputs
(how effort-0 files were shown byte-identical to those before encoder effort). With --stream,
the hash of the rANS stream alone: the same across a format change that only adds around it.

    git worktree add /tmp/old caed168
    LICODEC_WEIGHTS=weights python scripts/same_files_as.py /tmp/old > old.txt
    python scripts/same_files_as.py . > new.txt && diff old.txt new.txt
    python scripts/same_files_as.py . --model teacher --stream
    python scripts/same_files_as.py . --images 1-24 --quality 1,4,8 --decoded  # a refactor's check

--decoded adds the hash of the pixels licodec.decode gives back for each file.
"""
import argparse
import hashlib
import sys

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("source")
parser.add_argument("--model", default="student")
parser.add_argument("--stream", action="store_true", help="hash the rANS stream only")
parser.add_argument("--images", default="1,5,13,19,23,24", help="Kodak numbers: a list, or a range 1-24")
parser.add_argument("--quality", default="1,3.5,8")
parser.add_argument("--decoded", action="store_true", help="also hash the decoded pixels")
parser.add_argument("--effort", type=int, default=0, help="encoder effort of the files")
args = parser.parse_args()
first, _, last = args.images.partition("-")
images = range(int(first), int(last) + 1) if last else [int(i) for i in args.images.split(",")]
sys.path.insert(0, args.source)
import licodec  # noqa: E402
from licodec import container  # noqa: E402

for index in images:
    for quality in (float(q) for q in args.quality.split(",")):
        data = licodec.encode(f"../shared/data/kodak/kodim{index:02d}.png", quality=quality, model=args.model,
                              effort=args.effort)
        line = [index, quality, hashlib.sha256(container.unpack(data)[1] if args.stream else data).hexdigest()[:16]]
        if args.decoded:
            line.append(hashlib.sha256(np.asarray(licodec.decode(data)).tobytes()).hexdigest()[:16])
        print(*line)
