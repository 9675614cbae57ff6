"""Workspaces: round trips of every target kind, settings, model and history; crash-safe saves; every bad file gives
one WorkspaceError naming the file. (Autosave and crash recovery: tests/app/document/test_autosave.py.)"""

import io
import json
import os
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground.core.io import workspace as wsm
from playground.core.io.workspace import writer as workspace_writer
from playground.core.io.workspace import (
    TargetSpec,
    WorkspaceError,
    load_workspace,
    looks_like_workspace,
    make_workspace,
    save_workspace,
    target_from_spec,
    target_to_spec,
)
from playground.core.training.config import TrainConfig
from playground.core.training.trainer import Trainer
from playground.data.targets.gmm_components import Component, components_target
from playground.data.targets.gmm_file import load_gmm_json
from playground.data.targets.points import load_points
from playground.data.targets.presets import make_preset
from playground.data.targets.raster import load_image, raster_target
from playground.data.targets.target import Target

SETTINGS = {
    "sde": "ve", "beta_min": 0.1, "beta_max": 20.0, "sigma_min": 0.01, "sigma_max": None, "output": "edm",
    "objective": "dsm", "weighting": "song", "hidden": 16, "depth": 1, "lr": 0.002, "batch": 64, "steps": 30,
    "seconds": None, "seed": 7, "device": "cpu", "sde_sampler": "pc", "ode_sampler": "ode_heun", "sample_steps": 50,
    "n_particles": 400, "n_trajectories": 8, "n_forward": 300, "target_samples": 1500,
}  # fmt: skip
COMPONENTS = [
    {"x": -1.0, "y": 0.5, "sx": 0.4, "sy": 0.2, "weight": 2.0},
    {"x": 1.5, "y": -1.0, "sx": 0.3, "sy": 0.6, "weight": 1.0},
]


# ---- targets of every kind ---------------------------------------------------------------------------------------
def _png(path: Path) -> Path:
    img = np.zeros((12, 20), dtype=np.uint8)
    img[2:9, 3:15] = np.arange(84, dtype=np.uint8).reshape(7, 12) * 3
    Image.fromarray(img, "L").save(path)
    return path


def make_target(kind: str, folder: Path) -> Target:
    if kind == "preset":
        return make_preset("moons", 0.2)
    if kind == "preset_gmm":
        return make_preset("8gaussians")
    if kind == "preset_plain":
        return make_preset("checkerboard")
    if kind == "drawing":
        canvas = np.zeros((32, 32))
        canvas[5:20, 8:28] = np.random.default_rng(0).random((15, 20))
        return raster_target(canvas, 4.0, name="drawing")
    if kind == "image":
        return load_image(_png(folder / "img.png"), extent=3.0)
    if kind == "gmm_file":
        covariances = [[[1, 0.2], [0.2, 0.5]], [[0.3, 0], [0, 0.3]]]
        spec = {"weights": [0.3, 0.7], "means": [[0, 1], [2, -1]], "covariances": covariances}
        (folder / "g.json").write_text(json.dumps(spec))
        return load_gmm_json(folder / "g.json")
    if kind == "gmm_editor":
        return components_target([Component(**c) for c in COMPONENTS])
    if kind == "points":
        (folder / "p.csv").write_text("x,y\n0,1\n2.5,-3\n-1e-3,4e2\n7 8\n")
        return load_points(folder / "p.csv")
    raise AssertionError(kind)


KINDS = ["preset", "preset_gmm", "preset_plain", "drawing", "image", "gmm_file", "gmm_editor", "points"]
SPEC_KIND = {"preset": "preset", "preset_gmm": "preset", "preset_plain": "preset", "drawing": "raster",
             "image": "raster", "gmm_file": "gmm", "gmm_editor": "gmm_components", "points": "points"}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_every_target_kind_round_trips(tmp_path, kind):
    target = make_target(kind, tmp_path)
    spec = target_to_spec(target)
    assert spec.kind == SPEC_KIND[kind]
    ws = make_workspace(target, SETTINGS, t=0.3, view={"tab": "sampling", "zoom": (1.5, 2)})
    path = save_workspace(tmp_path / "w.dpw", ws)
    back = load_workspace(path)
    assert back == ws
    rebuilt = back.build_target()
    assert rebuilt.name == target.name
    assert target_to_spec(rebuilt) == spec  # describing the rebuilt target gives the same description
    # the same samples for the same seed: the app's target samples, and another seed
    np.testing.assert_array_equal(back.target_samples(), target.sample(SETTINGS["target_samples"], SETTINGS["seed"]))
    np.testing.assert_array_equal(rebuilt.sample(500, 123), target.sample(500, 123))
    assert (rebuilt.gmm is None) == (target.gmm is None) and (rebuilt.points is None) == (target.points is None)
    if target.entropy is not None:
        assert rebuilt.entropy == pytest.approx(target.entropy, rel=1e-9, abs=1e-12)
    if target.log_density is not None:
        x = target.sample(50, 1)
        np.testing.assert_allclose(rebuilt.log_density(x), target.log_density(x), rtol=1e-12)
    if "path" in target.params:
        assert rebuilt.params["path"] == target.params["path"]


