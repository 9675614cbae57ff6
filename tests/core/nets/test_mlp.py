"""ScoreMLP and ScoreModel: shapes, configs, and the output-kind / data-space conversions."""

import math

import numpy as np
import pytest
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import make_sde
from playground.core.nets.build import network_from_config
from playground.core.nets.mlp import FourierEmbedding, ScoreMLP
from playground.core.training.model import ScoreModel, build_model


def _randomise(net: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def test_mlp_shapes_and_zero_start():
    net = ScoreMLP(dim=2, hidden=32, depth=2)
    x = torch.randn(7, 2)
    out = net(x, torch.rand(7))
    assert out.shape == (7, 2)
    assert torch.all(out == 0)  # the last layer starts at zero: a calm, finite start
    assert net(x, torch.tensor(0.3)).shape == (7, 2)  # a scalar noise input broadcasts


def test_mlp_flattens_image_shaped_input():
    net = ScoreMLP(dim=16, hidden=16, depth=1)
    _randomise(net)
    x = torch.randn(3, 1, 4, 4)
    assert net(x, torch.zeros(3)).shape == (3, 1, 4, 4)


def test_fourier_embedding():
    emb = FourierEmbedding(n_freqs=4, freq_min=0.5, freq_max=4.0)
    e = emb(torch.tensor([0.0, 0.25]))
    assert e.shape == (2, 9)
    assert torch.allclose(e[0], torch.tensor([0.0] + [0.0] * 4 + [1.0] * 4))
    assert torch.allclose(emb.freqs, 2 * math.pi * torch.tensor([0.5, 1.0, 2.0, 4.0]), rtol=1e-5)


def test_coordinate_features_and_added_time_conditioning():
    net = ScoreMLP(dim=2, hidden=16, depth=3, x_freqs=3, time_cond="add")
    _randomise(net)
    assert net.body[0].in_features == 2 * 7 + net.embed.out_dim
    assert net.cond.out_features == 16 * 2
    x, c = torch.randn(5, 2), torch.rand(5)
    out = net(x, c)
    assert out.shape == (5, 2) and not torch.equal(out, net(x, c + 0.5))  # the noise level matters
    with pytest.raises(ValueError):
        ScoreMLP(time_cond="nope")


def test_network_config_round_trip():
    net = ScoreMLP(dim=3, hidden=24, depth=4, time_embedding="linear", activation="gelu", x_freqs=2, time_cond="add")
    again = network_from_config(net.config())
    assert again.config() == net.config()
    again.load_state_dict(net.state_dict())


@pytest.mark.parametrize("kw", [{"time_embedding": "nope"}, {"activation": "nope"}, {"depth": 0}])
def test_mlp_rejects_bad_arguments(kw):
    with pytest.raises(ValueError):
        ScoreMLP(**kw)


def _model(output: str, sde: str = "vp", norm=None) -> ScoreModel:
    net = ScoreMLP(2, 32, 2)
    _randomise(net, 1)
    s = make_sde(sde, sigma_max=5.0) if sde == "ve" else make_sde(sde)
    return ScoreModel(net, s, output, norm or Normalization((1.5, -2.0), 3.0)).eval()


@pytest.mark.parametrize("output", ["eps", "score", "x0", "edm", "v"])
@pytest.mark.parametrize("sde", ["vp", "subvp", "ve", "rf"])
def test_output_kinds_are_consistent(output, sde):
    """eps_hat = -sigma s, Tweedie's D = (y + sigma^2 s) / alpha, v = f y - g^2 s / 2 (the PF-ODE drift), and the
    data-space maps (module docstring)."""
    m = _model(output, sde)
    y = torch.randn(64, 2, dtype=torch.float64)
    t = torch.rand(64, dtype=torch.float64) * 0.9 + 0.05
    alpha, std = m.sde.marginal_coefficients(t)
    s = m.score_norm(y, t)
    assert s.dtype == torch.float64
    eps = m.eps_norm(y.float(), t.float()).double()
    torch.testing.assert_close(eps, -std[:, None] * s, rtol=1e-4, atol=1e-4)
    d = m.denoise_norm(y, t)
    torch.testing.assert_close(d, (y + std[:, None] ** 2 * s) / alpha[:, None], rtol=1e-4, atol=1e-4)
    v = m.velocity_norm(y, t)
    drift, _ = m.sde.reverse(lambda yy, tt: s, probability_flow=True).sde(y, t)
    torch.testing.assert_close(v, drift, rtol=1e-4, atol=1e-4)
    # data space: x = mean + scale y
    x = m.to_data(y)
    torch.testing.assert_close(m.velocity(x, t), 3.0 * v, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(m.score(x, t), s / 3.0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(m.denoise(x, t), m.to_data(d), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(m.score_fn()(x, t), s / 3.0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(m.score_fn("norm")(y, t), s)


def test_numpy_in_numpy_out():
    m = _model("eps")
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    s = m.score(x, 0.3)
    assert isinstance(s, np.ndarray) and s.dtype == np.float32 and s.shape == (5, 2)
    assert isinstance(m.denoise(x, np.full(5, 0.3)), np.ndarray)


def test_edm_output_uses_preconditioning():
    """With F = 0 the EDM denoiser is c_skip * y: D = sd^2 / (sigma^2 + sd^2) * x_t / alpha."""
    net = ScoreMLP(2, 8, 1)  # zero last layer -> F = 0
    m = ScoreModel(net, make_sde("vp"), "edm", Normalization.identity(2), sigma_data=0.5)
    y = torch.randn(10, 2)
    t = torch.full((10,), 0.4)
    alpha, std = m.sde.marginal_coefficients(t)
    sig = std / alpha
    expect = (0.25 / (sig**2 + 0.25))[:, None] * y / alpha[:, None]
    torch.testing.assert_close(m.denoise_norm(y, t), expect)


def test_build_model_from_config():
    m = _model("x0", "ve")
    again = build_model(m.model_config())
    again.net.load_state_dict(m.net.state_dict())
    y = torch.randn(4, 2)
    t = torch.full((4,), 0.5)
    torch.testing.assert_close(again.score_norm(y, t), m.score_norm(y, t))
    assert again.sde.config() == m.sde.config()
    assert again.normalization == m.normalization


def _autograd_trace(fn, x):
    with torch.enable_grad():
        xx = x.clone().requires_grad_(True)
        out = fn(xx)
        cols = [torch.autograd.grad(out[:, i].sum(), xx, retain_graph=True)[0][:, i] for i in range(x.shape[1])]
    return sum(cols)


@pytest.mark.parametrize("options", [
    {}, {"x_freqs": 4, "time_cond": "add"}, {"time_cond": "add", "activation": "gelu"},
    {"num_classes": 3, "activation": "softplus", "depth": 1}, {"num_classes": 2, "x_freqs": 2, "time_cond": "add"},
])  # fmt: skip
def test_forward_with_trace_is_the_exact_divergence(options):
    net = ScoreMLP(dim=2, hidden=24, depth=options.pop("depth", 3), **options)
    _randomise(net)
    x, c = torch.randn(50, 2, dtype=torch.float64), torch.rand(50, dtype=torch.float64)
    net = net.double()
    labels = torch.arange(50) % (net.num_classes + 1) if net.num_classes else None
    out, trace = net.forward_with_trace(x, c, labels)
    torch.testing.assert_close(out, net(x, c, labels))
    torch.testing.assert_close(trace, _autograd_trace(lambda v: net(v, c, labels), x))


@pytest.mark.parametrize("options", [{}, {"x_freqs": 3}, {"num_classes": 2}, {"num_classes": 2, "time_cond": "concat"}])
def test_a_shared_noise_level_gives_what_a_per_sample_one_gives(options):
    """One noise level for the whole batch (a scalar or one element, as the density solver passes) folds the
    embedding into one bias row per layer: the outputs and traces equal those of the level repeated per sample."""
    net = ScoreMLP(dim=2, hidden=24, depth=3, **options).double()
    _randomise(net)
    x = torch.randn(40, 2, dtype=torch.float64)
    for labels in ([None, 1, torch.arange(40) % 3] if net.num_classes else [None]):
        for c in (torch.tensor(0.3, dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64), 0.3):
            per_sample = torch.full((40,), 0.3, dtype=torch.float64)
            torch.testing.assert_close(net(x, c, labels), net(x, per_sample, labels))
            out, trace = net.forward_with_trace(x, c, labels)
            ref_out, ref_trace = net.forward_with_trace(x, per_sample, labels)
            torch.testing.assert_close(out, ref_out)
            torch.testing.assert_close(trace, ref_trace)


def test_conditional_mlp_labels_null_class_and_config():
    net = ScoreMLP(dim=2, hidden=16, depth=2, num_classes=3)
    _randomise(net)
    x, c = torch.randn(6, 2), torch.rand(6)
    assert net.null_class == 3 and ScoreMLP().null_class is None
    torch.testing.assert_close(net(x, c), net(x, c, 3))  # None is the null class
    assert not torch.allclose(net(x, c, 0), net(x, c, 1))
    rebuilt = network_from_config(net.config())
    rebuilt.load_state_dict(net.state_dict())
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    torch.testing.assert_close(rebuilt(x, c, labels), net(x, c, labels))
    assert "num_classes" not in ScoreMLP().config()  # unconditional configs (and model files) are unchanged
    with pytest.raises(ValueError, match="unconditional"):
        ScoreMLP()(x, c, 0)
    with pytest.raises(ValueError, match="class_labels"):
        net(x, c, 4)


@pytest.mark.parametrize("output", ["eps", "score", "x0", "edm"])
@pytest.mark.parametrize("sde_name", ["vp", "ve"])
def test_score_model_divergence_matches_autograd(output, sde_name):
    net = ScoreMLP(dim=2, hidden=16, depth=2, x_freqs=2)
    _randomise(net)
    model = ScoreModel(net.double(), make_sde(sde_name, sigma_max=5.0), output, sigma_data=0.8)
    y = torch.randn(40, 2, dtype=torch.float64) * 2
    t = torch.rand(40, dtype=torch.float64) * 0.9 + 0.05
    score, div = model.score_norm_and_divergence(y, t)
    torch.testing.assert_close(score, model.score_norm(y, t))
    torch.testing.assert_close(div, _autograd_trace(lambda v: model.score_norm(v, t), y))
