"""Point files: CSV (header or not, comma or whitespace) and NPY load into Target.points; bad files say why."""

import io
import re

import numpy as np
import pytest

from playground.data.targets.points import load_points
from playground.data.targets.target import DataError

XY = np.array([[0.0, 1.0], [2.5, -3.0], [-1e-3, 4e2]])


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    "text",
    [
        "0,1\n2.5,-3\n-1e-3,4e2\n",
        "x,y\n0,1\n2.5,-3\n-1e-3,4e2\n",
        "\ufeffx, y\n0 , 1\n\n2.5,-3\n-1e-3,4e2",
        "# made by hand\nx y\n0\t1\n  2.5   -3\n-1e-3 4e2\n",
        "0 1\r\n2.5 -3\r\n-1e-3 4e2\r\n",
    ],
    ids=["plain", "header", "bom-spaces-blank", "comment-whitespace", "crlf"],
)
def test_csv_variants(tmp_path, text):
    target = load_points(write(tmp_path, "pts.csv", text))
    np.testing.assert_array_equal(target.points, XY)
    assert target.name == "pts.csv" and target.params["n_points"] == 3


def test_sampler_resamples_the_points(tmp_path):
    target = load_points(write(tmp_path, "pts.csv", "0,1\n2.5,-3\n-1e-3,4e2\n"))
    x = target.sample(3000, 0)
    assert {tuple(p) for p in x.tolist()} == {tuple(np.float32(p).tolist()) for p in XY}
    assert np.bincount([int(np.argmin(np.abs(XY[:, 0] - p[0]))) for p in x]).min() > 900
    np.testing.assert_array_equal(x, target.sample(3000, 0))
    assert target.has_exact_score


@pytest.mark.parametrize("dtype", ["<f8", ">f4", "<i4", "<u2"])
@pytest.mark.parametrize("fortran", [False, True])
def test_npy(tmp_path, dtype, fortran):
    array = np.array([[0, 1], [2, 3], [4, 5]], dtype=dtype)
    path = tmp_path / "pts.npy"
    np.save(path, np.asfortranarray(array) if fortran else array)
    np.testing.assert_array_equal(load_points(path).points, array.astype(np.float64))


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


BAD_CASES = [
    ("missing.csv", None, "file not found"),
    ("empty.csv", b"", "file is empty"),
    ("blank.csv", "\n\n  \n", "has 0 point\\(s\\); need at least 2"),
    ("header_only.csv", "x,y\n", "has 0 point\\(s\\); need at least 2"),
    ("one.csv", "1,2\n", "has 1 point\\(s\\); need at least 2"),
    ("three_columns.csv", "1,2,3\n4,5,6\n", "line 1 has 3 columns; need exactly 2"),
    ("ragged.csv", "1,2\n3\n", "line 2 has 1 columns; need exactly 2"),
    ("wide_header.csv", "x,y,z\n1,2\n", "the header \\(line 1\\) has 3 columns"),
    ("words.csv", "x,y\n1,2\n3,four\n", "line 3: 'four' is not a number"),
    ("nan.csv", "1,2\nnan,3\n", "point 1 is \\[nan, 3.0\\]; coordinates must be finite, \\|v\\| <= 3.4e\\+38"),
    ("inf.csv", "1,2\n3,1e999\n", "point 1 is \\[3.0, inf\\]; coordinates must be finite"),
    ("binary.csv", b"\x89PNG\r\n\x1a\n\xff\xff", "not a UTF-8 text file"),
    ("object.npy", npy_bytes(np.array([[1, "a"], [2, None]], dtype=object)), "has an object dtype"),
    ("strings.npy", npy_bytes(np.array([["1", "2"], ["3", "4"]])), "has dtype <U1; need a numeric"),
    ("flat.npy", npy_bytes(np.arange(4.0)), "has shape \\(4,\\); need an N x 2 array"),
    ("three.npy", npy_bytes(np.zeros((5, 3))), "has shape \\(5, 3\\); need an N x 2 array"),
    ("nan.npy", npy_bytes(np.array([[0.0, 1.0], [np.inf, 2.0]])), "point 1 is \\[inf, 2.0\\]"),
    ("huge.npy", npy_bytes(np.array([[0.0, 1.0], [1e300, 2.0]])), "point 1 is \\[1e\\+300, 2.0\\]; coordinates must"),
    ("one.npy", npy_bytes(np.zeros((1, 2))), "has 1 point\\(s\\)"),
    ("truncated.npy", npy_bytes(np.zeros((100, 2)))[:-9], "truncated: the header promises 1600 bytes"),
    ("text.npy", "1,2\n3,4\n", "not a valid .npy file"),
    ("archive.npy", b"PK\x03\x04" + bytes(40), "not a valid .npy file"),
]


@pytest.mark.parametrize("name, content, message", BAD_CASES, ids=[case[0] for case in BAD_CASES])
def test_bad_point_files(tmp_path, name, content, message):
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: {message}"):
        load_points(path)


def test_directory_is_not_a_file(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(DataError, match="folder.csv: is a directory"):
        load_points(folder)
