"""The app's settings as a plain, Qt-free dataclass: `Settings` (saved in QSettings and in workspaces).

Lives outside `playground.app` so that headless code (`playground.core.io.workspace`, the CLI, tests) can build, check and
compare settings without importing Qt: `load_workspace(path, settings_defaults=Settings().to_dict())` checks each
stored setting has the type of its default. `playground.app.state` re-exports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class Settings:
    """Everything the user can set; saved in QSettings and workspaces. Names match TrainConfig where shared."""

    sde: str = "vp"
    beta_min: float = 0.1
    beta_max: float = 20.0
    sigma_min: float = 0.01
    sigma_max: float | None = None  # None: suggested from the data
    output: str = "eps"
    objective: str = "dsm"
    weighting: str = "song"
    hidden: int = 128
    depth: int = 3
    lr: float = 6e-3  # the trainer's tuned default (TrainConfig)
    batch: int = 512
    steps: int = 5000
    seconds: float | None = None
    seed: int = 0
    device: str = "cpu"
    # the two sides of the Sampling panel: any sampler of playground.app.samplers.SPECS on either side, with its
    # options as 'name=value,...' (only those that differ from the defaults)
    sde_sampler: str = "em"
    sde_sampler_options: str = ""
    ode_sampler: str = "ode_heun"
    ode_sampler_options: str = ""
    sample_steps: int = 200
    n_particles: int = 4000
    n_trajectories: int = 64
    n_forward: int = 4000
    target_samples: int = 20000
    # image mode (a UNet on an image dataset): IMAGE_TRAIN_DEFAULTS' 16 base channels; labels for a class-conditional
    # model trained with label dropout, the null class enabling classifier-free guidance (Ho & Salimans 2022)
    base_channels: int = 16
    image_classes: bool = False
    # 2D: a Gaussian mixture's components as classes (class-conditional MLP with label dropout, for the Classes panel)
    classes_2d: bool = False
    # the 2D training values, kept while image mode trains with its own lr / batch / stop / output / weighting and
    # restored on leaving it
    lr_2d: float = 6e-3
    batch_2d: int = 512
    steps_2d: int = 5000
    seconds_2d: float | None = None
    output_2d: str = "eps"
    weighting_2d: str = "song"

    def to_dict(self) -> dict:
        return asdict(self)

    def as_2d(self) -> Settings:
        """These settings with the kept 2D training values active (what to store while image mode overrides them)."""
        return replace(self, lr=self.lr_2d, batch=self.batch_2d, steps=self.steps_2d, seconds=self.seconds_2d,
                       output=self.output_2d, weighting=self.weighting_2d)

    @classmethod
    def from_dict(cls, d: dict) -> Settings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


__all__ = ["Settings"]
