"""Fuzz: random, truncated and byte-mutated PNG, JPEG, CSV, JSON and NPY files either load or raise DataError."""

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from playground.data.targets.spec import load_target
from playground.data.targets.target import DataError


def png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16), "L").save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(768, dtype=np.uint8).reshape(16, 16, 3), "RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


def npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(12.0).reshape(6, 2))
    return buffer.getvalue()


# One component, so a mutant that still parses loads with the closed-form entropy (no Monte Carlo per example).
GMM = json.dumps({"weights": [1.0], "means": [[0.5, -1.0]], "covariances": [[[1.0, 0.3], [0.3, 0.5]]]}).encode()
VALID = {
    ".png": png(),
    ".jpg": jpeg(),
    ".csv": b"x,y\n0,1\n2.5,-3\n-1e-3,4e2\n7 8\n",
    ".json": GMM,
    ".npy": npy(),
}
FUZZ = settings(max_examples=60, deadline=5000, database=None, suppress_health_check=[HealthCheck.too_slow])


def loads_or_data_error(folder, suffix: str, data: bytes) -> None:
    """The file loads into a Target that samples, or raises DataError; any other exception fails the test."""
    path = folder / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        target = load_target(str(path))
    except DataError as e:
        assert str(path) in str(e)
        return
    assert target.sample(5, 0).shape == (5, 2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("suffix", VALID)
def test_valid_seeds_load(folder, suffix):
    path = folder / f"valid{suffix}"
    path.write_bytes(VALID[suffix])
    assert load_target(str(path)).sample(5, 0).shape == (5, 2)


@pytest.mark.parametrize("suffix", VALID)
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(folder, suffix, data):
    loads_or_data_error(folder, suffix, data)


@pytest.mark.parametrize("suffix", VALID)
@FUZZ
@given(cut=st.floats(0, 1))
def test_truncated(folder, suffix, cut):
    valid = VALID[suffix]
    loads_or_data_error(folder, suffix, valid[: int(cut * len(valid))])


@pytest.mark.parametrize("suffix", VALID)
@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated(folder, suffix, edits):
    data = bytearray(VALID[suffix])
    for where, value in edits:
        data[int(where * len(data))] = value
    loads_or_data_error(folder, suffix, bytes(data))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=20,
)


@FUZZ
@given(spec=st.dictionaries(st.sampled_from(["weights", "means", "covariances", "other"]), JSON_VALUES))
def test_structured_json(folder, spec):
    loads_or_data_error(folder, ".json", json.dumps(spec).encode())


@FUZZ
@given(text=st.text(alphabet="0123456789.,-+e \t\n#xyinaf", max_size=200))
def test_structured_csv(folder, text):
    loads_or_data_error(folder, ".csv", text.encode())
