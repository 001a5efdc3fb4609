"""Print the SHA-256 of licodec.encode's files for 6 Kodak images × q 1, 3.5, 8, from the licodec
package found under SOURCE: run it with an old checkout and with this one, and diff the outputs
(how effort-0 files were shown byte-identical to those before encoder effort). With --stream,
the hash of the rANS stream alone: the same across a format change that only adds around it.

    git worktree add /tmp/old caed168
    LICODEC_WEIGHTS=weights python scripts/same_files_as.py /tmp/old > old.txt
    python scripts/same_files_as.py . > new.txt && diff old.txt new.txt
    python scripts/same_files_as.py . --model teacher --stream
"""
import argparse
import hashlib
import sys

parser = argparse.ArgumentParser()
parser.add_argument("source")
parser.add_argument("--model", default="student")
parser.add_argument("--stream", action="store_true", help="hash the rANS stream only")
args = parser.parse_args()
sys.path.insert(0, args.source)
import licodec  # noqa: E402
from licodec import container  # noqa: E402

for index in (1, 5, 13, 19, 23, 24):
    for quality in (1, 3.5, 8):
        data = licodec.encode(f"../shared/data/kodak/kodim{index:02d}.png", quality=quality, model=args.model)
        print(index, quality, hashlib.sha256(container.unpack(data)[1] if args.stream else data).hexdigest()[:16])
