"""BD-rate and BD-PSNR (Bjøntegaard, VCEG-M33) of RD curves in CompressAI's results schema,
computed by the `bjontegaard` package over the range where the two curves overlap."""
from __future__ import annotations

import math
import warnings

import bjontegaard
import numpy as np

METHOD = "pchip"  # monotone piecewise-cubic interpolation, as the JVET common test conditions use
MIN_OVERLAP = 0.5  # below this the BD integral is mostly extrapolation: no number rather than a wrong one


def distortion(curve: dict, metric: str) -> list[float] | None:
    """A curve's quality axis: "psnr-rgb", or "ms-ssim-db" (−10·log10(1 − MS-SSIM))."""
    results = curve["results"]
    if metric == "ms-ssim-db":
        if "ms-ssim-db-rgb" in results:
            return results["ms-ssim-db-rgb"]
        linear = results.get("ms-ssim-rgb")
        if linear is None or any(v is None for v in linear):
            return None
        return [-10 * math.log10(max(1 - v, 1e-12)) for v in linear]
    values = results.get(metric)
    return None if values is None or any(v is None for v in values) else values


def overlap(reference: list[float], test: list[float]) -> float:
    """Fraction of the test curve's quality range that the reference also covers."""
    low, high = max(min(reference), min(test)), min(max(reference), max(test))
    return max(0.0, high - low) / (max(test) - min(test)) if max(test) > min(test) else 0.0


def _rises(rates: list[float], qualities: list[float]) -> bool:
    """Quality strictly rising with rate: what the interpolation (and a BD integral) needs."""
    ordered = [q for _, q in sorted(zip(rates, qualities))]
    return all(a < b for a, b in zip(ordered, ordered[1:]))


def compare(reference: dict, test: dict, metric: str = "psnr-rgb") -> dict | None:
    """{"bd_rate": %, "bd_quality": dB, "overlap": fraction}, or None where the curves share less
    than MIN_OVERLAP of the test curve's quality range, where a curve's quality does not rise
    strictly with its rate (an early training curve with a plateau), or where a curve lacks the
    metric or has < 2 points."""
    ref_q, test_q = distortion(reference, metric), distortion(test, metric)
    if ref_q is None or test_q is None or min(len(ref_q), len(test_q)) < 2:
        return None
    shared = overlap(ref_q, test_q)
    rising = _rises(reference["results"]["bpp"], ref_q) and _rises(test["results"]["bpp"], test_q)
    if shared < MIN_OVERLAP or not rising:
        return None
    args = (reference["results"]["bpp"], ref_q, test["results"]["bpp"], test_q)
    with warnings.catch_warnings():  # bjontegaard warns on partial overlap; we report it instead
        warnings.simplefilter("ignore")
        rate = bjontegaard.bd_rate(*args, method=METHOD, require_matching_points=False)
        quality = bjontegaard.bd_psnr(*args, method=METHOD, require_matching_points=False)
    if not (np.isfinite(rate) and np.isfinite(quality)):
        return None
    return {"bd_rate": float(rate), "bd_quality": float(quality), "overlap": round(shared, 3)}


def pareto_front(curve: dict, metric: str = "psnr-rgb") -> dict:
    """The curve's points that no cheaper point matches in quality: what a user of the model can
    get (a level whose PSNR is below a cheaper level's is never worth choosing). An early training
    curve that plateaus then has a rising curve that the BD measures accept."""
    results = curve["results"]
    points = sorted(zip(results["bpp"], distortion(curve, metric) or []))
    front, best = [], -math.inf
    for rate, quality in points:
        if quality > best:
            front.append((rate, quality))
            best = quality
    return {**curve, "results": {"bpp": [r for r, _ in front], metric: [q for _, q in front]}}


def psnr_at_equal_rates(reference: dict, test: dict) -> float | None:
    """BD-PSNR (dB) over the rates both curves cover: for curves whose PSNR ranges hardly meet
    (an early training curve against its teacher), where `compare` gives nothing. None where the
    shared log-rate range is under MIN_OVERLAP of the test curve's, or a curve's PSNR does not rise."""
    ref_q, test_q = distortion(reference, "psnr-rgb"), distortion(test, "psnr-rgb")
    if ref_q is None or test_q is None or min(len(ref_q), len(test_q)) < 2:
        return None
    ref_rates, test_rates = reference["results"]["bpp"], test["results"]["bpp"]
    if not (_rises(ref_rates, ref_q) and _rises(test_rates, test_q)):
        return None
    if overlap([math.log(r) for r in ref_rates], [math.log(r) for r in test_rates]) < MIN_OVERLAP:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quality = bjontegaard.bd_psnr(ref_rates, ref_q, test_rates, test_q, method=METHOD,
                                      require_matching_points=False)
    return float(quality) if np.isfinite(quality) else None


def table(reference_name: str, reference: dict, curves: dict[str, dict]) -> tuple[list[dict], str]:
    """Rows (JSON) and a markdown table of every curve against the reference."""
    rows = []
    for name, curve in curves.items():
        psnr, msssim = compare(reference, curve, "psnr-rgb"), compare(reference, curve, "ms-ssim-db")
        rows.append({"codec": name, "psnr": psnr, "ms-ssim-db": msssim})
    cell = lambda r, key, unit: "—" if r is None else f"{r[key]:+.2f}{unit}"  # noqa: E731
    lines = [f"BD against **{reference_name}** (negative BD-rate = fewer bits at equal quality); "
             "overlap = share of the curve's PSNR range the reference covers; — where that share is under "
             f"{MIN_OVERLAP:.0%} (or the metric is missing).", "",
             "| codec | BD-rate (PSNR) | BD-PSNR | overlap | BD-rate (MS-SSIM dB) |",
             "|---|---|---|---|---|"]
    for row in rows:
        p, m = row["psnr"], row["ms-ssim-db"]
        overlap_cell = "—" if p is None else f"{p['overlap']:.0%}"
        lines.append(f"| {row['codec']} | {cell(p, 'bd_rate', ' %')} | {cell(p, 'bd_quality', ' dB')} | "
                     f"{overlap_cell} | {cell(m, 'bd_rate', ' %')} |")
    return rows, "\n".join(lines) + "\n"
