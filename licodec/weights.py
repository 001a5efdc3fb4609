"""Weights files (safetensors) and the registry of shipped models.

A weights file is self-describing: its metadata holds the architecture config, the λ table,
provenance and a content hash of the tensors; the first 4 bytes of that hash are the model id
written into every .lic file, so a file never decodes with other weights.
Reading metadata is torch-free (`licodec info` must start fast); building a model imports torch.
"""
from __future__ import annotations

import hashlib
import json
import os
import site
import struct
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from licodec.config import CodecConfig
from licodec.errors import LicodecError, LicodecWarning
from licodec.files import replace_atomically

if TYPE_CHECKING:
    from licodec.rans import TableSet
    from licodec.models import LicModel

FORMAT = "licodec-weights/1"
CODER_PREFIX = "coder."  # tables computed once from the weights (z PMFs, integer gains): same everywhere
MODEL_ID_BYTES = 4
SHIPPED = ("student", "teacher")


def weights_dir() -> Path:
    """Shipped weights: $LICODEC_WEIGHTS, else the source tree's weights/ (a clone, an editable
    install), else where a wheel put them: share/licodec/weights under the environment's prefix
    (a venv, pipx) or the user base (pip install --user)."""
    if "LICODEC_WEIGHTS" in os.environ:
        return Path(os.environ["LICODEC_WEIGHTS"])
    candidates = [Path(__file__).resolve().parent.parent / "weights",
                  *(Path(base) / "share" / "licodec" / "weights" for base in (sys.prefix, site.getuserbase()))]
    return next((folder for folder in candidates if (folder / "student.safetensors").exists()), candidates[0])


@dataclass(frozen=True)
class WeightsInfo:
    path: Path
    name: str
    config: CodecConfig
    content_hash: str  # sha256 hex of the tensors
    metadata: dict

    @property
    def model_id(self) -> bytes:
        return bytes.fromhex(self.content_hash)[:MODEL_ID_BYTES]


