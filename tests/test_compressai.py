"""Our entropy models and GDN give CompressAI's numbers on the same inputs and parameters."""
import pytest
import torch

from licodec.compressai_compat import allow_without_torchvision

allow_without_torchvision()  # the test venv has compressai without torchvision (Makefile)
compressai = pytest.importorskip("compressai", reason="install licodec[compressai] (make test does)")
from compressai.entropy_models import EntropyBottleneck, GaussianConditional  # noqa: E402
from compressai.layers import GDN as ReferenceGDN  # noqa: E402

from licodec.models.entropy_models import FactorizedPrior, gaussian_likelihood  # noqa: E402
from licodec.models.layers import GDN  # noqa: E402


def _copy_parameters(source: torch.nn.Module, target: torch.nn.Module) -> None:
    theirs = dict(source.named_parameters())
    with torch.no_grad():
        for name, param in target.named_parameters():
            param.copy_(theirs[name])


def test_factorized_prior_matches_entropy_bottleneck():
    torch.manual_seed(0)
    reference = EntropyBottleneck(6).eval()
    with torch.no_grad():
        for param in reference.parameters():
            param.add_(0.3 * torch.randn_like(param))
    ours = FactorizedPrior(6)
    _copy_parameters(reference, ours)
    z = 4 * torch.randn(2, 6, 5, 7)
    z_hat, likelihood = reference(z, training=False)
    assert torch.allclose(ours.medians(), reference._get_medians().flatten())
    # A likelihood is a difference of two sigmoids near ½, where a float32 ulp is 6e-8, and CPUs
    # round those differently (this one differed by 2 ulps): allow 4.
    assert torch.allclose(ours.likelihood(z_hat), likelihood, rtol=1e-5, atol=2.5e-7)
    assert torch.allclose(ours.aux_loss(), reference.loss())


def test_gaussian_likelihood_matches_gaussian_conditional():
    torch.manual_seed(1)
    reference = GaussianConditional(None)
    y = 5 * torch.randn(2, 8, 6, 6)
    scales = torch.rand_like(y) * 4  # some below the 0.11 bound
    means = torch.randn_like(y)
    y_hat = torch.round(y - means) + means
    expected = reference.likelihood_lower_bound(reference._likelihood(y_hat, scales, means))
    assert torch.allclose(gaussian_likelihood(y_hat, scales, means), expected, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("inverse", [False, True])
def test_gdn_matches(inverse):
    torch.manual_seed(2)
    reference = ReferenceGDN(5, inverse=inverse)
    with torch.no_grad():
        reference.beta.add_(torch.rand(5))
        reference.gamma.add_(0.1 * torch.rand(5, 5))
    ours = GDN(5, inverse=inverse)
    _copy_parameters(reference, ours)
    x = torch.randn(2, 5, 4, 4)
    assert torch.allclose(ours(x), reference(x), rtol=1e-5, atol=1e-6)


def test_tail_bounds_match_compressais_quantile_search():
    torch.manual_seed(3)
    reference = EntropyBottleneck(4)
    with torch.no_grad():
        for param in reference.parameters():
            param.add_(0.3 * torch.randn_like(param))
    ours = FactorizedPrior(4)
    _copy_parameters(reference, ours)
    lower, upper = ours.double().tail_bounds()
    reference.update(force=True, update_quantiles=True)
    assert torch.allclose(lower.float(), reference.quantiles[:, 0, 0], rtol=1e-4, atol=0.01)
    assert torch.allclose(upper.float(), reference.quantiles[:, 0, 2], rtol=1e-4, atol=0.01)
