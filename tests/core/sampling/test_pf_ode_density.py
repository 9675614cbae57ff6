"""The PF-ODE log-density at any t (fixed-step Runge-Kutta in sigma-space): closed forms of a Gaussian and of a
mixture, diffused mixtures at t > eps, the model field against dopri5, guided fields, the error estimate."""

import numpy as np
import pytest
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import make_sde
from playground.core.nets.mlp import ScoreMLP
from playground.core.sampling.likelihood import log_likelihood
from playground.core.sampling.pf_ode_density import (
    choose_steps,
    gmm_class_density_field,
    gmm_density_field,
    model_density_field,
    score_fn_density_field,
    solve_log_density,
)
from playground.core.training.model import ScoreModel
from playground.data.targets.gaussian_mixture import GaussianMixture

GMM = GaussianMixture(
    [0.5, 0.3, 0.2],
    [[-1.5, 0.0], [1.5, 0.5], [0.0, -1.8]],
    [[[0.3, 0.1], [0.1, 0.2]], [[0.15, 0.0], [0.0, 0.4]], [[0.5, -0.2], [-0.2, 0.25]]],
)


def _grid(lo=-3.5, hi=3.5, n=20):
    xs = torch.linspace(lo, hi, n, dtype=torch.float64)
    return torch.stack(torch.meshgrid(xs, xs, indexing="xy"), -1).reshape(-1, 2)


@pytest.mark.parametrize("sde_name", ["vp", "subvp", "ve"])
def test_gaussian_log_density_matches_the_closed_form(sde_name):
    gauss = GaussianMixture([1.0], [[0.5, -0.3]], [[[0.6, 0.25], [0.25, 0.4]]])
    sde = make_sde(sde_name, sigma_max=6.0)
    x = _grid(-2.5, 2.5, 12)
    got = solve_log_density(gmm_density_field(gauss, sde), x, sde.sampling_eps, 64).logp
    true = gauss.log_prob(x, sde.sampling_eps, sde)
    assert (got - true).abs().max() < 1e-3


@pytest.mark.parametrize("t", [1e-3, 0.2, 0.6])
def test_mixture_log_density_at_t_matches_the_diffused_mixture(t):
    """log p_t at t > eps: the ODE starts at t, and the diffused mixture's closed form is the answer."""
    sde = make_sde("vp")
    x = _grid()
    field = gmm_density_field(GMM, sde)
    choice = choose_steps(field, x, t)
    true = GMM.log_prob(x, t, sde)
    relevant = true > -8
    err = (choice.logp - true)[relevant].abs().max().item()
    assert err < 0.01 and choice.error_estimate < 0.01
    assert err < 3 * choice.error_estimate + 1e-4  # the Richardson estimate is not optimistic


