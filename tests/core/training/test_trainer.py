"""Trainer: learns the exact Gaussian score, reaches the exact eps-loss minimum, stops, resumes, guards divergence."""

import math
import threading

import numpy as np
import pytest
import torch

from playground.core.diffusion.objectives import Objective
from playground.core.training.checkpoint import continuation_seed
from playground.core.training.config import TrainConfig, TrainingDiverged
from playground.core.training.device import resolve_device
from playground.core.training.history import StepStats
from playground.core.training.model_file import read_model_file
from tests.core.training.rng_files import saved_elsewhere
from playground.core.training.trainer import Trainer

M = np.array([2.0, -1.0])
S = 0.5
SMALL = dict(hidden=64, depth=2, batch=256, threads=None)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny networks run fastest (and steadiest on a busy machine) on one thread; restored afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def gaussian(n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, 2)) * S + M).astype(np.float32)


@pytest.fixture(scope="module")
def gaussian_trainer():
    """800 steps of eps-DSM on N(m, s^2 I) (a few seconds on one CPU core)."""
    tr = Trainer(TrainConfig(steps=800, lr=5e-3, **SMALL), gaussian(20000, 0))
    tr.run()
    return tr


def test_learned_score_matches_the_exact_score(gaussian_trainer):
    """Relative RMS error of the learned data-space score against the exact one, x_t drawn from p_t.

    Bound: DSM with lambda = sigma^2 fits eps_hat = -sigma s; its excess loss here is ~1e-3 (next test), an RMS eps
    error of ~0.03, i.e. a relative score error of ~0.03 * sqrt(alpha^2 s_n^2 + sigma^2) / sigma: about 0.15 at
    t = 0.05 (sigma ~ 0.2), a few percent for t >= 0.2. The bounds leave ~2x slack for the seed and the short run.
    (Below t ~ 0.02 the 1/sigma factor makes the relative error large for any eps-model: not tested.)"""
    model = gaussian_trainer.snapshot()
    sde, scale, mean = model.sde, model.scale, torch.as_tensor(model.mean)
    g = torch.Generator().manual_seed(5)
    for t, bound in ((0.05, 0.3), (0.2, 0.08), (0.5, 0.06), (0.9, 0.06)):
        a, sd = sde.marginal_coefficients(torch.tensor(t, dtype=torch.float64))
        var = a**2 * S**2 + scale**2 * sd**2  # data-space x_t = mean + scale * y_t
        mu = mean * (1 - a) + a * torch.as_tensor(M)
        x = mu + var.sqrt() * torch.randn(20000, 2, generator=g, dtype=torch.float64)
        exact = -(x - mu) / var
        est = model.score(x, t)
        rel = float(((est - exact).square().sum(1).mean() / exact.square().sum(1).mean()).sqrt())
        assert rel < bound, (t, rel)


def test_eps_loss_reaches_its_exact_minimum(gaussian_trainer):
    """E_t[alpha^2 s_n^2 / (alpha^2 s_n^2 + sigma^2)] per dimension (s_n = s / scale: the normalised std),
    by quadrature; the model's loss on 200k fresh points must lie within 0.01 above it (and not below it by more
    than the Monte Carlo error)."""
    model = gaussian_trainer.snapshot()
    sde = model.sde
    sn2 = (S / model.scale) ** 2
    tg = torch.linspace(1e-5, 1, 20001, dtype=torch.float64)
    a, sd = sde.marginal_coefficients(tg)
    expect = float(torch.trapezoid(a**2 * sn2 / (a**2 * sn2 + sd**2), tg) / (1 - 1e-5))
    y0 = model.to_norm(torch.as_tensor(gaussian(200_000, 1)))
    with torch.no_grad():
        per, _ = Objective(sde, "dsm", "song")(model, y0, torch.Generator().manual_seed(9))
    loss = float(per.mean())
    se = float(per.std()) / math.sqrt(len(per))
    assert expect - 4 * se < loss < expect + 0.01 + 4 * se, (loss, expect, se)


