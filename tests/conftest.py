"""Test set-up: headless Qt, one torch thread, fixed seeds."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # small 2D networks run fastest on one thread; benches set their own


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
