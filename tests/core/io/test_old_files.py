"""Files written before the structure issue (tests/fixtures/format_v1, commit c72e637) still open, and their models
give the numbers they gave then."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import playground
from playground.app.settings import Settings
from playground.core.io.workspace import load_workspace
from playground.core.training.trainer import Trainer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "format_v1"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def _inputs_2d():
    return torch.tensor(EXPECTED["x"]), torch.tensor(EXPECTED["t"])


def _inputs_images():
    return torch.linspace(-1, 1, 2 * 64).reshape(2, 1, 8, 8), torch.tensor([0.1, 0.7]), torch.tensor([3, 7])


def test_old_2d_model_file_gives_the_same_scores():
    model = playground.load_model(FIXTURES / "model_2d.safetensors")
    x, t = _inputs_2d()
    np.testing.assert_allclose(model.score(x, t).detach().numpy(), EXPECTED["score_2d"], rtol=1e-6, atol=1e-6)
    assert model.sde.name == "vp" and model.output == "eps"


def test_old_image_model_file_gives_the_same_scores():
    model = playground.load_model(FIXTURES / "model_images.safetensors")
    x, t, labels = _inputs_images()
    got = model.score(x, t, class_labels=labels).detach().reshape(2, -1).numpy()
    np.testing.assert_allclose(got, EXPECTED["score_images"], rtol=1e-5, atol=1e-5)
    assert model.num_classes == 10 and list(model.class_names) == [str(i) for i in range(10)]


def test_old_model_file_resumes_training():
    data = np.random.default_rng(0).normal(size=(256, 2)).astype(np.float32)
    trainer = Trainer.resume(FIXTURES / "model_2d.safetensors", data, steps=35)
    assert trainer.step_count == 30
    # the file was written on the CPU (it predates the rng_device mark): its generator continues exactly there, and
    # on a GPU the run goes on from a derived seed, with a note
    assert bool(trainer.resume_notes) == (trainer.device.type != "cpu")
    trainer.run()
    assert trainer.step_count == 35


@pytest.mark.parametrize("name", ["workspace_2d.dpw", "workspace_images.dpw"])
def test_old_workspaces_open_with_target_settings_model_and_history(name):
    ws = load_workspace(FIXTURES / name, settings_defaults=Settings().to_dict())
    assert ws.info["format_version"] == 1
    assert ws.settings["hidden"] == 16 and ws.settings["seed"] == 3
    target = ws.build_target()
    assert target.gmm is not None and len(target.gmm.weights) == 2
    hist = ws.train_history()
    assert len(hist.step) > 0 and np.isfinite(hist.loss).all()
    model = ws.load_model()
    if name == "workspace_2d.dpw":
        assert ws.images is None and ws.t == 0.25 and ws.view == {"tab": "gaussians"}
        x, t = _inputs_2d()
        np.testing.assert_allclose(model.score(x, t).detach().numpy(), EXPECTED["score_2d"], rtol=1e-6, atol=1e-6)
    else:
        assert ws.images == {"spec": "digits", "size": 8, "rgb": False} and ws.t == 0.6
        assert len(ws.build_images()) == 1797
        x, t, labels = _inputs_images()
        got = model.score(x, t, class_labels=labels).detach().reshape(2, -1).numpy()
        np.testing.assert_allclose(got, EXPECTED["score_images"], rtol=1e-5, atol=1e-5)
