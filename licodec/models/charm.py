"""The latent codec: gain units, hyperprior and channel-wise autoregressive (ChARM) slices.

    y ─► ×gain(q) ─► y_g ─► h_a ─► ×gain_z(q) ─► Q ─► ẑ ─► ÷gain_z(q) ─► h_mean_s, h_scale_s ─► side
                      │                        (factorized prior)                             │
                      └─► slices y_0 … y_{S-1}: slice i takes μ_i, σ_i from cc_mean_i / cc_scale_i
                          over (side, ŷ_0 … ŷ_{i-1}); ŷ_i = Q(y_i − μ_i) + μ_i + LRP_i ─► ÷gain(q) ─► ŷ

Variable rate (Cui et al., CVPR 2021, asymmetric gain units): one gain and one inverse gain
vector per quality level for y and for z; a fractional quality interpolates neighbouring
levels geometrically. Quantisation is additive noise for the rates and straight-through
rounding for what later slices and g_s see (Minnen & Singh's "mixed" scheme).

Coding is exact by construction: from the z symbols to μ, the σ index and the LRP-corrected ŷ,
encoder and decoder run integer networks (licodec.models.exact) that give the same integers on
any machine; docs/format.md says what this guarantees.

The coder's tables, from training to coding:
    1. train: the factorized prior's CDF networks learn (and aux_loss fits their tails);
    2. refresh_tables(): the z tables (PMFs between the 10⁻⁹ tails) and the integer z inverse
       gains, computed once from the weights as stored;
    3. coder_tensors(): stored in the weights file as `coder.*` (licodec.weights), part of the
       content hash, so of the model id in every file;
    4. load_coder_tensors(): a decoder reads them back, never recomputes them (libm differs by
       machine);
    5. compress / decompress: the z symbols through those tables, the y slices through the
       integer networks (exact_parameters()) and the format's Gaussian tables.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from licodec.config import CodecConfig
from licodec.container import Digests
from licodec.latent_stream import (check_progress, open_stream, shortest_stream, symbol_crc, z_table_index,
                                   z_tables_from)
from licodec.format_tables import ACTIVATION_BITS, MEAN_BITS, gaussian_table_set, scale_table
from licodec.models.entropy_models import FactorizedPrior, gaussian_likelihood
from licodec.models.entropy_parameters import EntropyParameters, FloatEntropyParameters
from licodec.models.exact import ExactEntropyParameters, z_inverse_gain_table
from licodec.models.layers import conv, subpel_conv
from licodec.rans import StreamWriter, TableSet

SYMBOL_LIMIT = 2**30  # latent values beyond ±2^30 are clamped; rans.py codes up to ±2^31


_SAMPLE_NOISE: contextvars.ContextVar[list[torch.Generator] | torch.Generator | None] = contextvars.ContextVar(
    "noise", default=None)


@contextmanager
def per_sample_noise(seeds: Sequence[int]) -> Iterator[None]:
    """Draw the training noise of sample i from a generator seeded with seeds[i].

    A sample then gets the same noise whichever batch or process it lands in, so a distributed
    run computes exactly what one process computes over the same global batch.
    """
    token = _SAMPLE_NOISE.set([torch.Generator().manual_seed(seed) for seed in seeds])
    try:
        yield
    finally:
        _SAMPLE_NOISE.reset(token)


@contextmanager
def batch_noise(generator: torch.Generator) -> Iterator[None]:
    """Draw the whole batch's training noise from one generator on the tensors' device: one
    kernel per draw and no host work, for a single process on a GPU (where `per_sample_noise`
    would cost a host draw and a copy per sample and latent). A run resumes exactly if the
    generator is seeded by the step; only the sharing over processes needs `per_sample_noise`."""
    token = _SAMPLE_NOISE.set(generator)
    try:
        yield
    finally:
        _SAMPLE_NOISE.reset(token)


def uniform_noise_like(x: Tensor) -> Tensor:
    """U(−½, ½) noise, the training proxy for rounding; per sample inside `per_sample_noise`,
    from one device generator inside `batch_noise`."""
    generators = _SAMPLE_NOISE.get()
    if generators is None:
        return torch.empty_like(x).uniform_(-0.5, 0.5)
    if isinstance(generators, torch.Generator):
        return torch.rand(x.shape, generator=generators, device=x.device, dtype=x.dtype) - 0.5
    if len(generators) != x.shape[0]:
        raise ValueError(f"per_sample_noise has {len(generators)} seeds for a batch of {x.shape[0]}")
    noise = torch.stack([torch.rand(x.shape[1:], generator=g, dtype=x.dtype) for g in generators])
    return noise.to(x.device) - 0.5


def ste_round(x: Tensor) -> Tensor:
    """Round forward, identity backward."""
    return x + (torch.round(x) - x).detach()


Quantize = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
"""(latent, centre) → (what its likelihood is evaluated at, what h_s, later slices and g_s see);
the centre is z's prior median or a y slice's μ, about which the coder rounds."""


def mixed_quantize(value: Tensor, centre: Tensor) -> tuple[Tensor, Tensor]:
    """Training: noise for the rate, straight-through rounding for the decoder side (Minnen &
    Singh's "mixed" scheme)."""
    return value + uniform_noise_like(value), ste_round(value - centre) + centre


def hard_quantize(value: Tensor, centre: Tensor) -> tuple[Tensor, Tensor]:
    """Evaluation: what the coder does."""
    rounded = torch.round(value - centre) + centre
    return rounded, rounded


def symbols_crc(symbols: Tensor, digest: int) -> int:
    """latent_stream.symbol_crc of a tensor of symbols (the digests the format stores)."""
    return symbol_crc(symbols.to(torch.int32).cpu().numpy(), digest)


def _slice_transform(in_ch: int, hidden: tuple[int, ...], out_ch: int) -> nn.Sequential:
    widths = (in_ch, *hidden)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [conv(a, b), nn.GELU()]
    return nn.Sequential(*layers, conv(widths[-1], out_ch))


class GainUnits(nn.Module):
    """Per-level channel gains and inverse gains, interpolated in the log domain for fractional q."""

    def __init__(self, levels: int, channels: int, init_log_gain: Tensor) -> None:
        super().__init__()
        self.log_gain = nn.Parameter(init_log_gain[:, None].repeat(1, channels).clone())
        self.log_inverse = nn.Parameter(-init_log_gain[:, None].repeat(1, channels).clone())

    def interpolate(self, table: Tensor, quality: Tensor) -> Tensor:
        levels = table.shape[0]
        position = (quality.to(table.dtype) - 1).clamp(0, levels - 1)
        low = position.floor().long().clamp(max=levels - 2)
        weight = (position - low)[:, None]
        log_gain = table[low] * (1 - weight) + table[low + 1] * weight
        return torch.exp(log_gain)[:, :, None, None]

    def gain(self, quality: Tensor) -> Tensor:
        return self.interpolate(self.log_gain, quality)

    def inverse(self, quality: Tensor) -> Tensor:
        return self.interpolate(self.log_inverse, quality)


@dataclass
class LatentStreams:
    data: bytes  # one rANS stream: z, then the y slices in order
    y_hat: Tensor  # what g_s receives (after the inverse gain)
    digests: Digests  # CRC-32s of the coded symbols (z's, and all), to catch a decoder that drifted


class ChARMLatentCodec(nn.Module):
    """y ↔ ŷ and one rANS stream, as the module docstring draws it: `forward` for training
    (noise or rounding through `quantize`), `compress` / `decompress` for files, through an
    EntropyParameters (exact integers for files, float for measuring what exactness costs)."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        m, n, nz, s = config.M, config.N, config.hyper_channels, config.slices
        self.slices, self.slice_channels = s, config.slice_channels
        self.max_support = config.max_support_slices
        self.h_a = nn.Sequential(conv(m, n), nn.GELU(), conv(n, n, stride=2), nn.GELU(), conv(n, nz, stride=2))
        self.h_mean_s = nn.Sequential(conv(nz, n), nn.GELU(), subpel_conv(n, n), nn.GELU(), subpel_conv(n, m))
        self.h_scale_s = nn.Sequential(conv(nz, n), nn.GELU(), subpel_conv(n, n), nn.GELU(), subpel_conv(n, m))
        self.prior = FactorizedPrior(nz)
        sc, hidden = config.slice_channels, config.slice_hidden
        self.cc_mean = nn.ModuleList(_slice_transform(m + sc * self.support_slices(i), hidden, sc) for i in range(s))
        self.cc_scale = nn.ModuleList(_slice_transform(m + sc * self.support_slices(i), hidden, sc) for i in range(s))
        self.lrp = nn.ModuleList(_slice_transform(m + sc * (self.support_slices(i) + 1), hidden, sc) for i in range(s))
        lambdas = torch.tensor(config.lambdas)
        # Optimal quantiser step ∝ 1/sqrt(λ) at high rate: start the gains there.
        self.y_gain = GainUnits(config.levels, m, 0.5 * torch.log(lambdas / lambdas[config.levels // 2]))
        self.z_gain = GainUnits(config.levels, nz, torch.zeros(config.levels))
        table = torch.from_numpy(scale_table())
        # Geometric midpoints: σ maps to the table entry nearest in log scale. (CompressAI's
        # "smallest entry ≥ σ" cost this codec 5-8 % of the y rate at low rates.)
        self.register_buffer("scale_boundaries", torch.sqrt(table[:-1] * table[1:]).float(), persistent=False)
        self._coder_state: CoderState | None = None

    def support_slices(self, i: int) -> int:
        return i if self.max_support < 0 else min(i, self.max_support)

    def slice_parameters_float(self, i: int, side: tuple[Tensor, Tensor], decoded: list[Tensor]):
        support = decoded[: self.support_slices(i)]
        mean_support = torch.cat([side[0], *support], dim=1)
        mean = self.cc_mean[i](mean_support)
        scale = self.cc_scale[i](torch.cat([side[1], *support], dim=1))
        return mean, scale, mean_support

    def lrp_correction(self, i: int, mean_support: Tensor, y_hat_slice: Tensor) -> Tensor:
        return 0.5 * torch.tanh(self.lrp[i](torch.cat([mean_support, y_hat_slice], dim=1)))

    def side_float(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        return self.h_mean_s(z_hat), self.h_scale_s(z_hat)

    def gained_latents(self, y: Tensor, quality: Tensor) -> tuple[Tensor, Tensor]:
        """y × gain(q), and z = h_a of it × gain_z(q): the two latents the coder rounds."""
        y_gained = y * self.y_gain.gain(quality)
        return y_gained, self.h_a(y_gained) * self.z_gain.gain(quality)

    def forward(self, y: Tensor, quality: Tensor) -> dict:
        """Training (noise) or evaluation (rounding) pass: ŷ, likelihoods, and ChARM internals."""
        return self.forward_gained(*self.gained_latents(y, quality), quality)

    def forward_gained(self, y_gained: Tensor, z: Tensor, quality: Tensor, quantize: Quantize | None = None) -> dict:
        """The forward from the gained latents, quantised by `quantize` (default: `mixed_quantize`
        in training, `hard_quantize` in evaluation; the encoder's refinement passes its own)."""
        quantize = quantize or (mixed_quantize if self.training else hard_quantize)
        z_relaxed, z_hat = quantize(z, self.prior.medians().view(1, -1, 1, 1))
        z_likelihood = self.prior.likelihood(z_relaxed)
        side = self.side_float(z_hat * self.z_gain.inverse(quality))
        decoded, likelihoods, means, scales = [], [], [], []
        for i, y_slice in enumerate(y_gained.chunk(self.slices, dim=1)):
            mean, scale, mean_support = self.slice_parameters_float(i, side, decoded)
            y_relaxed, y_hat_slice = quantize(y_slice, mean)
            likelihoods.append(gaussian_likelihood(y_relaxed, scale, mean))
            decoded.append(y_hat_slice + self.lrp_correction(i, mean_support, y_hat_slice))
            means.append(mean)
            scales.append(scale)
        y_hat = torch.cat(decoded, dim=1) * self.y_gain.inverse(quality)
        return {
            "y_hat": y_hat,
            "likelihoods": {"y": torch.cat(likelihoods, dim=1), "z": z_likelihood},
            "means": torch.cat(means, dim=1),
            "scales": torch.cat(scales, dim=1),
        }

    # --- coding -------------------------------------------------------------------------------

    def z_tables(self) -> TableSet:
        """Integer tables of the factorized prior; rebuild with `refresh_tables()` after training."""
        if self._coder_state is None:
            self.refresh_tables()
        return self._coder_state.z_tables

    def exact_parameters(self) -> ExactEntropyParameters:
        """The integer entropy-parameter networks (licodec.models.exact), built on first use."""
        if self._coder_state is None:
            self.refresh_tables()
        if self._coder_state.exact is None:
            self._coder_state.exact = ExactEntropyParameters(self, self._coder_state.z_inverse_gain)
        return self._coder_state.exact

    def refresh_tables(self) -> None:
        """Recompute the coder's tables from the current weights (after training, or for weights
        files that do not store them)."""
        pmfs, offsets = self.prior.probability_tables()
        self._coder_state = CoderState(TableSet(pmfs, offsets), z_inverse_gain_table(self.z_gain))

    def coder_tensors(self) -> dict[str, np.ndarray]:
        """What a weights file stores beside the weights so that every machine codes alike: the z
        tables and the integer z inverse gains, computed here once (libm differs by machine)."""
        tables = self.z_tables()
        state = self._coder_state
        width = int(tables.sizes.max())
        pmf = np.zeros((len(tables.pmfs), width))
        for c, p in enumerate(tables.pmfs):
            pmf[c, : len(p)] = p
        return {"coder.z_pmf": pmf, "coder.z_length": tables.sizes, "coder.z_offset": tables.offsets,
                "coder.z_inverse_gain": state.z_inverse_gain}

    def load_coder_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        self._coder_state = CoderState(z_tables_from(tensors), tensors["coder.z_inverse_gain"])

    def __getstate__(self) -> dict:
        """Copies and pickles drop the coder state (constriction models do not pickle); rebuilt on use."""
        state = super().__getstate__()
        return {**state, "_coder_state": None}

    def _z_table_index(self, shape: tuple[int, ...]) -> np.ndarray:
        return z_table_index(shape[1], shape[-2:])

    def scale_index(self, scale: Tensor) -> np.ndarray:
        """Index of the table σ nearest (in log scale) to the predicted σ."""
        return torch.bucketize(scale, self.scale_boundaries).cpu().numpy()

    @torch.no_grad()
    def compress(self, y: Tensor, quality: float, exact: bool = True, trace: list[Tensor] | None = None) -> LatentStreams:
        """`exact=False` takes the float path instead of the integer one: the reference that the
        integer networks' cost is measured against (scripts/exactness_cost.py). Its files are not
        .lic files: they decode only with the same float kernels. `trace`: see `decompress`."""
        y_gained, z = self.gained_latents(y, torch.tensor([quality], device=y.device))
        return self.compress_gained(y_gained, z, quality, exact, trace)

    @torch.no_grad()
    def compress_gained(self, y_gained: Tensor, z: Tensor, quality: float, exact: bool = True,
                        trace: list[Tensor] | None = None) -> LatentStreams:
        """`compress` from the gained latents (`gained_latents`, or the encoder's refinement of
        them): z is rounded about the prior's medians, each y slice about its exact μ."""
        q = torch.tensor([quality], device=y_gained.device)
        medians = self.prior.medians().view(1, -1, 1, 1)
        writer, digest = StreamWriter(), 0
        z_symbols = torch.round(z - medians).clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT)
        writer.write(z_symbols.cpu().numpy(), self._z_table_index(z.shape), self.z_tables())
        digest = z_digest = symbols_crc(z_symbols, digest)
        _record(trace, z_symbols)
        parameters: EntropyParameters = self.exact_parameters() if exact else FloatEntropyParameters(self)
        side = parameters.side(z_symbols, quality)
        decoded: list[Tensor] = []
        for i, y_slice in enumerate(y_gained.chunk(self.slices, dim=1)):
            mean, scale_index, support = parameters.slice_parameters(i, side, decoded)
            mean_real = (mean * 2.0**-MEAN_BITS).to(y_slice)
            symbols = torch.round(y_slice - mean_real).clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT).cpu()
            writer.write(symbols.numpy(), scale_index, gaussian_table_set())
            digest = symbols_crc(symbols, digest)
            decoded.append(parameters.reconstruct(i, symbols, mean, support))
            _record(trace, mean, torch.from_numpy(scale_index), symbols, decoded[-1])
        return LatentStreams(writer.finish(), self._inverse_gained(decoded, q), Digests(digest, z_digest))

    def shortest_stream(self, z_shape: tuple[int, int]) -> int:
        """latent_stream.shortest_stream under this model's z tables."""
        return shortest_stream(self.z_tables(), z_shape)

    @torch.no_grad()
    def decompress(self, data: bytes, z_shape: tuple[int, int], quality: float,
                   bits: list[np.ndarray] | None = None, trace: list[Tensor] | None = None,
                   expected: Digests | None = None) -> tuple[Tensor, Digests]:
        """ŷ (after the inverse gain) and the digests of the decoded symbols. `bits`, if given,
        receives the information of every symbol: z's, then each slice's (`licodec inspect`);
        `trace` receives the z symbols, then per slice μ, σ index, symbols and ŷ (as integers),
        what must be equal in encoder and decoder on any machine (licodec.checks.determinism).

        A damaged or crafted stream costs at most the work its length pays for: one shorter than
        `shortest_stream` is refused before anything is decoded; one that runs out before the
        last slice, when it runs out; `expected` digests are checked as soon as their symbols
        are decoded (z's before any y), so a mismatch never reaches the y networks or g_s."""
        q = torch.tensor([quality], device=self.scale_boundaries.device)
        reader, z_symbols, z_digest = open_stream(data, z_shape, self.z_tables(), expected and expected.z, bits)
        z_symbols = torch.from_numpy(z_symbols).double()
        digest = z_digest
        _record(trace, z_symbols)
        parameters = self.exact_parameters()
        side = parameters.side(z_symbols, quality)
        decoded: list[Tensor] = []
        for i in range(self.slices):
            mean, scale_index, support = parameters.slice_parameters(i, side, decoded)
            symbols = torch.from_numpy(reader.read(scale_index, gaussian_table_set())).double()
            digest = symbols_crc(symbols, digest)
            if i < self.slices - 1:
                check_progress(reader)
            decoded.append(parameters.reconstruct(i, symbols, mean, support))
            _record(trace, mean, torch.from_numpy(scale_index), symbols, decoded[-1])
        reader.finish()
        check_progress(reader, expected and expected.symbols, digest, finished=True)
        return self._inverse_gained(decoded, q), Digests(digest, z_digest)

    def _inverse_gained(self, decoded: list[Tensor], quality: Tensor) -> Tensor:
        """What g_s receives: ŷ (held × 2^10) in real units, times the inverse gain (the model's dtype)."""
        y_hat = torch.cat(decoded, dim=1).to(self.scale_boundaries.device).float() * 2.0**-ACTIVATION_BITS
        return y_hat * self.y_gain.inverse(quality)


def _record(trace: list[Tensor] | None, *tensors: Tensor) -> None:
    if trace is not None:
        trace.extend(t.detach().cpu().to(torch.float64) for t in tensors)


@dataclass
class CoderState:
    """Tables computed once per set of weights (and stored in its file): see `coder_tensors`."""

    z_tables: TableSet
    z_inverse_gain: np.ndarray  # [quality steps, z channels] integers × 2^-16
    exact: ExactEntropyParameters | None = None
