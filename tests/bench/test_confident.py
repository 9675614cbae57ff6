"""bench confident wiring: one tiny run prints the reference classifier, one row per evaluation (steps growing) and a
JSON last line whose 'reached' agrees with the rows and --target."""

import json

import torch

from playground.bench import confident


def test_confident_reports_each_evaluation_and_when_the_target_was_reached(capsys):
    old = torch.get_num_threads()
    try:
        code = confident.main(["--images", "300", "--seconds", "1.5", "--every", "0.5", "--n", "20", "--sample-steps",
                               "2", "--classifier-seconds", "0.5", "--threads", "1", "--base-channels", "4",
                               "--batch", "8", "--target", "0.99", "--precision", "fp32"])
    finally:
        torch.set_num_threads(old)
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert "reference classifier: accuracy" in lines[1]
    result = json.loads(lines[-1])
    rows = result["rows"]
    assert rows and [r["steps"] for r in rows] == sorted(r["steps"] for r in rows) and rows[0]["steps"] > 0
    assert all(0.0 <= r["confident"] <= 1.0 for r in rows)
    first = next((r for r in rows if r["confident"] >= 0.99), None)
    assert result["reached"] == first and (first is None) == ("not within" in lines[-2])
    assert result["speed"].startswith("fp32") and result["data"] == "shapes28"
