"""The decoder under damaged input (hypothesis; the long run is `python -m licodec.checks.fuzz`): every
input is decoded or refused with a LicodecError, quickly, and declared sizes are capped before
anything is allocated."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image
from hypothesis import HealthCheck, given, settings, strategies as st

import licodec
from licodec import container
from licodec.checks.fuzz import check, crafted, mutate, with_fixed_crc, with_sections
from licodec.models import LicModel
from licodec.models.exact import ExactEntropyParameters

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=["plain", "sections"])
def valid(tiny_weights, photo, request) -> bytes:
    from PIL import Image

    image = Image.open(photo)
    return licodec.encode(image if request.param == "plain" else with_sections(image), quality=3)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_are_refused(tiny_weights, data):
    assert check(data, licodec.decode) == "refused"


def test_every_truncation_is_refused(valid):
    for end in range(len(valid)):
        assert check(valid[:end], licodec.decode) == "refused"


@FUZZ
@given(position=st.integers(min_value=0), bit=st.integers(0, 7), fix_crc=st.booleans())
def test_a_flipped_bit_is_refused_or_decoded_never_a_crash(valid, position, bit, fix_crc):
    damaged = bytearray(valid)
    damaged[position % len(valid)] ^= 1 << bit
    data = with_fixed_crc(bytes(damaged)) if fix_crc else bytes(damaged)
    started = time.monotonic()
    outcome = check(data, licodec.decode)
    assert outcome == "refused" or fix_crc  # the CRC catches every flip it is left to check
    assert time.monotonic() - started < 5


@FUZZ
@given(seed=st.integers(0, 2**32 - 1))
def test_mutations_of_every_kind_are_refused_or_decoded(valid, seed):
    check(mutate(valid, np.random.default_rng(seed)), licodec.decode)  # raises on anything else


@pytest.mark.parametrize("width, height", [(8000, 6000), (65536, 700), (700, 65536)])
def test_huge_declared_sizes_are_refused_before_decoding(valid, width, height):
    header = container.read_header(valid)[0]
    side_ok = width < container.MAX_SIDE and height < container.MAX_SIDE
    body = (container.pack(container.Header(header.model_id, header.quality, width, height), b"\0" * 8,
                           container.Digests(0, 0)) if side_ok else valid)
    if not side_ok:  # pack refuses such sizes: write the varints by hand
        body = valid[:10] + bytes([0xFF, 0xFF, 0x03]) + valid[12:]
    started = time.monotonic()
    with pytest.raises(licodec.LicodecError, match="too large|out of range|corrupt|truncated"):
        licodec.decode(with_fixed_crc(body))
    assert time.monotonic() - started < 1


def test_a_stream_ending_in_a_zero_word_is_refused(valid):
    """Found by the fuzz: constriction raised ValueError on such a stream."""
    header, offset, length = container.read_header(valid)
    damaged = valid[: offset + length - 4] + b"\0\0\0\0" + valid[offset + length :]
    with pytest.raises(licodec.LicodecError, match="invalid rANS stream"):
        licodec.decode(with_fixed_crc(damaged))


def test_a_quality_beyond_the_models_levels_is_refused(valid):
    """Found by the long fuzz run: quality bytes 225..255 (q > 8) passed the container."""
    damaged = bytearray(valid)
    damaged[9] = 240
    assert check(with_fixed_crc(bytes(damaged)), licodec.decode) == "refused"


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Makes the y networks and g_s fail the test if a decode reaches them."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a crafted file reached the y networks or g_s")
    monkeypatch.setattr(ExactEntropyParameters, "slice_parameters", forbidden)
    monkeypatch.setattr(LicModel, "synthesis", forbidden)


def _file(model_id: bytes, width: int, height: int, stream: bytes, digests=container.Digests(0, 0),
          pad: bool = True) -> bytes:
    return container.pack(container.Header(model_id, 1.0, width, height), stream, digests, pad=pad)


@pytest.mark.parametrize("width, height", [(1024, 1024), (4000, 3000), (10000, 10000), (65535, 1525)])
@pytest.mark.parametrize("stream", ["empty", "random", "zeros-then-one"])
@pytest.mark.parametrize("pad", [False, True])
def test_short_streams_declaring_large_images_are_refused_before_the_y_networks(valid, no_heavy_work, width,
                                                                                height, stream, pad):
    """The 22-byte 10000x10000 file once cost 165 s and 2.5 GB: such a file is refused by the
    file's shortest length; padded to it, ≤ 1 kB of any stream is refused by the floor, when it
    runs out after z, or by the z digest, never after y or g_s."""
    model_id = container.read_header(valid)[0].model_id
    rng = np.random.default_rng(width)
    body = {"empty": b"", "random": rng.integers(0, 256, 1000, dtype=np.uint8).tobytes(),
            "zeros-then-one": b"\0" * 996 + b"\1\0\0\0"}[stream]
    with pytest.raises(licodec.LicodecError, match="corrupt|mismatch"):
        licodec.decode(_file(model_id, width, height, body, pad=pad))


def test_the_stream_floor_is_the_models_and_below_real_files(tiny_weights):
    from licodec.api import loaded_model
    from licodec.latent_stream import latent_shape
    from licodec.weights import resolve

    net = loaded_model(resolve("student"), "cpu")
    for colour in (0, 128, 255):
        image = Image.new("RGB", (512, 320), (colour,) * 3)  # flat: the cheapest real inputs
        stream = container.unpack(licodec.encode(image, quality=1))[1]
        assert 0 < net.latent_codec.shortest_stream(latent_shape(320, 512)) <= len(stream)
    assert net.latent_codec.shortest_stream((40, 40)) == pytest.approx(
        100 * net.latent_codec.shortest_stream((4, 4)), rel=0.05)  # the floor grows with the area


def test_a_stream_that_runs_out_early_is_refused_before_g_s(valid, monkeypatch):
    header, stream, digests = container.unpack(valid)
    monkeypatch.setattr(LicModel, "synthesis", lambda *args: pytest.fail("a cut stream reached g_s"))
    for words in (1, len(stream) // 8, len(stream) // 4 - 1):
        with pytest.raises(licodec.LicodecError, match="corrupt|mismatch"):
            licodec.decode(_file(header.model_id, header.width, header.height, stream[: 4 * words], digests))


@FUZZ
@given(seed=st.integers(0, 2**32 - 1))
def test_crafted_files_of_any_declared_size_are_refused_quickly(valid, seed):
    data = crafted(container.read_header(valid)[0], np.random.default_rng(seed))
    started = time.monotonic()
    outcome = check(data, licodec.decode)
    assert outcome == "refused" or container.read_header(data)[0].width * container.read_header(data)[0].height < 2**20
    assert time.monotonic() - started < 5
