"""RD plots (PSNR and MS-SSIM in dB against bpp) with matplotlib, ours beside baselines and anchors."""
from __future__ import annotations

from pathlib import Path

from licodec.bdrate import distortion


def rd_plot(curves: dict[str, dict], kinds: dict[str, str], metric: str, path: Path, title: str) -> None:
    """kinds[name] is "ours" (solid), "baseline" (dashed, measured here) or "anchor" (dotted, published)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    style = {"ours": dict(linestyle="-", linewidth=2.2, marker="o"), "baseline": dict(linestyle="--", marker="."),
             "anchor": dict(linestyle=":", marker="x")}
    ours_bpp = [b for n, c in curves.items() if kinds[n] == "ours" for b in c["results"]["bpp"]]
    x_max = 1.25 * max(ours_bpp) if ours_bpp else None
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name, curve in curves.items():
        values = distortion(curve, metric)
        if values is not None:
            ax.plot(curve["results"]["bpp"], values, label=name, **style[kinds[name]])
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("PSNR-RGB (dB)" if metric == "psnr-rgb" else "MS-SSIM-RGB (dB)")
    ax.set_title(title)
    if x_max:
        ax.set_xlim(0, x_max)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
