"""Model files (.safetensors) in the window: File > Open a model, File > Save model as. An opened model is adopted
with its trainer state (Play resumes) and the settings it implies (`settings_from_model`, with those they imply in
turn: a rectified-flow model samples its reverse SDE ancestrally); an image model enters image
mode with the dataset its file names, or is shown without one (a message says why). A workspace (.dpw) holds more:
see `WorkspaceController`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from playground.app.state import with_implied_settings


def settings_from_model(model) -> dict:
    """The settings a loaded model implies (SDE and its parameters, output kind, network size)."""
    out: dict = {}
    sde = getattr(model, "sde", None)
    if sde is not None:
        cfg = sde.config()
        out["sde"] = cfg.get("name", "vp")
        for k in ("beta_min", "beta_max", "sigma_min", "sigma_max"):
            if k in cfg:
                out[k] = float(cfg[k])
    if getattr(model, "output", None):
        out["output"] = model.output
    net = getattr(model, "net", None)
    arch = net.config() if net is not None and hasattr(net, "config") else {}
    for k in ("hidden", "depth", "base_channels"):
        if k in arch:
            out[k] = int(arch[k])
    if getattr(model, "image_shape", None) is not None:
        out["image_classes"] = bool(model.num_classes)
    else:
        out["classes_2d"] = bool(getattr(model, "num_classes", 0))
    train = dict(getattr(model, "config", {}) or {})  # the TrainConfig it was trained with
    for k, kind in (("objective", str), ("weighting", str), ("lr", float), ("batch", int), ("seed", int)):
        if train.get(k) is not None:
            out[k] = kind(train[k])
    if train.get("steps_done") and train.get("steps"):
        out["steps"] = int(max(train["steps"], train["steps_done"]))
    return out


class ModelFiles:
    """Opening and saving model files for one window (its state, training controller, settings store, messages and
    status bar). `path`: the model file opened or saved last (None after File > New or opening a workspace)."""

    def __init__(self, window):
        self.window = window
        self.path: str | None = None

    def open(self, path: str) -> bool:
        """Load a model file into every panel (and its trainer state, so Play resumes); a bad file gets a message.
        An image model enters image mode with the dataset its file names (trainer info 'data') when that loads,
        else it is shown without a dataset (sampling works, training needs the dataset) and a message says why."""
        from playground.core.training.model_file import load_model

        w = self.window
        try:
            model = load_model(path)
        except Exception as exc:  # noqa: BLE001 - every bad file is a message, never a crash
            w.show_message("Cannot open model", f"{Path(path).name}: {exc}", QMessageBox.Icon.Warning)
            return False
        dataset, spec, note = None, None, ""
        if model.image_shape is not None:
            dataset, spec, note = self.dataset_of(model)
        trainer = None
        try:
            from playground.core.training.trainer import Trainer

            if model.image_shape is None:
                trainer = Trainer.resume(path, w.state.target_samples)
            elif dataset is not None:
                labels = dataset.labels if model.num_classes else None
                trainer = Trainer.resume(path, dataset.images, labels=labels)
        except Exception:  # noqa: BLE001 - a model without trainer state still shows; Play then starts anew
            trainer = None
        changes = with_implied_settings(settings_from_model(model), w.state.settings)
        w.controller.reset()
        st = w.state
        if dataset is not None:
            if dataset is not st.images:
                st.set_images(dataset, spec)
        elif st.image_mode:
            st.set_images(None)  # a 2D model, or an image model without its dataset
        if changes:
            st.update_settings(**changes)
        w.controller.adopt(trainer, model)
        if note:
            w.show_message("Model opened without its dataset", f"{Path(path).name}: {note}")
        if trainer is not None and trainer.resume_notes:
            w.show_message("Training continues on another device", f"{Path(path).name}: "
                           + "; ".join(trainer.resume_notes))
        self.path = path
        w.store.setValue("files/last_dir", str(Path(path).parent))
        w.statusBar().showMessage(f"Opened {Path(path).name}", 5000)
        return True

    def dataset_of(self, model) -> tuple:
        """(ImageDataset or None, its spec, a note when there is none) for an image model: the dataset its file names,
        reused when it is the one loaded now, else loaded (a wait cursor: the small sets take well under a second)."""
        from playground.data.images.spec import is_image_spec, load_image_dataset

        c, h, _w = model.image_shape
        info = model.config.get("info") if isinstance(model.config.get("info"), dict) else {}
        spec = info.get("data")
        st = self.window.state
        if not isinstance(spec, str) or not is_image_spec(spec):
            return None, None, ("the file names no image dataset, so the model is shown without one; load the dataset "
                                "it was trained on in Target > Images to train it further.")
        if st.images is not None and st.image_spec == spec and st.images.shape == tuple(model.image_shape):
            dataset = st.images
        else:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                dataset = load_image_dataset(spec, size=h, rgb=c == 3)
            except Exception as exc:  # noqa: BLE001 - a missing or broken dataset: the model is still shown
                return None, None, (f"its dataset {spec!r} could not be loaded ({' '.join(str(exc).split())}); the "
                                    "model is shown without it. Load the dataset in Target > Images to train further.")
            finally:
                QApplication.restoreOverrideCursor()
        if model.num_classes and dataset.num_classes != model.num_classes:
            return None, None, (f"the model has {model.num_classes} classes but {spec!r} has {dataset.num_classes}; "
                                "the model is shown without its dataset.")
        return dataset, spec, ""

    def save_as(self) -> bool:
        """File > Save model as: ask for a .safetensors path, then `save_to`."""
        path, _ = QFileDialog.getSaveFileName(self.window, "Save model",
                                              str(Path(self.window._last_dir()) / "model.safetensors"),
                                              "Models (*.safetensors)")
        if not path:
            return False
        if not path.endswith(".safetensors"):
            path += ".safetensors"
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Save the trained model (with the optimiser state, so training resumes); a failure gets a message."""
        w = self.window
        try:
            w.controller.save(path)
        except Exception as exc:  # noqa: BLE001
            w.show_message("Cannot save", f"{Path(path).name}: {exc}", QMessageBox.Icon.Warning)
            return False
        self.path = path
        w.store.setValue("files/last_dir", str(Path(path).parent))
        w.statusBar().showMessage(f"Saved {Path(path).name}", 5000)
        return True
