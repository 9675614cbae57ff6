"""Start-up on a desktop that lacks the libraries of Qt's xcb plugin: one line naming them and the install command,
exit code 2, before Qt is touched."""

import subprocess
import sys
from pathlib import Path

import pytest

from playground.app import platform_check
from playground.app.platform_check import (
    XCB_LIBRARIES,
    missing_libraries_message,
    missing_xcb_libraries,
    uses_xcb,
)

ROOT = Path(__file__).resolve().parents[2]


def test_fake_library_folder_names_exactly_the_missing_ones(tmp_path):
    present = [n for n in XCB_LIBRARIES if n not in ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")]
    for name in present:
        (tmp_path / name).write_bytes(b"")
    missing = missing_xcb_libraries([tmp_path])
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    msg = missing_libraries_message(missing)
    assert "\n" not in msg and msg.startswith("error: ")
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in msg
    assert "sudo dnf install xcb-util-cursor xcb-util-keysyms xcb-util-wm" in msg
    assert missing_xcb_libraries([tmp_path, tmp_path / "nowhere"]) == missing
    for name in missing:
        (tmp_path / name).write_bytes(b"")
    assert missing_xcb_libraries([tmp_path]) == []


@pytest.mark.parametrize(("env", "platform", "expected"), [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, "linux", False),
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "darwin", False),
    ({"DISPLAY": ":0"}, "win32", False),
])
def test_the_check_runs_only_where_qt_would_load_xcb(env, platform, expected):
    assert uses_xcb(env, platform) is expected


def test_app_start_stops_with_one_line_and_exit_2_before_qt(monkeypatch, capsys):
    monkeypatch.setattr(platform_check, "uses_xcb", lambda: True)
    monkeypatch.setattr(platform_check, "missing_xcb_libraries", lambda: ["libxcb-cursor.so.0"])
    from playground.app import run

    assert run([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "libxcb-cursor.so.0" in err[0] and "apt install libxcb-cursor0" in err[0]


def test_console_script_path_in_a_fresh_process_with_a_fake_display(tmp_path):
    """The real entry point: DISPLAY set, no platform forced, a fake empty library folder searched instead of the
    system's: exit 2, one line, and Qt never imported."""
    code = f"""
import sys
from pathlib import Path
from playground.app import platform_check as pc
real = pc.missing_xcb_libraries
pc.missing_xcb_libraries = lambda: real([Path({str(tmp_path)!r})])
from playground.cli import main
rc = main(["app"])
assert "PySide6.QtWidgets" not in sys.modules, "Qt was imported"
sys.exit(rc)
"""
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": ":99", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "libxcb.so.1" in lines[0] and "sudo apt install" in lines[0], r.stderr
