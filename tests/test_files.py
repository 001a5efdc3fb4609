"""licodec's own files are replaced whole or not at all."""
import pytest

from licodec.files import replace_atomically


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"previous")

    def half_then_fail(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt  # a kill mid-write
    with pytest.raises(KeyboardInterrupt):
        replace_atomically(path, half_then_fail)
    assert path.read_bytes() == b"previous" and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    replace_atomically(path, lambda tmp: tmp.write_bytes(b"new"))
    assert path.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
