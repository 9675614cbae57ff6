"""The trainer state handed between the UI process and the training worker process: a copy continues exactly."""

import numpy as np

from playground.app.workers.trainer_state import export_trainer_state, import_trainer_state, recipe_for
from playground.core.training.config import TrainConfig
from playground.core.training.trainer import Trainer
from playground.data.targets.presets import make_preset


def test_trainer_state_round_trip_is_exact():
    """export/import_trainer_state: a trainer continued from a copy takes exactly the same steps."""
    data = make_preset("moons").sample(2000, 0)
    cfg = TrainConfig(hidden=32, depth=2, batch=64, steps=1000, device="cpu", threads=1)  # the app trains on the CPU
    a = Trainer(cfg, data)
    for _ in range(15):
        a.step()
    args, pool = recipe_for(a)
    b = Trainer(*args)
    b.pool = pool
    import_trainer_state(b, export_trainer_state(a))
    la = [a.step().loss for _ in range(5)]
    lb = [b.step().loss for _ in range(5)]
    assert la == lb and b.step_count == a.step_count == 20
    assert np.array_equal(a.flat.detach().numpy(), b.flat.detach().numpy())