def test_log_prob_matches_the_gaussian_density(gaussian_trainer):
    model = gaussian_trainer.snapshot()
    x = gaussian(200, 3).astype(np.float64)
    lp = model.log_prob(x)
    exact = -((x - M) ** 2).sum(1) / (2 * S * S) - np.log(2 * np.pi * S * S)
    assert lp.shape == (200,)
    assert abs(float((lp - exact).mean())) < 0.05


def test_history_and_stats(gaussian_trainer):
    h = gaussian_trainer.history
    assert h.step[-1] == 800 == gaussian_trainer.step_count and len(h.loss) == 800
    assert np.all(np.isfinite(h.loss)) and np.all(np.isfinite(h.bin_loss))
    assert h.bin_loss.shape == (10,) and len(h.bin_edges) == 11
    # eps-loss per time bin falls with t for Gaussian data (alpha^2 s^2 / (alpha^2 s^2 + sigma^2) decreases)
    assert h.bin_loss[0] > h.bin_loss[-1]
    assert h.lr[0] < h.lr[150]  # warm-up
    assert h.lr[-1] < 0.1 * max(h.lr)  # cosine decay to the floor
    assert gaussian_trainer.last_stats.step == 800


def _tiny(**kw) -> TrainConfig:
    base = dict(hidden=32, depth=2, batch=64, steps=200, threads=None, warmup=10)
    base.update(kw)
    return TrainConfig(**base)


def test_run_stops_on_steps_seconds_callback_and_should_stop():
    tr = Trainer(_tiny(device="cpu"), gaussian(2000, 0))  # per-step losses: the CPU's check_every = 1
    assert tr.run(max_steps=7).step == 7
    tr.run(max_seconds=0.05)
    assert tr.train_seconds >= 0.05
    seen: list[StepStats] = []
    tr.run(max_steps=50, callback=lambda s: seen.append(s) or len(seen) >= 3)
    assert len(seen) == 3 and seen[-1].step == seen[0].step + 2
    n = tr.step_count
    calls = iter(range(100))
    tr.run(max_steps=100, should_stop=lambda: next(calls) >= 4)
    assert tr.step_count == n + 4
    stats = tr.step()  # pause / resume / single steps come from calling step() and run() again
    assert stats.step == n + 5 and math.isfinite(stats.loss) and stats.lr > 0
    tr.run()  # the config's total of 200 steps
    assert tr.step_count == 200
    with pytest.raises(ValueError):
        Trainer(_tiny(steps=None), gaussian(100, 0)).run()


def test_same_seed_same_run_and_data_callable():
    a = Trainer(_tiny(steps=30), gaussian(3000, 0))
    b = Trainer(_tiny(steps=30), gaussian(3000, 0))
    a.run()
    for _ in range(30):
        b.step()
    b.flush()  # on a GPU (check_every 50) the 30 bare steps are recorded here; on the CPU each step was already
    assert len(b.history.loss) == 30 and a.history.loss == b.history.loss
    c = Trainer(_tiny(steps=30, pool=1000), lambda n, seed: gaussian(n, seed))
    assert c.pool.shape == (1000, 2)
    c.run()


def test_resume_continues_exactly(tmp_path):
    data = gaussian(4000, 0)
    full = Trainer(_tiny(steps=60), data)
    full.run()
    part = Trainer(_tiny(steps=60), data)
    part.run(max_steps=25)
    path = tmp_path / "half.safetensors"
    part.save(path)
    again = Trainer.resume(path, data)
    assert again.step_count == 25 and len(again.history.loss) == 25 and again.resume_notes == []
    assert read_model_file(path)[0]["trainer"]["rng_device"] == again.device.type
    again.run()
    assert again.step_count == 60
    np.testing.assert_array_equal(np.asarray(again.history.loss), np.asarray(full.history.loss))
    for p, q in zip(again.snapshot().net.parameters(), full.snapshot().net.parameters()):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize("rng_device", ["cuda", None])
