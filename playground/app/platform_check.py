"""Before Qt starts: the system libraries Qt's X11 (xcb) platform plugin needs, checked so that a desktop missing
them gets one line naming them and the command that installs them, instead of Qt's abort ("Could not load the Qt
platform plugin "xcb" ... no Qt platform plugin could be initialized") and a core dump. Qt-free (it runs before Qt)."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

XCB_LIBRARIES: dict[str, tuple[str, str]] = {
    # soname: (Debian/Ubuntu package, Fedora/RHEL package) — the NEEDED entries of PySide6's libqxcb.so and
    # libQt6XcbQpa.so.6 that a minimal desktop may lack (Qt for X11 requirements)
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "mesa-libGL"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}


def uses_xcb(environ: dict | None = None, platform: str | None = None) -> bool:
    """Whether Qt will pick its xcb plugin: Linux, an X display (DISPLAY set), and no platform forced other than xcb
    (QT_QPA_PLATFORM unset or 'xcb...')."""
    env = os.environ if environ is None else environ
    forced = env.get("QT_QPA_PLATFORM", "")
    return (platform or sys.platform).startswith("linux") and bool(env.get("DISPLAY")) and (
        not forced or forced.startswith("xcb"))


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_xcb_libraries(search_dirs: list[Path] | None = None) -> list[str]:
    """The sonames of XCB_LIBRARIES that cannot be found: by the system's dynamic loader (the default; it honours
    LD_LIBRARY_PATH and the ldconfig cache), or, with search_dirs, as files in those folders."""
    if search_dirs is None:
        return [name for name in XCB_LIBRARIES if not _loadable(name)]
    return [name for name in XCB_LIBRARIES if not any((Path(d) / name).exists() for d in search_dirs)]


def missing_libraries_message(missing: list[str]) -> str:
    """One line naming the missing libraries and the apt and dnf commands that install them."""
    debian = sorted({XCB_LIBRARIES[m][0] for m in missing})
    fedora = sorted({XCB_LIBRARIES[m][1] for m in missing})
    return (f"error: the app's window needs system libraries that are missing: {', '.join(missing)}. Install them "
            f"with: sudo apt install {' '.join(debian)}  (Debian/Ubuntu) or: sudo dnf install {' '.join(fedora)}  "
            "(Fedora/RHEL); or run headless commands (python -m playground --help)")
