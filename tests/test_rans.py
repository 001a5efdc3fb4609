"""rANS coding: every integer round-trips, tables are proper distributions, damage is caught."""
from pathlib import Path

import numpy as np
import pytest

from licodec import format_tables
from licodec.errors import LicodecError
from licodec.format_tables import scale_table
from licodec.rans import StreamReader, StreamWriter, TableSet


@pytest.fixture(scope="module")
def tables() -> TableSet:
    return format_tables.gaussian_table_set()


def test_stored_format_tables_are_their_definition():
    """The shipped tables are what `python -m licodec.format_tables --write` computes (here, up to
    libm's last bit for the float ones); docs/format.md names the file's hash."""
    stored, built = format_tables.load(), format_tables.build()
    assert stored.keys() == built.keys()
    for name in stored:
        assert stored[name].dtype == built[name].dtype
        if stored[name].dtype.kind == "f":
            assert np.allclose(stored[name], built[name], rtol=0, atol=1e-15), name
        else:  # integers: a last-bit libm difference may move a rounding by one at most
            assert np.abs(stored[name] - built[name]).max() <= 1, name
    assert format_tables.file_sha256() in (Path(__file__).parent.parent / "docs" / "format.md").read_text()


def test_gaussian_tables_are_distributions(tables):
    for pmf, offset in zip(tables.pmfs, tables.offsets):
        assert abs(pmf.sum() - 1) < 1e-6
        assert offset == -(len(pmf) // 2)  # symmetric around 0
        assert np.argmax(pmf) == len(pmf) // 2


def test_round_trip_with_escapes(tables):
    rng = np.random.default_rng(0)
    index = rng.integers(0, len(tables.pmfs), 20000)
    symbols = np.round(rng.normal(0, scale_table()[index])).astype(np.int64)
    symbols[:4] = [2**30, -(2**30), 10**6, -7]  # far outside every table: escapes
    writer = StreamWriter()
    writer.write(symbols, index, tables)
    writer.write(symbols[::-1].copy(), index, tables)  # a second group in the same stream
    reader = StreamReader(writer.finish())
    assert np.array_equal(reader.read(index, tables), symbols)
    assert np.array_equal(reader.read(index, tables), symbols[::-1])
    reader.finish()


def test_rate_close_to_entropy(tables):
    rng = np.random.default_rng(1)
    index = np.full(50000, 60)
    pmf, offset = tables.pmfs[60], tables.offsets[60]
    symbols = rng.choice(len(pmf), size=index.size, p=pmf / pmf.sum()) + offset
    writer = StreamWriter()
    writer.write(symbols, index, tables)
    bits = 8 * len(writer.finish())
    entropy = -(np.log2(pmf[symbols - offset])).sum()
    assert bits < 1.01 * entropy + 64


def test_custom_tables_and_leftover_data_is_an_error():
    tables = TableSet([np.array([0.25, 0.5, 0.25])], np.array([-1]))
    writer = StreamWriter()
    writer.write(np.array([-1, 0, 1, 5]), np.zeros(4, dtype=int), tables)
    data = writer.finish()
    reader = StreamReader(data)
    assert list(reader.read(np.zeros(2, dtype=int), tables)) == [-1, 0]
    with pytest.raises(LicodecError, match="data left"):
        reader.finish()


def test_factorized_tables_cover_all_but_the_tails_whatever_the_quantiles():
    import torch

    from licodec.models.entropy_models import TAIL_MASS, FactorizedPrior

    torch.manual_seed(0)
    prior = FactorizedPrior(3)
    with torch.no_grad():
        prior.quantiles.mul_(0.1)  # an aux loss far from converged
    pmfs, offsets = prior.probability_tables()
    for pmf in pmfs:
        assert 1 - pmf.sum() < 2 * TAIL_MASS
    assert all(offset < -5 for offset in offsets)  # wider than the shrunken quantiles say


def test_table_bits_are_the_information_of_each_symbol():
    import numpy as np

    from licodec.rans import TableSet

    tables = TableSet([np.array([0.25, 0.5, 0.25])], np.array([-1]))
    symbols = np.array([-1, 0, 1, 5])
    bits = tables.bits(symbols, np.zeros(4, dtype=np.int64))
    assert np.allclose(bits[:3], [2.0, 1.0, 2.0])
    assert bits[3] > 32  # outside the table: the escape bin and 32 raw bits