def test_resume_on_another_device_type_continues_with_a_derived_seed_and_says_so(tmp_path, rng_device):
    """A run saved on a GPU resumes on the CPU (and vice versa): its generator state cannot be restored there, so
    batches continue from a generator seeded by continuation_seed(seed, step), the same each time, with a note."""
    data = gaussian(4000, 0)
    part = Trainer(_tiny(steps=60, device="cpu", seed=3), data)
    part.run(max_steps=25)
    part.save(tmp_path / "half.safetensors")
    path = saved_elsewhere(tmp_path / "half.safetensors", tmp_path / "gpu.safetensors", rng_device)
    runs = []
    for _ in range(2):
        again = Trainer.resume(path, data, device="cpu")
        assert again.step_count == 25 and torch.equal(again.flat, part.flat)
        expected = torch.Generator().manual_seed(continuation_seed(3, 25)).get_state()
        assert torch.equal(again.generator.get_state(), expected)
        (note,) = again.resume_notes
        saved = "cuda" if rng_device else "another device type"
        assert f"saved on {saved} and cannot continue on cpu" in note and "not bit-identical" in note
        again.run()
        assert again.step_count == 60 and np.isfinite(again.history.loss).all()
        runs.append(again.history.loss)
    assert runs[0] == runs[1]
    assert continuation_seed(3, 25) != continuation_seed(3, 26) != continuation_seed(4, 25)


def test_divergence_restores_the_last_good_weights():
    tr = Trainer(_tiny(lr=1e6, lr_schedule="constant", warmup=0, grad_clip=None, steps=500), gaussian(2000, 0))
    with pytest.raises(TrainingDiverged) as info:
        tr.run()
    msg = str(info.value)
    assert "diverged at step" in msg and "loss" in msg and "learning rate" in msg
    err = info.value
    good = tr._good
    assert err.good_step == tr.step_count == good["step"] < err.step
    assert torch.equal(tr.flat, good["flat"]) and torch.equal(tr.ema_flat, good["ema"])
    assert bool(torch.isfinite(tr.flat).all()) and bool(torch.isfinite(tr.ema_flat).all())
    assert len(tr.history.loss) == tr.step_count
    model = tr.snapshot()
    assert np.isfinite(model.score(gaussian(10, 1), 0.5)).all()


def test_exploding_loss_is_caught():
    tr = Trainer(_tiny(steps=100, device="cpu"), gaussian(2000, 0))  # checked at every step: the CPU rule
    tr.run(max_steps=30)
    tr.explode_factor = 1e-9  # any loss now counts as an explosion
    before = tr.flat.clone()
    with pytest.raises(TrainingDiverged, match="exploding"):
        tr.step()
    assert tr.step_count == 0 and torch.equal(tr.flat, tr._good["flat"])
    assert not torch.equal(before, tr.flat)


def test_gpu_check_rule_records_the_history_at_each_check_and_on_flush():
    """The GPU path's rule (check_every = 50: no host sync in between), run on the CPU: losses are NaN between
    checks, the history catches up at each check and on flush(), with the values a per-step check records."""
    per_step = Trainer(_tiny(steps=120, device="cpu"), gaussian(2000, 0))
    per_step.run(max_steps=90)
    tr = Trainer(_tiny(steps=120, device="cpu"), gaussian(2000, 0))
    tr.check_every = 50
    stats = [tr.step() for _ in range(30)]
    assert all(math.isnan(s.loss) for s in stats) and tr.history.loss == []
    tr.flush()
    assert tr.history.step == list(range(1, 31))
    for _ in range(50):
        stats.append(tr.step())
        if len(stats) == 79:
            assert len(tr.history.loss) == 30 and math.isnan(stats[-1].loss)
    assert tr.history.step == list(range(1, 81)) and math.isfinite(stats[-1].loss)  # the check at step 80
    tr.run(max_steps=10)  # run() flushes when it returns
    assert tr.history.step == list(range(1, 91))
    np.testing.assert_allclose(tr.history.loss, per_step.history.loss, rtol=1e-5)


def test_gpu_check_rule_catches_an_explosion_at_the_check_and_restores_the_last_good_state():
    tr = Trainer(_tiny(steps=300, device="cpu"), gaussian(2000, 0))
    tr.check_every = 50
    tr.run(max_steps=100)  # the check at step 100 passes; the last good state is saved there
    good = tr.flat.clone()
    assert tr._good["step"] == 100
    tr.explode_factor = 1e-9  # any loss now counts as an explosion
    with pytest.raises(TrainingDiverged, match="exploding") as info:
        tr.run(max_steps=50)
    assert info.value.step == 101 and info.value.good_step == tr.step_count == 100  # the first unchecked step
    assert torch.equal(tr.flat, good) and len(tr.history.loss) == 100 and not tr._pending


