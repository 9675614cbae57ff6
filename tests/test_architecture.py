"""The architecture: the import-linter contracts in pyproject.toml (layers, no cycles, Qt only in the app) hold and
cover every package; at run time playground.core, playground.data and the headless CLI never import Qt."""

import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import playground

ROOT = Path(__file__).resolve().parents[1]
GUI_PACKAGES = ("PySide6", "shiboken6", "pyqtgraph", "superqt")

CHECK = f"""
gui = sorted(m for m in sys.modules if m.split('.')[0] in {GUI_PACKAGES!r} or m.startswith('playground.app'))
assert not gui, f"Qt/GUI modules imported: {{gui}}"
print("ok", len(names))
"""

IMPORT_ALL = """
import importlib, pkgutil, sys
import playground.core, playground.data
names = []
for pkg in (playground.core, playground.data):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
        names.append(info.name)
assert len(names) >= 5, names
"""

HEADLESS_CLI = """
import sys
from playground import cli
cli.build_parser()
assert cli.main(["sample", "--exact", "--data", "8gaussians", "--n", "50", "--steps", "3", "--out", "s.npy"]) == 0
assert cli.main(["eval", "--exact", "--data", "moons", "--n", "200", "--steps", "3"]) == 0
names = ["cli"]
"""


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code + CHECK], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_core_and_data_never_import_qt(tmp_path):
    r = _run(IMPORT_ALL, tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    assert r.stdout.splitlines()[-1].startswith("ok")


def test_headless_cli_never_imports_qt(tmp_path):
    r = _run(HEADLESS_CLI, tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    assert r.stdout.splitlines()[-1].startswith("ok")


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _layered_names() -> set[str]:
    names = set()
    for c in _contracts():
        if c["type"] != "layers":
            continue
        for container in c.get("containers", [""]):
            for layer in c["layers"]:
                for part in layer.replace(":", "|").split("|"):
                    names.add(f"{container}.{part.strip()}" if container else part.strip())
    return names


def test_import_contracts_hold():
    lint = pytest.importorskip("importlinter.cli")
    rc = lint.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert rc == 0, "import-linter found broken contracts (run `lint-imports` for the report)"


def test_every_package_sits_in_a_layer():
    """A new folder cannot slip past the layering: every subpackage of playground, playground.core and
    playground.app (and the app's shared modules) is named in a layers contract."""
    layered = _layered_names()
    missing = []
    for parent, skip in (("playground", {"version", "__main__", "core", "data"}), ("playground.core", set()),
                         ("playground.app", set())):
        pkg = __import__(parent, fromlist=["_"])
        for info in pkgutil.iter_modules(pkg.__path__):
            name = f"{parent}.{info.name}"
            if info.name not in skip and name not in layered:
                missing.append(name)
    assert not missing, f"not in any layers contract of pyproject.toml: {missing}"
    assert "playground.data" in layered and playground.__version__