def test_points_target_matches_load_points(tmp_path):
    target = make_target("points", tmp_path)
    rebuilt = target_from_spec(target_to_spec(target))
    np.testing.assert_array_equal(rebuilt.sample(300, 5), target.sample(300, 5))
    assert rebuilt.params == target.params


def test_custom_target_cannot_be_described():
    custom = Target("mine", lambda n, rng: rng.standard_normal((n, 2)))
    with pytest.raises(ValueError, match="cannot be saved"):
        target_to_spec(custom)


def test_real_settings_round_trip(tmp_path):
    state = pytest.importorskip("playground.app.state")
    settings = state.Settings(sde="subvp", hidden=64, seed=11, sigma_max=3.5)
    ws = make_workspace(make_preset("rings"), settings.to_dict())
    back = load_workspace(save_workspace(tmp_path / "s.dpw", ws), settings_defaults=state.Settings().to_dict())
    assert state.Settings.from_dict(back.settings) == settings
    assert back.seed == 11


# ---- model and history -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    data = make_preset("moons").sample(2000, 0)
    tr = Trainer(TrainConfig(hidden=16, depth=1, steps=30, batch=64, threads=1, seed=1), data)
    tr.run()
    return tr, data


def test_model_and_history_round_trip_and_resume(tmp_path, trained):
    tr, data = trained
    ws = make_workspace(make_preset("moons"), SETTINGS, t=0.9, model=tr)
    assert set(ws.history) == {"step", "loss", "lr", "seconds", "bin_edges", "bin_loss"}
    back = load_workspace(save_workspace(tmp_path / "m.dpw", ws))
    assert back == ws and back.model == ws.model
    np.testing.assert_array_equal(back.history["loss"], np.asarray(tr.history.loss))
    hist = back.train_history()
    assert hist.step == tr.history.step and hist.loss == tr.history.loss
    model = back.load_model()
    snap = tr.snapshot()
    for a, b in zip(model.net.state_dict().values(), snap.net.state_dict().values()):
        assert torch.equal(a, b)
    x = np.random.default_rng(0).standard_normal((20, 2)).astype(np.float32)
    np.testing.assert_array_equal(model.score(x, 0.5), snap.score(x, 0.5))
    resumed = back.resume_trainer(data)  # optimizer, EMA, RNG and step count come back
    assert resumed.step_count == tr.step_count == 30
    resumed.run(max_steps=3)
    assert resumed.step_count == 33


def test_inference_only_model(tmp_path, trained):
    tr, _ = trained
    ws = make_workspace(make_preset("moons"), SETTINGS, model=tr.snapshot())
    back = load_workspace(save_workspace(tmp_path / "i.dpw", ws))
    assert back.load_model() is not None and back.history == {}
    assert make_workspace(make_preset("moons"), SETTINGS).load_model() is None


def test_same_workspace_same_bytes(tmp_path):
    ws = make_workspace(make_target("drawing", tmp_path), SETTINGS)
    a = wsm.workspace_bytes(ws)
    b = wsm.workspace_bytes(ws)
    strip = lambda d: zipfile.ZipFile(io.BytesIO(d)).read("workspace.json").split(b'"saved_at"')[0]  # noqa: E731
    assert strip(a) == strip(b)
    assert looks_like_workspace(save_workspace(tmp_path / "x.dpw", ws))
    assert not looks_like_workspace(tmp_path / "nothing.dpw")