def read_info(path: str | Path) -> WeightsInfo:
    """The metadata of a safetensors weights file, without importing torch."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > os.fstat(f.fileno()).st_size - 8:
                raise ValueError("no safetensors header")
            header = json.loads(f.read(length))
        meta = header["__metadata__"]
        if meta.get("format") != FORMAT:
            raise ValueError("not a licodec weights file")
        return WeightsInfo(path, meta["name"], CodecConfig.from_json(meta["config"]), meta["content_hash"], meta)
    except OSError as e:
        raise LicodecError(f"cannot read weights {path}: {e.strerror}") from None
    except (ValueError, KeyError, TypeError, struct.error) as e:
        raise LicodecError(f"{path} is not a licodec weights file ({e})") from None


def resolve(spec: str) -> WeightsInfo:
    """'student', 'teacher' (shipped) or a path to a weights file."""
    if spec in SHIPPED:
        path = weights_dir() / f"{spec}.safetensors"
        if not path.exists():
            raise LicodecError(f"shipped weights {path} are missing (reinstall licodec, or point "
                               f"LICODEC_WEIGHTS at a folder holding {spec}.safetensors)")
        return read_info(path)
    if not Path(spec).is_file():
        raise LicodecError(f"no model named {spec!r}: use {' or '.join(SHIPPED)}, or a path to a .safetensors file")
    return read_info(spec)


def find_by_id(model_id: bytes, extra: Sequence[WeightsInfo] = ()) -> WeightsInfo:
    """The weights whose id a .lic file names: given ones first, then the shipped ones."""
    candidates = list(extra) + [read_info(p) for p in sorted(weights_dir().glob("*.safetensors"))]
    for info in candidates:
        if info.model_id == model_id:
            return info
    raise LicodecError(f"no weights with model id {model_id.hex()} (encoded with other weights? pass --model PATH)")


def content_hash(state: dict) -> str:
    """SHA-256 over the names, shapes and bytes of the tensors (torch tensors or numpy arrays)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        array = state[name]
        if not hasattr(array, "tobytes"):  # a torch tensor: its bytes in C order, as numpy's
            array = array.detach().cpu().contiguous().numpy()
        digest.update(name.encode())
        digest.update(str(tuple(array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_weights(model: "LicModel", path: str | Path, name: str, provenance: dict) -> str:
    """Write a weights file atomically; returns its content hash."""
    from safetensors.torch import save_file

    import copy

    import torch

    if any(p.device.type != "cpu" for p in model.parameters()):  # the coder's tables are CPU code
        model = copy.deepcopy(model).cpu()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    model.latent_codec.refresh_tables()  # the tables of these weights, not of earlier ones
    state.update({k: torch.from_numpy(v) for k, v in model.latent_codec.coder_tensors().items()})
    digest = content_hash(state)
    metadata = {
        "format": FORMAT,
        "name": name,
        "config": model.config.to_json(),
        "lambdas": json.dumps(list(model.config.lambdas)),
        "content_hash": digest,
        "provenance": json.dumps(provenance, sort_keys=True),
    }
    replace_atomically(Path(path), lambda tmp: save_file(state, str(tmp), metadata=metadata))
    return digest


def metadata_of(data: bytes) -> dict:
    """The metadata of a safetensors file's bytes: an 8-byte header length, then JSON."""
    (length,) = struct.unpack("<Q", data[:8])
    return dict(json.loads(data[8 : 8 + length])["__metadata__"])


def renamed(data: bytes, name: str) -> bytes:
    """A weights file's bytes with another model name in its metadata (tensors, hash and model
    id unchanged). safetensors' numpy API keeps this torch-free."""
    from safetensors.numpy import load, save

    return save(load(data), metadata={**metadata_of(data), "name": name})


def halved(data: bytes) -> bytes:
    """A weights file's bytes with its float32 tensors stored as float16: half the size on disk,
    computed in float32 all the same (load_model widens them). The content hash, and so the model
    id, are those of the stored tensors. Torch-free, like `renamed`."""
    import numpy as np
    from safetensors.numpy import load, save

    state = {k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in load(data).items()}
    return save(state, metadata={**metadata_of(data), "content_hash": content_hash(state), "storage": "float16"})


def with_coder_tables(data: bytes) -> bytes:
    """A weights file's bytes with its coder tables (`coder.*`) computed from the tensors as
    stored (after `halved`, from the float16 values the decoder will widen), and the content
    hash, so the model id, renewed."""
    import torch
    from safetensors.torch import load, save

    state, metadata = load(data), metadata_of(data)
    model = _model_from_state(CodecConfig.from_json(metadata["config"]), _weights_only(state))
    model.latent_codec.refresh_tables()
    state.update({k: torch.from_numpy(v) for k, v in model.latent_codec.coder_tensors().items()})
    return save(state, metadata={**metadata, "content_hash": content_hash(state)})


def read_z_tables(info: WeightsInfo) -> "TableSet | None":
    """The z tables a weights file stores (torch-free: for checks before the model loads), or
    None for files written before they were stored."""
    from safetensors import safe_open

    from licodec.latent_stream import z_tables_from

    names = ("coder.z_pmf", "coder.z_length", "coder.z_offset")
    with safe_open(str(info.path), framework="np") as f:
        if not set(names) <= set(f.keys()):
            return None
        return z_tables_from({name: f.get_tensor(name) for name in names})


def load_model(info: WeightsInfo) -> "LicModel":
    """Build the model from the file's config and load its tensors (hash checked; float16
    storage widened to float32)."""
    from safetensors.torch import load_file

    state = load_file(str(info.path))
    if content_hash(state) != info.content_hash:
        raise LicodecError(f"{info.path}: tensors do not match the content hash in its metadata (damaged file?)")
    model = _model_from_state(info.config, _weights_only(state))
    coder = {k: v.numpy() for k, v in state.items() if k.startswith(CODER_PREFIX)}
    if coder:
        model.latent_codec.load_coder_tensors(coder)
    else:
        warnings.warn(f"{info.path} stores no coder tables (written before format 2): its files may "
                      "decode only on this machine; re-export the weights with this licodec", LicodecWarning)
        model.latent_codec.refresh_tables()
    return model.for_inference()


def _weights_only(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.startswith(CODER_PREFIX)}


def _model_from_state(config: CodecConfig, state: dict) -> "LicModel":
    import torch

    from licodec.models import LicModel

    model = LicModel(config)
    model.load_state_dict({k: v.float() if v.dtype == torch.float16 else v for k, v in state.items()})
    return model
