"""Fuzz every loader with mutated and truncated files: no crash, no hang, exactly one clear exception type each.

    workspace (.dpw)        playground.core.io.workspace.load_workspace         -> WorkspaceError
    model file              playground.core.training.model_file.load_model       -> ModelFileError
    PNG / JPG / CSV / NPY / GMM JSON   playground.data.targets.spec.load_target -> DataError
    image folder            load_image_dataset('folder:PATH')           -> DataError
    IDX (raw and gzip)      load_image_dataset('mnist:PATH'), read_idx  -> DataError

A file either loads or raises the loader's one error type with a message naming the file; anything else fails.
Mutations: byte sets, bit flips, inserted / deleted / duplicated spans, then an optional truncation; workspaces are
also fuzzed member by member (each member mutated and re-zipped with a valid CRC, so the JSON, .npy and model parsers
behind the zip layer are reached). Nothing loaded may run code: pickle payloads in .npy, .pt and workspace members
are refused without being unpickled. Hypothesis runs derandomized, without a database, with a per-example deadline.
"""

import gzip
import io
import json
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from playground.core.diffusion.sde import make_sde
from playground.core.io.workspace import WorkspaceError, load_workspace, make_workspace, workspace_bytes
from playground.core.nets.mlp import ScoreMLP
from playground.core.training.model import ScoreModel
from playground.core.training.model_file import ModelFileError, load_model, save_model
from playground.data.targets.presets import make_preset
from playground.data.targets.spec import load_target
from playground.data.targets.target import DataError


def fuzz(n: int):
    return settings(
        max_examples=n, deadline=5000, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )  # fmt: skip


# ---- mutations ---------------------------------------------------------------------------------------------------
EDIT = st.tuples(
    st.sampled_from(["set", "flip", "insert", "delete", "dup"]),
    st.floats(0, 1, exclude_max=True),
    st.integers(0, 255),
    st.integers(1, 64),
)


@st.composite
def mutants(draw, seed: bytes):
    """`seed` with 1-6 random edits, then (one time in three) truncated."""
    data = bytearray(seed)
    for op, where, value, length in draw(st.lists(EDIT, min_size=1, max_size=6)):
        i = int(where * len(data)) if data else 0
        if op == "set" and data:
            data[i] = value
        elif op == "flip" and data:
            data[i] ^= 1 << (value % 8)
        elif op == "insert":
            data[i:i] = bytes([value]) * (length % 9 + 1)
        elif op == "delete":
            del data[i : i + length]
        elif op == "dup":
            data[i:i] = data[i : i + length]
    if draw(st.integers(0, 2)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@st.composite
def truncations(draw, seed: bytes):
    return seed[: draw(st.integers(0, max(0, len(seed) - 1)))]


def fuzzed(seed: bytes):
    return st.one_of(mutants(seed), truncations(seed))


# ---- valid seed files --------------------------------------------------------------------------------------------
def tiny_model() -> ScoreModel:
    torch.manual_seed(0)
    net = ScoreMLP(2, 8, 1, n_freqs=2)
    torch.nn.init.normal_(net.body[-1].weight, std=0.1)
    return ScoreModel(net, make_sde("vp"), "eps").eval()


def model_file_bytes(folder: Path) -> bytes:
    path = folder / "seed.safetensors"
    save_model(path, tiny_model())
    return path.read_bytes()


def workspace_seed(folder: Path) -> bytes:
    history = {"step": np.arange(1, 6), "loss": np.linspace(1, 0.5, 5)}
    ws = make_workspace(make_preset("moons"), {"seed": 1, "target_samples": 100}, 0.5, model=tiny_model(),
                        history=history)
    return workspace_bytes(ws)


def png(size=(6, 6)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.arange(size[0] * size[1]) % 256).astype(np.uint8).reshape(size), "L").save(buf, "PNG")
    return buf.getvalue()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.arange(8 * 8 * 3) % 256).astype(np.uint8).reshape(8, 8, 3), "RGB").save(buf, "JPEG")
    return buf.getvalue()