def test_snapshot_is_a_cpu_copy_safe_while_training():
    tr = Trainer(_tiny(steps=400), gaussian(2000, 0))
    tr.run(max_steps=20)
    snap = tr.snapshot()
    assert not snap.training and snap.device.type == "cpu"
    x = gaussian(16, 2)
    before = snap.score(x, 0.3)
    errors: list = []

    def grab():
        try:
            for _ in range(20):
                m = tr.snapshot()
                assert np.isfinite(m.score(x, 0.3)).all()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    th = threading.Thread(target=grab)
    th.start()
    tr.run(max_steps=100)
    th.join()
    assert not errors
    np.testing.assert_array_equal(before, snap.score(x, 0.3))  # the snapshot did not move with training
    assert snap.config["steps_done"] == 20


@pytest.mark.parametrize(
    "kw",
    [
        dict(sde="subvp"),
        dict(sde="ve"),
        dict(output="score"),
        dict(output="x0", weighting="edm"),
        dict(output="edm", weighting="edm", sde="ve"),
        dict(weighting="likelihood"),
        dict(objective="ssm"),
        dict(sde="rf"),
        dict(sde="rf", objective="fm", output="v"),
        dict(sde="rf", objective="fm", output="v", weighting="edm"),
        dict(sde="rf", objective="ssm", output="v"),
        dict(objective="fm", output="eps"),
    ],
)
def test_every_setting_trains(kw):
    tr = Trainer(_tiny(steps=20, **kw), gaussian(2000, 0))
    tr.run()
    assert np.all(np.isfinite(tr.history.loss))
    x = tr.snapshot().sample(50, steps=20)
    assert x.shape == (50, 2) and np.isfinite(x).all()


def test_config_round_trip_and_validation():
    assert TrainConfig().resolved_x_freqs() == 0 and TrainConfig(output="edm").resolved_x_freqs() == 8
    assert TrainConfig(output="eps", x_freqs=4).resolved_x_freqs() == 4
    cfg = TrainConfig(sde="ve", sigma_max=3.0, steps=None, seconds=2.5)
    assert TrainConfig.from_dict({**cfg.to_dict(), "unknown": 1}) == cfg
    assert TrainConfig(output="v").resolved_x_freqs() == 8
    bad_settings = (dict(sde="x"), dict(output="x"), dict(lr=-1.0), dict(weighting="x"), dict(device="tpu"),
                    dict(objective="fm", weighting="likelihood"))
    for bad in bad_settings:
        with pytest.raises(ValueError):
            Trainer(TrainConfig(**bad), gaussian(100, 0))
    with pytest.raises(ValueError):
        Trainer(TrainConfig(), np.array([[np.nan, 0.0], [1.0, 1.0]]))


def test_devices_and_threads():
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")
    old = torch.get_num_threads()
    try:
        tr = Trainer(_tiny(threads=1), gaussian(100, 0))
        assert tr.threads == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


def test_deferred_checks_as_on_gpus():
    """The GPU path (checks every k steps, no per-step sync), exercised on the CPU."""
    tr = Trainer(_tiny(steps=40), gaussian(2000, 0))
    tr.check_every = 5
    ref = Trainer(_tiny(steps=40), gaussian(2000, 0))
    tr.run()
    ref.run()
    assert tr.history.step == list(range(1, 41)) and np.allclose(tr.history.loss, ref.history.loss, rtol=1e-5)
    bad = Trainer(_tiny(lr=1e6, lr_schedule="constant", warmup=0, steps=300), gaussian(2000, 0))
    bad.check_every = 7
    with pytest.raises(TrainingDiverged):
        bad.run()
    assert bad.step_count == bad._good["step"] and torch.equal(bad.flat, bad._good["flat"])
    assert bool(torch.isfinite(bad.flat).all()) and len(bad.history.loss) == bad.step_count


