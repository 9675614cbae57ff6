"""The forward view computes only the particles it draws: as dots over an exact p_t, the first dots.max_points; all
of them (once) where they are needed (the particles' histogram as p_t, the density style, particles())."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from playground.app.panels.forward_panel import ForwardPanel  # noqa: E402
from tests.app.panels.test_panels import make_state  # noqa: E402


def test_dots_are_the_first_particles_and_all_are_there_on_demand(qtbot, keep):
    st = make_state(n_forward=30000)  # eight Gaussians: p_t in closed form
    p = keep(ForwardPanel(st, dots_max=5000))
    st.set_time(0.4)
    p.redraw()
    full = p.compute_particles(0.4)
    assert len(full) == 30000 and p.dots.count == 5000
    np.testing.assert_allclose(p.dots.points, full[:5000], rtol=1e-6)
    assert p._x is None  # nothing drew all of them
    np.testing.assert_array_equal(p.particles(), full)
    p.particle_style.setCurrentIndex(p.particle_style.findData("density"))
    p.redraw()
    assert p.particle_density.counts.sum() > 25000  # all particles in the view, not the 5,000 dots
