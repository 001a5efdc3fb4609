"""Train the tests' tiny architecture in this process of a torchrun launch (or alone), then save
this process's weights as OUT/rank{RANK}.pt, so a test can compare every process's copy.

    torchrun --nproc_per_node=2 tests/tiny_training.py DATA OUT STEPS [--resume]
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import TINY  # noqa: E402

from licodec import config  # noqa: E402
from licodec.training import distributed  # noqa: E402
from licodec.training.options import TrainOptions  # noqa: E402
from licodec.training.train import train_on  # noqa: E402

config.CONFIGS["tiny"] = TINY
data, out, steps = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
# float32: the tests compare one process with two to float tolerance; bfloat16's rounding would
# differ between per-process batches of 2 and 4 (autocast itself is tested in test_training.py).
options = TrainOptions(arch="tiny", data=data, out=out, steps=steps, patch=64, batch=4, lr=1e-3, threads=1,
                       resume="--resume" in sys.argv, precision="float32")
processes = distributed.start("cpu")
_, model = train_on(processes, options)
torch.save(model.state_dict(), out / f"rank{processes.rank}.pt")
distributed.stop(processes)
