"""Networks: transforms (g_a, g_s), Swin-V2 attention, entropy models and the ChARM latent codec."""
from licodec.models.codec import LicModel

__all__ = ["LicModel"]