def test_flow_matching_learns_the_velocity_of_a_gmm():
    """600 steps of rectified flow (fm, v output) on a 3-component GMM: the learned velocity field is far closer to the
    exact one, v = f y - g^2 s / 2 from the mixture's closed-form score, than the untrained network's (10x in mean
    squared error), and its Heun samples are far closer to the target (SWD ratio)."""
    from playground.core.evaluation.metrics import swd_report
    from playground.data.targets.gaussian_mixture import GaussianMixture

    gmm = GaussianMixture([0.5, 0.3, 0.2], [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
                          [[[0.3, 0.1], [0.1, 0.2]], [[0.2, 0.0], [0.0, 0.3]], [[0.4, 0.0], [0.0, 0.1]]])
    data = lambda n, seed: gmm.sample(n, torch.Generator().manual_seed(seed)).numpy()  # noqa: E731
    cfg = TrainConfig(sde="rf", objective="fm", output="v", steps=600, **SMALL)
    trainer = Trainer(cfg, data)
    untrained = trainer.snapshot("raw")
    trainer.run()
    model = trainer.snapshot()
    exact_norm = trainer.normalization.gmm_to_norm(gmm)
    g = torch.Generator().manual_seed(3)
    y0 = model.to_norm(torch.as_tensor(data(20000, 9), dtype=torch.float64))
    t = 0.02 + 0.96 * torch.rand(len(y0), generator=g, dtype=torch.float64)
    alpha, std = model.sde.marginal_coefficients(t)
    y = alpha[:, None] * y0 + std[:, None] * torch.randn(y0.shape, generator=g, dtype=torch.float64)
    exact = model.sde.reverse(exact_norm.score_fn(model.sde), probability_flow=True).sde(y, t)[0]
    errors = {}
    for name, m in (("trained", model), ("untrained", untrained)):
        errors[name] = float((m.velocity_norm(y, t) - exact).square().sum(1).mean())
    assert errors["trained"] < 0.1 * errors["untrained"], errors
    ratios = {name: swd_report(m.sample(4000, sampler="ode_heun", steps=20, seed=1), data, seed=2).swd_ratio
              for name, m in (("trained", model), ("untrained", untrained))}
    # the untrained network outputs v = 0: its samples are the prior, a blob with the data's mean and scale (ratio ~3)
    assert ratios["trained"] < 1.5 and ratios["untrained"] > 2 * ratios["trained"], ratios


def test_conditional_mlp_learns_each_components_score(tmp_path):
    """Labels = mixture components, label dropout 0.2: the class score approaches the component's own diffused score
    and the null class the mixture's; the model file keeps the classes."""
    from playground.core.diffusion.guidance import gmm_conditional_score_fn
    from playground.core.training.model_file import load_model
    from playground.data.targets.gaussian_mixture import GaussianMixture

    gmm = GaussianMixture([0.5, 0.5], [[-2.0, 0.0], [2.0, 0.5]], [np.eye(2) * 0.25, np.eye(2) * 0.16])
    x, labels = gmm.sample(8192, torch.Generator().manual_seed(0), return_labels=True)
    cfg = TrainConfig(steps=800, label_dropout=0.2, **SMALL)
    trainer = Trainer(cfg, x.numpy().astype(np.float32), labels=labels.numpy(), class_names=("left", "right"))
    trainer.run()
    path = tmp_path / "cond.safetensors"
    trainer.save(path)
    model = load_model(path)
    assert model.num_classes == 2 and model.null_class == 2 and model.class_names == ("left", "right")
    norm = model.normalization
    exact = gmm_conditional_score_fn(norm.gmm_to_norm(gmm), model.sde)
    y = norm.to_norm(gmm.sample(500, torch.Generator().manual_seed(1)).float())
    t = torch.full((500,), 0.3)
    for k in (0, 1, None):
        learned = model.score_norm(y, t, k)
        err = (learned - exact(y, t, k).float()).norm(dim=1).mean() / exact(y, t, k).norm(dim=1).mean()
        assert err < 0.15, (k, float(err))
    other = (model.score_norm(y, t, 0) - exact(y, t, 1).float()).norm(dim=1).mean()
    assert other > 3 * (model.score_norm(y, t, 0) - exact(y, t, 0).float()).norm(dim=1).mean()