@pytest.mark.parametrize("t, sde_name", [(1e-3, "vp"), (0.2, "ve")])
def test_steps_below_the_doubled_count_are_taken_when_their_bound_holds(t, sde_name):
    """Doubling stops at the first power of two (x start_steps) that meets the tolerance, up to 2x more steps than
    needed; 3N/4 (or 7N/8) steps are taken when |l_M - l_N| + e_N <= tol, and that bound holds on the closed form
    (at the pilots and at points the pilots never saw)."""
    sde = make_sde(sde_name, sigma_max=6.0)
    field = gmm_density_field(GMM, sde)
    choice = choose_steps(field, _grid(), t, start_steps=16)
    assert choice.steps in (24, 48, 96) and choice.error_estimate <= 0.01  # 3/4 of 32, 64 or 128
    doubled = choose_steps(field, _grid(), t, steps=choice.steps * 4 // 3)
    assert doubled.error_estimate <= 0.01  # the doubling's own stopping point, which the trim undercut
    others = _grid(-3.3, 3.4, 17)
    true = GMM.log_prob(others, t, sde)
    err = (solve_log_density(field, others, t, choice.steps).logp - true)[true > -8].abs().max().item()
    assert err <= choice.error_estimate + 1e-4


def test_normalised_process_and_data_space_density():
    """A mixture under the SDE on normalised data y = (x - m) / s: log p_t(x) = log p^y_t(y) - D log s."""
    sde = make_sde("ve", sigma_max=4.0)
    norm = Normalization((0.4, -0.2), 1.7)
    x = _grid(-3, 3, 10)
    t = 0.3
    got = solve_log_density(gmm_density_field(GMM, sde, norm), x, t, 48).logp
    true = norm.gmm_to_norm(GMM).log_prob(norm.to_norm(x), t, sde) + norm.log_det_jacobian
    assert (got - true)[true > -8].abs().max() < 5e-3


def test_autograd_field_equals_the_closed_form_field():
    sde = make_sde("vp")
    x = _grid(-2, 2, 4)
    exact = solve_log_density(gmm_density_field(GMM, sde), x, 0.1, 8)
    generic = score_fn_density_field(GMM.score_fn(sde), sde, data_scale=gmm_density_field(GMM, sde).data_scale)
    generic = type(generic)(generic.score_div, sde, generic.normalization, lambda z: GMM.log_prob(z, sde.T, sde),
                            generic.data_scale)
    torch.testing.assert_close(solve_log_density(generic, x, 0.1, 8).logp, exact.logp)


def test_class_field_is_the_component_and_guidance_zero_is_plain():
    sde = make_sde("vp")
    x = _grid(-3, 3, 8)
    comp = GMM.component(1)
    got = solve_log_density(gmm_class_density_field(GMM, sde, 1), x, 0.3, 32).logp
    true = comp.log_prob(x, 0.3, sde)
    assert (got - true)[true > -8].abs().max() < 5e-3
    assert gmm_class_density_field(GMM, sde, 1, guidance=0.0).label == gmm_density_field(comp, sde).label
    guided = solve_log_density(gmm_class_density_field(GMM, sde, 1, guidance=2.0), x, 0.3, 32).logp
    assert torch.isfinite(guided).all() and not torch.allclose(guided, got)


def test_model_field_matches_dopri5():
    """A (random) network's density from the fixed-step solver agrees with torchdiffeq's adaptive dopri5."""
    torch.manual_seed(0)
    net = ScoreMLP(dim=2, hidden=32, depth=2, time_cond="add")
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(0).add_(torch.randn_like(p) * 0.2)
    model = ScoreModel(net, make_sde("vp"), "eps", Normalization((0.3, 0.1), 1.5))
    x = _grid(-3, 3, 5).float()
    got = solve_log_density(model_density_field(model), x, 1e-3, 48).logp
    ref = log_likelihood(model.score_norm, model.sde, model.to_norm(x.double()), eps=1e-3, rtol=1e-6, atol=1e-6,
                         dtype=torch.float64, log_det_jacobian=model.normalization.log_det_jacobian)
    assert (got - ref.logp).abs().max() < 2e-3


def test_bad_arguments():
    sde = make_sde("vp")
    field = gmm_density_field(GMM, sde)
    x = _grid(-1, 1, 2)
    with pytest.raises(ValueError, match="method"):
        solve_log_density(field, x, 0.5, 4, method="euler")
    with pytest.raises(ValueError, match="t must lie"):
        solve_log_density(field, x, 0.0, 4)
    assert torch.allclose(solve_log_density(field, x, 1.0, 4).logp, GMM.log_prob(x, 1.0, sde))  # t = T: the prior
    with pytest.raises(ValueError, match="steps"):
        choose_steps(field, x, 0.5, steps=0)
    unconditional = ScoreModel(ScoreMLP(hidden=8, depth=1), sde)
    with pytest.raises(ValueError, match="class-conditional"):
        model_density_field(unconditional, class_labels=0)
    assert np.isfinite(choose_steps(field, x, 0.5, steps=8).error_estimate)
