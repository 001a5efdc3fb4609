"""Print the SHA-256 of licodec.encode's files for 6 Kodak images × q 1, 3.5, 8, from the licodec
package found under SOURCE: run it with an old checkout and with this one, and diff the outputs
(how effort-0 files were shown byte-identical to those before encoder effort).

    git worktree add /tmp/old caed168
    LICODEC_WEIGHTS=weights python scripts/same_files_as.py /tmp/old > old.txt
    python scripts/same_files_as.py . > new.txt && diff old.txt new.txt
"""
import hashlib
import sys

sys.path.insert(0, sys.argv[1])
import licodec  # noqa: E402

for index in (1, 5, 13, 19, 23, 24):
    for quality in (1, 3.5, 8):
        data = licodec.encode(f"../shared/data/kodak/kodim{index:02d}.png", quality=quality)
        print(index, quality, hashlib.sha256(data).hexdigest()[:16])
