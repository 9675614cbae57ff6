"""Layering: playground.core, playground.data and the headless CLI never import Qt or pyqtgraph."""

import os
import subprocess
import sys
from pathlib import Path

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
