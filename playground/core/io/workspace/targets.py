"""Targets in a workspace: `TargetSpec`, a JSON-able description of a target plus its arrays, and the conversions
`target_to_spec` / `target_from_spec` (the data package rebuilds the target, so reopening gives the same target
samples for the same seed). Kinds:

    preset          params {preset, noise}                      -> make_preset(preset, noise)
    raster          arrays {raster (H, W)}, params {extent}     -> raster_target(raster, extent, name)
                                                                   (the drawing canvas, imported images)
    gmm             arrays {weights, means, covariances}        -> gmm_target(name, GaussianMixture(...))  (GMM files)
    gmm_components  params {components: [{x, y, sx, sy, weight}]}  the Gaussian editor's mixture (its own sampler)
    points          arrays {points (N, 2)}                      -> the empirical distribution of the points
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TARGET_KINDS = ("preset", "raster", "gmm", "gmm_components", "points")
TARGET_ARRAYS: dict[str, tuple[str, ...]] = {
    "preset": (),
    "raster": ("raster",),
    "gmm": ("weights", "means", "covariances"),
    "gmm_components": (),
    "points": ("points",),
}


@dataclass(eq=False)
class TargetSpec:
    """A JSON-able description of a target plus its arrays; `target_from_spec` rebuilds the Target."""

    kind: str
    name: str
    params: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __eq__(self, other) -> bool:
        if not isinstance(other, TargetSpec):
            return NotImplemented
        return (
            self.kind == other.kind
            and self.name == other.name
            and self.params == other.params
            and arrays_equal(self.arrays, other.arrays)
        )

    __hash__ = None  # type: ignore[assignment]


def arrays_equal(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


def _info_params(p: dict) -> dict:
    """The informative, JSON-able params every kind keeps (where the target came from)."""
    out = {}
    if isinstance(p.get("path"), str):
        out["path"] = p["path"]
    return out


def target_to_spec(target) -> TargetSpec:
    """Describe a Target (from the data package or the app) so that `target_from_spec` rebuilds it.

    Raises ValueError for a target that was not made by a known constructor (a custom sampler function)."""
    from playground.data.targets.presets import PRESETS

    p = dict(target.params or {})
    name = str(target.name)
    if p.get("kind") == "gmm" and isinstance(p.get("components"), list):
        comps = [_component_dict(c) for c in p["components"]]
        return TargetSpec("gmm_components", name, {"components": comps})
    if name in PRESETS and p.get("name") == name and "path" not in p and "raster" not in p and target.points is None:
        noise = p.get("noise")
        return TargetSpec("preset", name, {"preset": name, "noise": None if noise is None else float(noise)})
    if "raster" in p:
        raster = np.array(p["raster"], dtype=np.float64)
        params = {"extent": float(p.get("extent", 4.0)), **_info_params(p)}
        return TargetSpec("raster", name, params, {"raster": raster})
    if target.points is not None:
        pts = np.array(target.points, dtype=np.float64)
        return TargetSpec("points", name, _info_params(p), {"points": pts})
    if target.gmm is not None:
        g = target.gmm
        arrays = {
            "weights": g.weights.detach().cpu().numpy().astype(np.float64),
            "means": g.means.detach().cpu().numpy().astype(np.float64),
            "covariances": g.covariances.detach().cpu().numpy().astype(np.float64),
        }
        return TargetSpec("gmm", name, _info_params(p), arrays)
    raise ValueError(
        f"target {name!r} cannot be saved in a workspace: it is not a preset, raster, Gaussian mixture or point set"
    )


def _component_dict(c) -> dict:
    d = c if isinstance(c, dict) else dict(getattr(c, "__dict__", {}))
    try:
        return {k: float(d[k]) for k in ("x", "y", "sx", "sy", "weight")}
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"a Gaussian component needs numbers x, y, sx, sy, weight; got {d!r}") from e


def target_from_spec(spec: TargetSpec):
    """Rebuild the Target a `TargetSpec` describes. Raises DataError / ValueError on a bad description."""
    from playground.data.targets.target import DataError

    kind, name, p, arrays = spec.kind, spec.name, spec.params, spec.arrays
    if kind not in TARGET_KINDS:
        raise DataError(f"unknown target kind {kind!r}; known: {', '.join(TARGET_KINDS)}")
    missing = [a for a in TARGET_ARRAYS[kind] if a not in arrays]
    if missing:
        raise DataError(f"a {kind} target needs the array(s) {', '.join(missing)}")
    if kind == "preset":
        from playground.data.targets.presets import make_preset

        noise = p.get("noise")
        if noise is not None and (isinstance(noise, bool) or not isinstance(noise, (int, float))):
            raise DataError(f"preset noise must be a number or null, got {noise!r}")
        preset = p.get("preset", name)
        if not isinstance(preset, str):
            raise DataError(f"preset name must be a string, got {preset!r}")
        return make_preset(preset, None if noise is None else float(noise))
    if kind == "raster":
        from playground.data.targets.raster import raster_target

        extent = p.get("extent", 4.0)
        if isinstance(extent, bool) or not isinstance(extent, (int, float)):
            raise DataError(f"raster extent must be a number, got {extent!r}")
        stored = np.asarray(arrays["raster"], dtype=np.float64)
        target = raster_target(stored, float(extent), name=name)
        # raster_target renormalises (divide by the peak, then by the sum), which may move the stored probabilities
        # by an ulp; keep the stored array in params so that saving again writes exactly what was read (no drift).
        target.params["raster"] = stored
        target.params.update(_info_params(p))
        return target
    if kind == "points":
        from playground.data.targets.points import points_target

        return points_target(np.asarray(arrays["points"], dtype=np.float64), name, _info_params(p))
    if kind == "gmm":
        from playground.data.targets.gaussian_mixture import GaussianMixture
        from playground.data.targets.gmm_file import gmm_target

        w, mu, cov = (np.asarray(arrays[k], dtype=np.float64) for k in ("weights", "means", "covariances"))
        if mu.ndim != 2 or mu.shape[1] != 2 or cov.shape != (len(mu), 2, 2) or w.shape != (len(mu),):
            raise DataError(f"GMM arrays have shapes {w.shape}, {mu.shape}, {cov.shape}; need (K,), (K, 2), (K, 2, 2)")
        try:
            gmm = GaussianMixture(w, mu, cov)
        except ValueError as e:
            raise DataError(str(e)) from e
        return gmm_target(name, gmm, {"name": name, **_info_params(p)})
    comps = p.get("components")
    if not isinstance(comps, list) or not comps:
        raise DataError("a gmm_components target needs a non-empty 'components' list")
    from playground.data.targets.gmm_components import Component, components_target

    return components_target([Component(**_component_dict(c)) for c in comps], name)
