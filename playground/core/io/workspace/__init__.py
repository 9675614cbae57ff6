"""Workspaces: one file (.dpw) holding the whole state of a session. Qt-free.

A workspace file is a zip archive (never a pickle):

    workspace.json          format, format_version, library_version, saved_at, settings (Settings.to_dict()),
                            t (the time slider), view (free-form JSON of the GUI's view state),
                            images (image mode: {spec, size, rgb} of the image dataset, reloaded with
                            `load_image_dataset(spec, size, rgb)`; absent in 2D mode),
                            target {kind, name, params, arrays: {name: member}}, history {name: member},
                            model (member name or null)
    target/<name>.npy       the target's arrays (raster, GMM parameters, points), written with allow_pickle=False
    history/<name>.npy      the training history (step, loss, lr, seconds, bin_edges, bin_loss)
    model.safetensors       the model file (`playground.core.training.model_file`): EMA + raw weights, and the
                            optimizer and trainer state when a Trainer saved it, so training resumes where it stopped

The package, one module per concern:

    format      `Workspace` (the record), the format constants, `WorkspaceError`, `make_workspace` from live objects
    targets     `TargetSpec` and `target_to_spec` / `target_from_spec` (the target kinds a workspace stores)
    checks      the validation shared by writing and reading
    writer      `workspace_bytes`, `save_workspace(path, ws)` (atomic: a crash mid-save keeps the previous file)
    reader      `load_workspace(path) -> Workspace` (bounded; every problem raises `WorkspaceError`, a ValueError naming
                the file), `looks_like_workspace`

Autosave and crash recovery, which write workspaces in the background, are the app's document concern
(`playground.app.document.autosave`).
"""

from playground.core.io.workspace.format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MODEL_MEMBER,
    SUFFIX,
    Workspace,
    WorkspaceError,
    history_arrays,
    make_workspace,
    model_bytes,
)
from playground.core.io.workspace.reader import (
    MAX_JSON_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    load_workspace,
    looks_like_workspace,
)
from playground.core.io.workspace.targets import TARGET_KINDS, TargetSpec, target_from_spec, target_to_spec
from playground.core.io.workspace.writer import save_workspace, workspace_bytes

__all__ = [
    "FORMAT", "FORMAT_VERSION", "MANIFEST", "MAX_JSON_BYTES", "MAX_MEMBERS", "MAX_TOTAL_BYTES", "MODEL_MEMBER",
    "SUFFIX", "TARGET_KINDS", "TargetSpec", "Workspace", "WorkspaceError", "history_arrays", "load_workspace",
    "looks_like_workspace", "make_workspace", "model_bytes", "save_workspace", "target_from_spec", "target_to_spec",
    "workspace_bytes",
]
