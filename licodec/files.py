"""Files as a careful Unix tool treats them (torch-free): inputs read with one-line errors,
outputs written atomically with the usual permissions, nothing overwritten without --force,
and binary data never sent to a terminal."""
from __future__ import annotations

import errno
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

from licodec.errors import LicodecError


def read_input(path: str) -> bytes:
    """A file's bytes, or standard input's for '-'."""
    return sys.stdin.buffer.read() if path == "-" else read_file(path)


def read_file(path: str | Path) -> bytes:
    """A file's bytes, with one-line errors."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise LicodecError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LicodecError(f"{path}: is a directory") from None
    except PermissionError:
        raise LicodecError(f"{path}: permission denied") from None


def check_output(output: str, force: bool) -> None:
    """Refuse early, before minutes of work, what write_output would refuse at the end."""
    if output == "-":
        if sys.stdout.isatty():
            raise LicodecError("refusing to write binary data to a terminal: redirect it or give -o FILE")
        return
    target = Path(output)
    if target.is_dir():
        raise LicodecError(f"{output} is a directory")
    if target.exists() and not force:
        raise LicodecError(f"{output} exists (use --force to overwrite)")
    if not target.parent.is_dir():
        raise LicodecError(f"output directory {target.parent} does not exist")
    _check_writable(target.parent)


def make_folder(path: str) -> None:
    """An output folder, made if missing (not its parents: a typo should not grow a tree)."""
    folder = Path(path)
    if folder.is_dir():
        return
    if folder.exists():
        raise LicodecError(f"{path}: exists and is not a directory")
    if not folder.parent.is_dir():
        raise LicodecError(f"output directory {folder.parent} does not exist")
    try:
        folder.mkdir()
    except OSError as e:
        raise LicodecError(f"cannot create {path}: {os_reason(e)}") from None


def _check_writable(directory: Path) -> None:
    """Create and remove a file there: what the atomic write will do, so a read-only or full
    folder is found before the work, not after it (os.access says yes to root on a read-only
    mount)."""
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".licodec-", suffix=".probe")
    except OSError as e:
        raise LicodecError(f"cannot write to {directory}: {os_reason(e)}") from None
    os.close(fd)
    os.unlink(probe)


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` by `write(temporary)` into a sibling file, then rename it over `path`: a kill
    mid-write leaves the previous file (or none), never half of one. For licodec's own files
    (weights, checkpoints, results); a user's output goes through write_output."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_output(path: str, force: bool, write: Callable[[io.BufferedIOBase], None]) -> None:
    """Write to stdout ('-') or atomically to a file: no partial file on any error."""
    if path == "-":
        buffer = io.BytesIO()
        write(buffer)
        write_all(sys.stdout.buffer, buffer.getvalue())
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    check_output(path, force)
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".part")
    except OSError as e:
        raise LicodecError(f"cannot write to {directory}: {os_reason(e)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk (ENOSPC), an I/O error (EIO), …: one line, no partial file
            raise LicodecError(f"{path}: {os_reason(e)}") from None
        raise


def write_all(stream: io.BufferedIOBase, data: bytes) -> None:
    """Write every byte: a buffered write to a pipe whose reader left (`| head`) can return a
    short count instead of raising, and then the exit status would say success; the next write
    raises BrokenPipeError, which the command turns into SIGPIPE's status."""
    view = memoryview(data)
    while view:
        written = stream.write(view)
        if not written:
            raise OSError(errno.EIO, "short write")
        view = view[written:]


def os_reason(error: OSError) -> str:
    """An OS error's reason as a one-line message names it ("no space left on device")."""
    return (error.strerror or str(error)).lower()


def _new_file_mode(target: Path) -> int:
    """The mode a plain open() would give (mkstemp makes 0600 files): kept when overwriting."""
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