# ---- crash-safe saving -------------------------------------------------------------------------------------------
def test_crash_mid_save_keeps_the_previous_workspace(tmp_path, monkeypatch, trained):
    path = tmp_path / "c.dpw"
    first = make_workspace(make_preset("moons"), SETTINGS, t=0.1, model=trained[0])
    save_workspace(path, first)
    before = path.read_bytes()
    second = make_workspace(make_preset("rings"), SETTINGS, t=0.7)

    real_open = workspace_writer.atomic_open

    class Crash(Exception):
        pass

    def crashing_open(p, mode="wb", **kw):
        cm = real_open(p, mode, **kw)

        class Wrapped:
            def __enter__(self):
                f = cm.__enter__()

                class Half:
                    def write(self, data):
                        f.write(data[: len(data) // 2])
                        f.flush()
                        raise Crash("power cut")

                return Half()

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Wrapped()

    monkeypatch.setattr(workspace_writer, "atomic_open", crashing_open)
    with pytest.raises(Crash):
        save_workspace(path, second)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_workspace(path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["c.dpw"]


def test_unstorable_workspace_is_refused_before_writing(tmp_path):
    path = tmp_path / "u.dpw"
    good = make_workspace(make_preset("moons"), SETTINGS)
    save_workspace(path, good)
    bad = make_workspace(make_preset("moons"), {**SETTINGS, "lr": float("nan")})
    with pytest.raises(WorkspaceError, match=str(path)):
        save_workspace(path, bad)
    with pytest.raises(WorkspaceError, match="t must be"):
        save_workspace(path, make_workspace(make_preset("moons"), SETTINGS, t=1.5))
    with pytest.raises(WorkspaceError, match="JSON"):
        save_workspace(path, make_workspace(make_preset("moons"), SETTINGS, view={"x": object()}))
    assert load_workspace(path) == good


# ---- bad files ---------------------------------------------------------------------------------------------------
def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buf, "w", compression) as zf:
            for name, data in members.items() if isinstance(members, dict) else members:
                zf.writestr(name, data)
    return buf.getvalue()


def npy(a, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


@pytest.fixture(scope="module")
def good_members(trained):
    """The members of a valid workspace with a raster target, history and a model."""
    canvas = np.zeros((8, 8))
    canvas[2:6, 2:6] = 1.0
    ws = make_workspace(raster_target(canvas, 4.0, "drawing"), SETTINGS, model=trained[0])
    with zipfile.ZipFile(io.BytesIO(wsm.workspace_bytes(ws))) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def manifest(members) -> dict:
    return json.loads(members["workspace.json"])


def with_manifest(members, **changes) -> dict:
    m = manifest(members)
    for k, v in changes.items():
        if v is KeyError:
            m.pop(k, None)
        else:
            m[k] = v
    return {**members, "workspace.json": json.dumps(m).encode()}


class Payload:
    """Unpickling this would create a file: proof that loading ran code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def bad_cases(good: dict, tmp: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, a regex the message must match)."""
    m = manifest(good)
    pickled = npy(np.array([Payload(tmp / "pwned")], dtype=object), allow_pickle=True)
    huge_header = bytearray(zip_bytes(good))
    cd = huge_header.index(b"PK\x01\x02")  # first central-directory entry: uncompressed size at +24
    huge_header[cd + 24 : cd + 28] = struct.pack("<I", 0xFFFFFFF0)
    model_file = good["model.safetensors"]
    flipped = bytearray(zip_bytes(good, zipfile.ZIP_STORED))
    pos = flipped.index(b"diffusion-playground-workspace")
    flipped[pos] ^= 0x20  # a bit flip in a stored member: CRC mismatch
    t_bad = dict(good)
    t_bad["target/raster.npy"] = npy(np.zeros((8, 8)))
    target = m["target"]
    nan_lr = good["workspace.json"].replace(b'"lr": 0.002', b'"lr": NaN')

    def without(name):
        return zip_bytes({k: v for k, v in good.items() if k != name})

    return {
        "empty": (b"", "empty"),
        "random bytes": (os.urandom(300), "not a zip"),
        "png": (good_png(), "not a zip"),
        "model file": (model_file, "model file"),
        "truncated zip": (zip_bytes(good)[:-40], "corrupt or truncated"),
        "no manifest": (without("workspace.json"), "no 'workspace.json'"),
        "bad json": (zip_bytes({**good, "workspace.json": b"{ nope"}), "not valid JSON"),
        "not utf8": (zip_bytes({**good, "workspace.json": b"\xff\xfe{}"}), "not UTF-8"),
        "json list": (zip_bytes({**good, "workspace.json": b"[1, 2]"}), "not a Diffusion Playground workspace"),
        "deep json": (zip_bytes({**good, "workspace.json": b"[" * 100000}), "JSON"),
        "foreign format": (zip_bytes(with_manifest(good, format="something-else")), "not a Diffusion Playground"),
        "newer version": (zip_bytes(with_manifest(good, format_version=99)), "newer .* please update"),
        "string version": (zip_bytes(with_manifest(good, format_version="1")), "format_version"),
        "no target": (zip_bytes(with_manifest(good, target=KeyError)), "no 'target'"),
        "unknown kind": (zip_bytes(with_manifest(good, target={**target, "kind": "dragon"})), "unknown target kind"),
        "missing array member": (without("target/raster.npy"), "target/raster.npy"),
        "missing array entry": (zip_bytes(with_manifest(good, target={**target, "arrays": {}})), "needs the array"),
        "pickled array": (zip_bytes({**good, "target/raster.npy": pickled}), "never pickle"),
        "truncated array": (zip_bytes({**good, "target/raster.npy": npy(np.ones((8, 8)))[:-8]}), "holds"),
        "array not npy": (zip_bytes({**good, "history/loss.npy": b"hello"}), "not a valid .npy"),
        "string array": (zip_bytes({**good, "history/loss.npy": npy(np.array(["a", "b"]))}), "only numeric"),
        "too many dims": (zip_bytes({**good, "history/loss.npy": npy(np.zeros((1,) * 6))}), "shape"),
        "array name": (zip_bytes(with_manifest(good, history={"../evil": "history/loss.npy"})), "bad array name"),
        "bad settings": (zip_bytes(with_manifest(good, settings={"hidden": [1, 2]})), "setting 'hidden'"),
        "nan setting": (zip_bytes({**good, "workspace.json": nan_lr}), "setting 'lr'"),
        "t out of range": (zip_bytes(with_manifest(good, t=3.0)), "t must be"),
        "view not object": (zip_bytes(with_manifest(good, view=[1])), "view"),
        "zero raster": (zip_bytes(t_bad), "target cannot be rebuilt.*zero"),
        "corrupt model": (zip_bytes({**good, "model.safetensors": model_file[:100]}), "model .* cannot be loaded"),
        "pickled model": (zip_bytes({**good, "model.safetensors": torch_pickle(tmp)}), "model .* cannot be loaded"),
        "model member missing": (without("model.safetensors"), "no 'model.safetensors'"),
        "huge declared size": (bytes(huge_header), "declares .* bytes"),
        "crc mismatch": (bytes(flipped), "corrupt"),
        "duplicate member": (zip_bytes([*good.items(), ("workspace.json", good["workspace.json"])]), "twice"),
    }


def good_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def torch_pickle(tmp: Path) -> bytes:
    buf = io.BytesIO()
    torch.save({"x": Payload(tmp / "pwned")}, buf)
    return buf.getvalue()


def test_valid_members_load(tmp_path, good_members):
    path = tmp_path / "ok.dpw"
    path.write_bytes(zip_bytes(good_members))
    assert load_workspace(path).target.kind == "raster"


def test_every_bad_file_gives_one_clear_error(tmp_path, good_members):
    cases = bad_cases(good_members, tmp_path)
    for name, (data, pattern) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.dpw"
        path.write_bytes(data)
        with pytest.raises(WorkspaceError) as info:
            load_workspace(path)
        msg = str(info.value)
        assert msg.startswith(str(path)), (name, msg)
        assert __import__("re").search(pattern, msg), (name, pattern, msg)
        assert "\n" not in msg.strip(), (name, msg)
    assert not (tmp_path / "pwned").exists()  # nothing was unpickled


def test_missing_file_folder_and_limits(tmp_path, good_members):
    with pytest.raises(WorkspaceError, match="no such workspace file"):
        load_workspace(tmp_path / "nope.dpw")
    with pytest.raises(WorkspaceError, match="is a folder"):
        load_workspace(tmp_path)
    bomb = tmp_path / "bomb.dpw"
    bomb.write_bytes(zip_bytes({**good_members, "history/pad.npy": npy(np.zeros(200_000))}))
    assert bomb.stat().st_size < 100_000  # zeros compress well
    with pytest.raises(WorkspaceError, match="zip bomb"):
        load_workspace(bomb, max_bytes=1_000_000)
    wrong_type = tmp_path / "types.dpw"
    wrong_type.write_bytes(zip_bytes(with_manifest(good_members, settings={**SETTINGS, "hidden": 1.5})))
    with pytest.raises(WorkspaceError, match="setting 'hidden' is 1.5; expected a int"):
        load_workspace(wrong_type, settings_defaults=SETTINGS)


def test_unknown_members_and_keys_are_ignored(tmp_path, good_members):
    """Forward compatibility within a format version: extra members and keys do not break loading."""
    path = tmp_path / "extra.dpw"
    extra = with_manifest(good_members, future_feature={"a": 1})
    extra["notes/readme.txt"] = b"hello"
    path.write_bytes(zip_bytes(extra))
    assert load_workspace(path).target.kind == "raster"


def test_spec_equality_and_errors():
    a = TargetSpec("points", "p", {}, {"points": np.zeros((3, 2))})
    assert a == TargetSpec("points", "p", {}, {"points": np.zeros((3, 2))})
    assert a != TargetSpec("points", "p", {}, {"points": np.ones((3, 2))})
    assert a != TargetSpec("points", "p", {}, {"points": np.zeros((3, 2), np.float32)})
    from playground.data.targets.target import DataError

    with pytest.raises(DataError, match="at least 2"):
        target_from_spec(TargetSpec("points", "p", {}, {"points": np.zeros((1, 2))}))
    with pytest.raises(DataError, match="needs the array"):
        target_from_spec(TargetSpec("gmm", "g", {}, {}))
    with pytest.raises(DataError, match="unknown preset"):
        target_from_spec(TargetSpec("preset", "dragons", {"preset": "dragons"}))
