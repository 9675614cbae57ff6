"""Layering: playground.core, playground.data and the headless CLI never import Qt or pyqtgraph."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI_MODULES = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "playground.app")


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("QT_QPA_PLATFORM", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


CHECK = f"""
gui = sorted(m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r} or m.startswith('playground.app'))
assert not gui, f"Qt/GUI modules imported: {{gui}}"
print("ok", len(names))
"""


def test_core_and_data_never_import_qt(tmp_path):
    r = _run(
        """
        import importlib, pkgutil, sys
        import playground.core, playground.data
        names = []
        for pkg in (playground.core, playground.data):
            for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                importlib.import_module(info.name)
                names.append(info.name)
        assert len(names) >= 5, names
        """
        + CHECK,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr + r.stdout
    assert r.stdout.startswith("ok")


def test_headless_cli_never_imports_qt(tmp_path):
    r = _run(
        """
        import sys
        from playground import cli
        cli.build_parser()
        rc = cli.main(["sample", "--exact", "--data", "8gaussians", "--n", "50", "--steps", "3", "--out", "s.npy"])
        assert rc == 0, rc
        rc = cli.main(["eval", "--exact", "--data", "moons", "--n", "200", "--steps", "3"])
        assert rc == 0, rc
        names = ["cli"]
        """
        + CHECK,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr + r.stdout
    assert "ok" in r.stdout.splitlines()[-1]
