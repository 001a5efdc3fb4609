"""Where the bits of a .lic file go (the FEDS paper's appendix §8 picture): bits per latent
position, summed over channels, and bits per channel of y, ranked.

    .lic ─► container ─► latent decompress, recording −log2 p of every symbol ─► maps ─► PNG

The bits are each symbol's information under the table it was coded with (as constriction
quantises it); they add up to the stream's size (kodim23 at q4: 149 434 of 149 440 bits). The picture needs matplotlib (licodec[eval]).
"""
from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass

import numpy as np

from licodec import container
from licodec.errors import LicodecError


@dataclass
class EntropyMaps:
    position_bits: np.ndarray  # [h, w]: bits of y per latent position, all channels
    channel_bits: np.ndarray  # [M]: bits of y per channel, in coding order
    z_bits: float
    slices: int
    width: int
    height: int
    offset: tuple[int, int] = (0, 0)  # (rows, columns) before the image in its canvas (canvas_offset)

    @property
    def y_bits(self) -> float:
        return float(self.channel_bits.sum())


def measure(data: bytes, model: str | None = None) -> EntropyMaps:
    import torch

    from licodec.api import loaded_model
    from licodec.latent_stream import canvas_offset, latent_shape
    from licodec.weights import find_by_id, resolve

    header, stream, digests = container.unpack(data)
    container.check_pixels(header)
    info = find_by_id(header.model_id, [resolve(model)] if model else [])
    net = loaded_model(info, "cpu")
    bits: list[np.ndarray] = []
    with torch.no_grad():
        net.latent_codec.decompress(stream, latent_shape(header.height, header.width), header.quality, bits,
                                    expected=digests)
    y = np.concatenate(bits[1:], axis=1)[0]  # [M, h, w]
    return EntropyMaps(y.sum(axis=0), y.sum(axis=(1, 2)), float(bits[0].sum()), len(bits) - 1,
                       header.width, header.height, canvas_offset(header.height, header.width, header.centred))


def summary(maps: EntropyMaps, top: int = 10) -> str:
    ranked = np.sort(maps.channel_bits)[::-1]
    total = maps.y_bits + maps.z_bits
    share = ranked[:top].sum() / maps.y_bits if maps.y_bits else 0.0
    return "\n".join([
        f"{'bits':<16} {total:.0f} ({total / (maps.width * maps.height):.4f} bpp): "
        f"y {maps.y_bits:.0f}, z {maps.z_bits:.0f}",
        f"{'top channels':<16} {min(top, len(ranked))} of {len(ranked)} carry {100 * share:.1f} % of y's bits",
        f"{'busiest position':<16} {maps.position_bits.max():.1f} bits (mean {maps.position_bits.mean():.2f})",
    ])


NO_MATPLOTLIB = "licodec inspect -o draws with matplotlib: pip install 'licodec[eval]'"


def check_can_render() -> None:
    """Fail before any work when `render` could not draw (matplotlib is an optional extra)."""
    if importlib.util.find_spec("matplotlib") is None:
        raise LicodecError(NO_MATPLOTLIB)


def render(maps: EntropyMaps, decoded=None) -> bytes:
    """A PNG of two panels: the position map (over the decoded image, if given) and the ranked
    channels."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LicodecError(NO_MATPLOTLIB) from None
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.5, 1]})
    h, w = maps.position_bits.shape
    top, first = maps.offset  # in canvas pixels: y is 16× down-sampled, one cell per 16×16 of them
    if decoded is not None:
        left.imshow(np.asarray(decoded.convert("L")), cmap="gray",
                    extent=(first, first + maps.width, top + maps.height, top))
    shown = left.imshow(maps.position_bits, cmap="inferno", alpha=0.75 if decoded is not None else 1.0,
                        extent=(0, w * 16, h * 16, 0), interpolation="nearest")
    left.set_xlim(first, first + maps.width), left.set_ylim(top + maps.height, top)
    left.set_title("bits per latent position (all channels)")
    figure.colorbar(shown, ax=left, label="bits")
    order = np.argsort(maps.channel_bits)[::-1]
    per_slice = len(maps.channel_bits) // maps.slices
    colours = plt.cm.tab10(order // per_slice % 10)
    right.bar(np.arange(len(order)), maps.channel_bits[order] / 1000, color=colours, width=1.0)
    right.set_xlabel("channel of y, ranked (colour: ChARM slice)")
    right.set_ylabel("kbit")
    right.set_title(f"bits per channel; top 10 carry {100 * np.sort(maps.channel_bits)[-10:].sum() / maps.y_bits:.0f} %")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