def npy(a, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def idx(a: np.ndarray) -> bytes:
    code = {np.dtype("uint8"): 0x08}[a.dtype]
    return struct.pack(">HBB", 0, code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(">u1").tobytes()


IDX_IMAGES = idx((np.arange(4 * 5 * 5) % 256).astype(np.uint8).reshape(4, 5, 5))
IDX_LABELS = idx(np.array([0, 1, 2, 1], dtype=np.uint8))
TARGET_SEEDS = {
    ".png": png(),
    ".jpg": jpeg(),
    ".csv": b"x,y\n0,1\n2.5,-3\n-1e-3,4e2\n",
    ".npy": npy(np.arange(8.0).reshape(4, 2)),
    ".json": json.dumps({"means": [[0.5, -1.0]], "covariances": [[[1.0, 0.3], [0.3, 0.5]]]}).encode(),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_loaders")


@pytest.fixture(scope="module")
def seeds(folder):
    return {"workspace": workspace_seed(folder), "model": model_file_bytes(folder)}


def expect(loader, path: Path, error: type, *, names: Path | None = None):
    """Run the loader: success, or `error` whose message names the file; any other exception fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DataWarning for skipped files is fine
            return loader()
    except error as e:
        msg = str(e)
        assert str(names or path) in msg, f"message does not name {names or path}: {msg}"
        assert msg.strip(), "empty message"
        return None
    except Exception as e:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{type(e).__name__} (not {error.__name__}) from {path.name}: {e}")


def test_seeds_are_valid(folder, seeds):
    (folder / "ok.dpw").write_bytes(seeds["workspace"])
    assert load_workspace(folder / "ok.dpw").model is not None
    (folder / "ok.safetensors").write_bytes(seeds["model"])
    assert load_model(folder / "ok.safetensors").dim == 2
    for suffix, data in TARGET_SEEDS.items():
        (folder / f"ok{suffix}").write_bytes(data)
        assert load_target(str(folder / f"ok{suffix}")).sample(3, 0).shape == (3, 2)


# ---- workspace ---------------------------------------------------------------------------------------------------
@fuzz(50)
@given(data=st.data())
def test_workspace_file(folder, seeds, data):
    path = folder / "fuzz.dpw"
    path.write_bytes(data.draw(fuzzed(seeds["workspace"])))
    expect(lambda: load_workspace(path), path, WorkspaceError)


@fuzz(60)
@given(data=st.data())
def test_workspace_members(folder, seeds, data):
    """Mutate one member (JSON, .npy, safetensors) and re-zip with valid CRCs: the parsers behind the zip layer."""
    with zipfile.ZipFile(io.BytesIO(seeds["workspace"])) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    name = data.draw(st.sampled_from(sorted(members)))
    members[name] = data.draw(fuzzed(members[name]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    path = folder / "member.dpw"
    path.write_bytes(buf.getvalue())
    expect(lambda: load_workspace(path), path, WorkspaceError)


# ---- model file --------------------------------------------------------------------------------------------------
@fuzz(60)
@given(data=st.data())
def test_model_file(folder, seeds, data):
    path = folder / "fuzz.safetensors"
    path.write_bytes(data.draw(fuzzed(seeds["model"])))
    model = expect(lambda: load_model(path), path, ModelFileError)
    if model is not None:
        assert model.score(np.zeros((2, 2), np.float32), 0.5).shape == (2, 2)


# ---- 2D target files ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", list(TARGET_SEEDS))
@fuzz(25)
@given(data=st.data())
def test_target_files(folder, suffix, data):
    path = folder / f"fuzz{suffix}"
    path.write_bytes(data.draw(fuzzed(TARGET_SEEDS[suffix])))
    target = expect(lambda: load_target(str(path)), path, DataError)
    if target is not None:
        assert target.sample(4, 0).shape == (4, 2)


# ---- image folder and IDX ----------------------------------------------------------------------------------------
@fuzz(30)
@given(data=st.data(), suffix=st.sampled_from([".png", ".jpg"]))
def test_image_folder(folder, data, suffix):
    from playground.data.images.spec import load_image_dataset

    root = folder / "images"
    root.mkdir(exist_ok=True)
    for p in root.iterdir():
        p.unlink()
    (root / "a.png").write_bytes(png())
    (root / "b.png").write_bytes(png((6, 6)))
    (root / f"c{suffix}").write_bytes(data.draw(fuzzed(png() if suffix == ".png" else jpeg())))
    ds = expect(lambda: load_image_dataset(f"folder:{root}"), root, DataError)
    if ds is not None:
        assert ds.images.shape[0] == 3 and np.isfinite(ds.images).all()


@fuzz(40)
@given(data=st.data(), which=st.sampled_from(["images", "labels"]), gz=st.booleans())
def test_idx_files(folder, data, which, gz):
    from playground.data.images.spec import load_image_dataset

    root = folder / "mnist"
    root.mkdir(exist_ok=True)
    for p in root.iterdir():
        p.unlink()
    files = {"images": IDX_IMAGES, "labels": IDX_LABELS}
    files[which] = data.draw(fuzzed(gzip.compress(files[which], mtime=0) if gz else files[which]))
    (root / "train-images-idx3-ubyte").write_bytes(files["images"])
    (root / "train-labels-idx1-ubyte").write_bytes(files["labels"])
    ds = expect(lambda: load_image_dataset(f"mnist:{root}"), root, DataError)
    if ds is not None:
        assert ds.images.ndim == 4 and len(ds.images) > 0


def test_idx_dimension_overflow(folder):
    from playground.data.images.idx import read_idx

    path = folder / "overflow-idx3-ubyte"
    path.write_bytes(struct.pack(">HBB", 0, 0x08, 4) + struct.pack(">4I", *(65536,) * 4))
    expect(lambda: read_idx(path), path, DataError)


def implausible_model_file(folder: Path) -> Path:
    """A valid model file whose config claims hidden = 1e14: building that network fails to allocate 7.6 PB at once
    (beyond any address space, so the test is safe on any machine)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    good = folder / "small.safetensors"
    save_model(good, tiny_model())
    with safe_open(str(good), "pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    cfg = json.loads(meta["config"])
    cfg["network"]["hidden"] = 10**14
    path = folder / "implausible.safetensors"
    save_file(tensors, str(path), metadata={**meta, "config": json.dumps(cfg)})
    return path


def test_model_config_with_implausible_size(folder):
    path = implausible_model_file(folder)
    expect(lambda: load_model(path), path, ModelFileError)


def test_workspace_with_implausible_model(folder, seeds):
    """The workspace loader wraps whatever the model loader raises."""
    with zipfile.ZipFile(io.BytesIO(seeds["workspace"])) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["model.safetensors"] = implausible_model_file(folder).read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    path = folder / "implausible.dpw"
    path.write_bytes(buf.getvalue())
    with pytest.raises(WorkspaceError, match="model .* cannot be loaded"):
        load_workspace(path)


# ---- nothing loaded runs code ------------------------------------------------------------------------------------
class Payload:
    """Unpickling this creates a file: proof that a loader ran code from the file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickle_payloads_are_never_executed(folder, seeds):
    sentinel = folder / "pwned"
    pickled_npy = npy(np.array([Payload(sentinel), 1], dtype=object), allow_pickle=True)
    buf = io.BytesIO()
    torch.save({"weights": Payload(sentinel)}, buf)
    pickled_pt = buf.getvalue()

    p = folder / "evil.npy"
    p.write_bytes(pickled_npy)
    with pytest.raises(DataError, match="object dtype"):
        load_target(str(p))
    for name in ("evil.pt", "evil.safetensors"):
        p = folder / name
        p.write_bytes(pickled_pt)
        with pytest.raises(ModelFileError):
            load_model(p)
    p = folder / "evil.dpw"
    p.write_bytes(pickled_pt)  # a torch.save zip archive posing as a workspace
    with pytest.raises(WorkspaceError):
        load_workspace(p)
    with zipfile.ZipFile(io.BytesIO(seeds["workspace"])) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    for member, evil in [("history/loss.npy", pickled_npy), ("model.safetensors", pickled_pt)]:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for n, b in {**members, member: evil}.items():
                zf.writestr(n, b)
        p.write_bytes(buf.getvalue())
        with pytest.raises(WorkspaceError):
            load_workspace(p)
    assert not sentinel.exists()
