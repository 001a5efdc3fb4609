"""The shipped weights on real Kodak images: exact round trips, file size ≈ the model's estimate.

The full sweep (all 24 images × q 1, 4, 8, both models) is `make sweep`; this tests a few.
"""
import numpy as np
import pytest
import torch

import licodec
from licodec import container
from licodec.models.codec import pad_image
from licodec.weights import load_model, resolve

from conftest import kodak_image, to_tensor

OVERHEAD = 16 + 8  # header (≤ 16 bytes for these sizes) + two digests and CRC


@pytest.fixture(scope="module")
def student():
    return load_model(resolve("student"))


@pytest.fixture(scope="module")
def teacher():
    return load_model(resolve("teacher"))


def estimated_bytes(model, x, quality: float) -> float:
    with torch.no_grad():
        out = model(pad_image(x), torch.tensor([quality]))
    return float(sum(-torch.log2(p).sum() for p in out["likelihoods"].values())) / 8


def check_round_trip(model, index: int, quality: float) -> None:
    x = to_tensor(kodak_image(index))
    compressed = model.compress(x, quality)
    x_hat, y_hat, digests = model.decompress(compressed.data, x.shape[2], x.shape[3], quality)
    assert torch.equal(y_hat, compressed.y_hat) and digests == compressed.digests
    header = container.Header(b"\0" * 4, quality, x.shape[3], x.shape[2])
    file_bytes = len(container.pack(header, compressed.data, digests))
    estimate = estimated_bytes(model, x, quality)
    # At most 1 % + header above the estimate; below it where the estimate's 1e-9 likelihood floor
    # charges outliers more than the coder's table floor does (docs/format.md).
    assert 0.8 * estimate <= file_bytes <= 1.01 * estimate + OVERHEAD
    # A recognisable image, not noise or a colour mix-up: well above a flat image of the mean colour.
    psnr = -10 * torch.log10(((to_tensor(x_hat) - x) ** 2).mean())
    flat = -10 * torch.log10(((x.mean(dim=(2, 3), keepdim=True) - x) ** 2).mean())
    assert psnr > flat + 3


@pytest.mark.parametrize("index", [23, 7])
@pytest.mark.parametrize("quality", [1, 4, 8])
def test_student_kodak_round_trip_is_exact_and_rate_matches_estimate(student, index, quality):
    check_round_trip(student, index, quality)


def test_teacher_kodak_round_trip_is_exact_and_rate_matches_estimate(teacher):
    check_round_trip(teacher, 23, 4.5)


def test_files_encoded_with_two_threads_decode_with_one(student):
    x = to_tensor(kodak_image(23))
    torch.set_num_threads(2)
    compressed = student.compress(x, 4)
    torch.set_num_threads(1)
    _, y_hat, digests = student.decompress(compressed.data, x.shape[2], x.shape[3], 4)
    assert torch.equal(y_hat, compressed.y_hat) and digests == compressed.digests


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (1, 40), (100, 3)])
def test_tiny_and_thin_images_code_as_well_as_their_content_allows(size):
    """Centred in their canvas (format 3), flat colours come back near what a 64×64 block of
    them does, not at the canvas's corner quality (~16-29 dB at q4)."""
    from licodec.metrics import psnr

    for colour in ((200, 30, 60), (128, 128, 128), (10, 240, 90)):
        rgb = np.full((size[1], size[0], 3), colour, np.uint8)
        decoded = np.array(licodec.decode(licodec.encode(rgb, quality=4)))
        assert psnr(rgb, decoded) > 33, (size, colour)
