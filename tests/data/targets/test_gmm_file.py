"""GMM JSON files: a good file loads exactly; each bad file gives one DataError naming the file and the problem."""

import json
import math
import re

import numpy as np
import pytest
import torch

from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.data.targets.gmm_file import load_gmm_json
from playground.data.targets.target import DataError

GOOD = {
    "weights": [2.0, 1.0, 1.0],
    "means": [[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]],
    "covariances": [[[0.5, 0.2], [0.2, 0.3]], [[0.2, 0.0], [0.0, 0.2]], [[1.0, -0.4], [-0.4, 0.5]]],
}


def write_json(tmp_path, content, name="gmm.json"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_good_file_loads_normalised_with_entropy(tmp_path):
    target = load_gmm_json(write_json(tmp_path, GOOD))
    gmm = target.gmm
    np.testing.assert_allclose(gmm.weights.numpy(), [0.5, 0.25, 0.25])
    np.testing.assert_allclose(gmm.means.numpy(), GOOD["means"])
    np.testing.assert_allclose(gmm.covariances.numpy(), GOOD["covariances"])
    assert target.name == "gmm.json" and target.params["path"].endswith("gmm.json")
    assert target.entropy == pytest.approx(gmm.entropy(), abs=1e-9)  # same Monte Carlo samples, faster evaluation
    x = target.sample(4000, 0)
    assert x.shape == (4000, 2)
    np.testing.assert_allclose(x.mean(0), gmm.weights.numpy() @ gmm.means.numpy(), atol=0.1)
    probe = torch.as_tensor(x[:50], dtype=torch.float64)
    np.testing.assert_allclose(target.log_density(x[:50]), gmm.log_prob(probe).numpy(), rtol=1e-10)


def test_missing_weights_mean_equal_weights(tmp_path):
    target = load_gmm_json(write_json(tmp_path, {k: v for k, v in GOOD.items() if k != "weights"}))
    np.testing.assert_allclose(target.gmm.weights.numpy(), [1 / 3] * 3)


def test_single_component_entropy_is_closed_form(tmp_path):
    target = load_gmm_json(write_json(tmp_path, {"means": [[0, 0]], "covariances": [[[1, 0], [0, 1]]]}))
    assert target.entropy == pytest.approx(1 + math.log(2 * math.pi))


def with_(**changes):
    return {**GOOD, **changes}


BAD_CASES = [
    ("{not json", "malformed JSON"),
    ('{"means": [[0, 0]], "covariances": [[[1, 0], [0, 1]]]', "malformed JSON"),
    ("[1, 2, 3]", "expected a JSON object"),
    ({"weights": [1.0], "means": [[0, 0]]}, "missing key.*covariances"),
    ({"covariances": [[[1, 0], [0, 1]]]}, "missing key.*means"),
    (with_(weight=[1, 1, 1]), "unknown key.*'weight'"),
    (with_(weights=[1.0, 1.0]), "shape mismatch: 2 weights, 3 means, 3 covariances"),
    (with_(means=[[0, 0, 0]] * 3), "'means' must be a non-empty list of \\[x, y\\] pairs"),
    (with_(means=[]), "'means' must be a non-empty list"),
    ({"means": False, "covariances": []}, "'means' must be a non-empty list of \\[x, y\\] pairs; got shape \\(\\)"),
    (with_(means=[[0, 0], [1], [2, 2]]), "'means' must hold only numbers"),
    (with_(means=[[0, "a"], [1, 1], [2, 2]]), "'means' must hold only numbers"),
    (with_(covariances=[[1, 0], [0, 1], [1, 1]]), "'covariances' must be a list of 2x2 matrices"),
    (with_(weights=[[1.0], [1.0], [1.0]]), "'weights' must be a list of numbers"),
    (with_(weights=[1.0, -0.5, 1.0]), "negative weight -0.5 \\(component 1\\)"),
    (with_(weights=[0.0, 0.0, 0.0]), "the weights sum to zero"),
    (with_(means=[[0, None], [1, 1], [2, 2]]), "'means' contains NaN, infinity or null"),
    ('{"means": [[0, NaN]], "covariances": [[[1, 0], [0, 1]]]}', "'means' contains NaN"),
    (with_(means=[[0, 1e300], [1, 1], [2, 2]]), "'means' has a value beyond 3.4e\\+38"),
    (with_(covariances=[[[1, 0.5], [0.2, 1]]] + GOOD["covariances"][1:]), "covariance 0 .* is not symmetric"),
    (with_(covariances=GOOD["covariances"][:2] + [[[1, 2], [2, 1]]]), "covariance 2 .* is not positive definite"),
    (with_(covariances=GOOD["covariances"][:2] + [[[0, 0], [0, 0]]]), "covariance 2 .* is not positive definite"),
]


@pytest.mark.parametrize("content, message", BAD_CASES)
def test_bad_gmm_files(tmp_path, content, message):
    path = write_json(tmp_path, content, name="bad.json")
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: {message}"):
        load_gmm_json(path)


def test_non_utf8_and_empty_and_missing(tmp_path):
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(DataError, match="binary.json: not a UTF-8 text file"):
        load_gmm_json(binary)
    with pytest.raises(DataError, match="empty.json: file is empty"):
        load_gmm_json(write_json(tmp_path, "", name="empty.json"))
    with pytest.raises(DataError, match="nowhere.json: file not found"):
        load_gmm_json(tmp_path / "nowhere.json")


def test_mixture_entropy_is_memoised_per_mixture_and_matches_the_mixtures_own_estimate():
    """Every Gaussian edit, preset pick and undo rebuilds a mixture target on the UI thread; the Monte Carlo entropy
    (200,000 log-densities) is computed once per distinct mixture."""
    from playground.data.targets.gmm_file import _mixture_entropy, mixture_entropy

    gmm = GaussianMixture(torch.tensor([0.2, 0.3, 0.5]), torch.tensor([[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0]]),
                          torch.tensor([[[1.0, 0.3], [0.3, 0.5]], [[0.2, 0.0], [0.0, 0.2]], [[0.7, -0.2], [-0.2, 0.4]]]))
    first = mixture_entropy(gmm)
    hits = _mixture_entropy.cache_info().hits
    same = GaussianMixture(gmm.weights.clone(), gmm.means.clone(), gmm.covariances.clone())
    assert mixture_entropy(same) == first and _mixture_entropy.cache_info().hits == hits + 1
    assert abs(first - gmm.entropy()) < 1e-9  # GaussianMixture's estimate with the same samples (seed 0)
