"""Point files: CSV (header or not, comma or whitespace) and NPY load into Target.points; bad files say why."""

import io
import re

import numpy as np
import pytest

from playground.data.targets import point_stream, points
from playground.data.targets.points import load_points, size_text, subset_note
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


# ---- large files: read block by block, a uniform random subset beyond MAX_POINTS, refused beyond MAX_FILE_BYTES ----
def csv_text(points: np.ndarray, header: str = "x,y\n") -> str:
    return header + "".join(f"{a!r},{b!r}\n" for a, b in points.tolist())


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 64 bytes: every file below spans many blocks (a line may straddle two)."""
    monkeypatch.setattr(point_stream, "BLOCK_BYTES", 64)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_blocks_read_the_same_points_as_one_pass(tmp_path, small_blocks, newline):
    rng = np.random.default_rng(1)
    pts = np.round(rng.normal(size=(500, 2)), 6)
    text = "# a comment\n\nx y\n" + "".join(
        (f"{a} {b}\n" if i % 7 else f"  {a} , {b}  \n") + ("\n" if i % 11 == 0 else "") + ("# c\n" if i == 300 else "")
        for i, (a, b) in enumerate(pts.tolist()))
    path = write(tmp_path, "pts.csv", text.replace("\n", newline).encode())
    calls = []
    target = load_points(path, progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(target.points, pts)
    size = path.stat().st_size
    assert len(calls) > 20 and calls[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))  # bytes done only grow


def test_a_bad_line_is_named_across_blocks(tmp_path, small_blocks):
    lines = [f"{i},{i + 1}" for i in range(200)]
    lines[150] = "151,oops"
    path = write(tmp_path, "pts.csv", "x,y\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"pts.csv: line 152: 'oops' is not a number"):
        load_points(path)
    path = write(tmp_path, "bad.csv", b"1,2\n" * 100 + b"3,\xff\n")
    with pytest.raises(DataError, match="not a UTF-8 text file .* at byte 402"):
        load_points(path)


def test_more_than_max_points_keeps_a_uniform_random_subset_in_file_order(tmp_path, monkeypatch, small_blocks):
    monkeypatch.setattr(points, "MAX_POINTS", 300)
    n = 3000
    pts = np.stack([np.arange(n, dtype=np.float64), np.zeros(n)], 1)  # x = the row index
    path = write(tmp_path, "many.csv", csv_text(pts))
    target = load_points(path)
    kept = target.points[:, 0]
    assert len(kept) == 300 and len(np.unique(kept)) == 300 and (np.diff(kept) > 0).all()  # distinct, file order
    assert target.params["n_points_in_file"] == n and target.params["n_points"] == 300
    assert "has 3,000 points; a uniform random 300 of them are kept" in subset_note(target)
    np.testing.assert_array_equal(load_points(path).points, target.points)  # seeded: the same subset every time
    # uniform over the file: each tenth of the file holds about a tenth of the kept rows (binomial sd ~ 5.2)
    counts = np.bincount((kept // (n // 10)).astype(int), minlength=10)
    assert counts.min() > 30 - 16 and counts.max() < 30 + 16, counts
    # NPY files follow the same rule
    np.save(tmp_path / "many.npy", pts)
    assert len(load_points(tmp_path / "many.npy").points) == 300
    assert subset_note(load_points(write(tmp_path, "few.csv", csv_text(pts[:300])))) == ""


def test_the_real_cap_on_a_moderately_large_file(tmp_path):
    """MAX_POINTS as shipped: 150,000 lines (3 MB) keep 100,000 points (every row read: the extremes are known)."""
    n = 150_000
    pts = np.stack([np.arange(n, dtype=np.float64), -np.arange(n, dtype=np.float64)], 1)
    path = tmp_path / "big.csv"
    np.savetxt(path, pts, fmt="%d", delimiter=",", header="x,y", comments="")
    target = load_points(path)
    assert points.MAX_POINTS == 100_000 and target.points.shape == (100_000, 2)
    assert target.params["n_points_in_file"] == n
    np.testing.assert_array_equal(target.points[:, 1], -target.points[:, 0])
    assert set(target.points[:, 0].astype(int)) <= set(range(n))


def test_progress_may_stop_the_reading(tmp_path, small_blocks):
    class Stop(Exception):
        pass

    def stop_at_half(done, total):
        if done > total // 2:
            raise Stop

    path = write(tmp_path, "pts.csv", csv_text(np.ones((400, 2))))
    with pytest.raises(Stop):
        load_points(path, progress=stop_at_half)


def test_files_over_the_size_cap_are_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(points, "MAX_FILE_BYTES", 1000)
    path = write(tmp_path, "big.csv", csv_text(np.ones((200, 2))))
    monkeypatch.setattr(points, "read_csv_points", lambda *a: pytest.fail("read"))
    with pytest.raises(DataError, match=r"big.csv: is 1.6 kB; point files up to 1.0 kB are read .* thin it out"):
        load_points(path)
    assert points.MAX_FILE_BYTES == 1000 and size_text(3 << 30) == "3.2 GB" and size_text(190_001_369) == "190 MB"
