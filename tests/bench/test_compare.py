"""bench compare / bench quality wiring: the FM overrides and one tiny end-to-end run of the side-by-side table."""

import torch

from playground.bench import compare
from playground.bench.quality import BENCH_CONFIG, bench_overrides


def test_objective_fm_defaults_to_the_velocity_output():
    assert bench_overrides(["objective=fm", "sde=rf"]) == {**BENCH_CONFIG, "objective": "fm", "sde": "rf", "output": "v"}
    assert bench_overrides(["objective=fm", "output=eps"])["output"] == "eps"
    assert bench_overrides([]) == BENCH_CONFIG
    assert compare.METHODS["FM"]["sde"] == "rf" and compare.METHODS["FM"]["objective"] == "fm"


def test_compare_prints_both_methods_side_by_side(capsys):
    old = torch.get_num_threads()
    try:
        code = compare.main(["--datasets", "8gaussians", "--checkpoints", "0.3", "--n", "600", "--nll-n", "20",
                             "--repeats", "1", "--ladder", "1", "--threads", "1"])
    finally:
        torch.set_num_threads(old)
    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.split()[:2] == ["dataset", "method"]):]
    assert "SWD ratio@0.3s" in table[0] and "NLL - H" in table[0] and "straightness" in table[0]
    assert "Euler NFE" in table[0]
    rows = [line.split() for line in table[2:4]]
    assert [r[:2] for r in rows] == [["8gaussians", "DSM"], ["8gaussians", "FM"]]
