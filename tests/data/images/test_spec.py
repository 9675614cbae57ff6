"""Image dataset specs: names and sizes that load, names that route to images, and unknown specs as errors."""

import pytest

from playground.data.images.spec import is_image_spec, load_image_dataset
from playground.data.targets.target import DataError


def test_specs():
    assert load_image_dataset("shapes", n=10).images.shape == (10, 1, 16, 16)
    assert load_image_dataset("shapes28", n=10).images.shape == (10, 1, 28, 28)
    assert load_image_dataset("shapes8", n=10, rgb=True).images.shape == (10, 3, 8, 8)
    assert load_image_dataset("shapes", size=12, n=10).images.shape == (10, 1, 12, 12)
    assert is_image_spec("digits") and is_image_spec("mnist:/x") and is_image_spec("shapes28")
    assert not is_image_spec("8gaussians") and not is_image_spec("foo.png")
    for bad in ("nonsense", "mnist", "folder:", "shapes13"):
        with pytest.raises(DataError):
            load_image_dataset(bad)
