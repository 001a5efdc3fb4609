"""The decoder under damaged input (hypothesis; the long run is `python -m licodec.fuzz`): every
input is decoded or refused with a LicodecError, quickly, and declared sizes are capped before
anything is allocated."""
from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import licodec
from licodec import container
from licodec.fuzz import check, mutate, with_fixed_crc, with_sections

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
    body = (container.pack(container.Header(header.model_id, header.quality, width, height), b"\0" * 8, 0)
            if side_ok else valid)
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
