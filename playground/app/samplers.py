"""The samplers as the app offers them (Qt-free): one `SamplerSpec` per sampler of playground.core.sampling.samplers
(its display name, the family its view title names, the SDEs it applies to with the reason when it does not, and its
options with range, default and tooltip), how an option string is read and written, and how the one 'sampling
steps' setting is spent by each sampler so that both sides of a comparison spend a similar budget, and the
reverse-SDE sampler an SDE starts with.

Adding a sampler or an option is one entry in SPECS; the sampling panel builds its controls from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RK45_MAX_FRAMES = 25
RF_SDE_SAMPLER = "ancestral"
"""The reverse-SDE sampler that replaces Euler–Maruyama when the SDE becomes rectified flow: rf's g(t)² = 2t / (1 − t)
is ~2000 at T = 0.999, so EM's first step x -= [f − g² s] h moves x by ~g² h |s| (10 prior std at 200 steps, 100 at
20; measured with the exact 8-Gaussians score: |y| reaches 19 resp. 209 after one step, so the particles leave the
view and a learned score is asked far outside its training data). The ancestral step samples the exact Gaussian
posterior of the path between grid points (DDPM's step for VP), at EM's cost of one score a step, and its particles
never leave the data's range (max |y| 4.2 on the same test)."""


@dataclass(frozen=True)
class SamplerOption:
    """One keyword option of a core sampler: a number in [minimum, maximum] (an int when `integer`), or one of
    `choices` ((value, label) pairs); `log`: a spin box that steps by factors (tolerances, step sizes)."""

    key: str
    label: str
    default: float | int | str
    tip: str
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 0.1
    decimals: int = 2
    integer: bool = False
    log: bool = False
    choices: tuple[tuple[str, str], ...] = ()

    def check(self, value) -> float | int | str:
        """`value` as this option's type, or ValueError saying the allowed values."""
        if self.choices:
            allowed = [c for c, _ in self.choices]
            if value not in allowed:
                raise ValueError(f"{self.label} must be one of {', '.join(allowed)}, got {value!r}")
            return value
        v = float(value)
        if not math.isfinite(v) or not (self.minimum <= v <= self.maximum):
            raise ValueError(f"{self.label} must be between {self.minimum:g} and {self.maximum:g}, got {value!r}")
        if self.integer:
            if v != int(v):
                raise ValueError(f"{self.label} must be a whole number, got {value!r}")
            return int(v)
        return v

    def show(self, value) -> str:
        """The value as the view's info line writes it."""
        if self.choices:
            return dict(self.choices).get(value, str(value))
        return str(int(value)) if self.integer else f"{float(value):g}"


@dataclass(frozen=True)
class SamplerSpec:
    """A sampler as the app offers it (every core sampler runs under every SDE of the app; `sampler_problem` says
    when its options and the steps cannot run)."""

    key: str
    name: str
    family: str
    tip: str
    options: tuple[SamplerOption, ...] = ()
    stochastic: bool = True

    @property
    def title(self) -> str:
        """The view title: family and name ('Reverse SDE — Euler–Maruyama'; 'DDIM' alone)."""
        return self.name if self.name == self.family else f"{self.family} — {self.name}"

    def defaults(self) -> dict:
        return {o.key: o.default for o in self.options}

    def option(self, key: str) -> SamplerOption:
        for o in self.options:
            if o.key == key:
                return o
        raise KeyError(key)


_SNR = SamplerOption("snr", "snr", 0.16, "Langevin corrector signal-to-noise ratio r: step e = 2 α (r |z| / |s|)².\n"
                     "Song et al. 2021 use 0.16 (VE) / 0.01 (VP) on images; larger: bigger corrector steps.",
                     minimum=0.001, maximum=2.0, step=0.01, decimals=3)
_N_CORRECTOR = SamplerOption("n_corrector", "correctors", 1, "Langevin corrector steps before every predictor step "
                             "(each costs one score evaluation).", minimum=0, maximum=10, step=1, integer=True)
_PREDICTOR = SamplerOption("predictor", "predictor", "reverse_diffusion",
                           "The predictor of each step: the reverse-diffusion discretisation, Euler–Maruyama, the\n"
                           "ancestral step, or none (corrector only: annealed Langevin on the SDE's grid).",
                           choices=(("reverse_diffusion", "reverse diffusion"), ("em", "Euler–Maruyama"),
                                    ("ancestral", "ancestral"), ("none", "none")))
_CORRECTOR = SamplerOption("corrector", "corrector", "langevin",
                           "The corrector before each predictor step: Langevin (step from the score / noise norm\n"
                           "ratio, Alg. 5), ALD (annealed Langevin, step 2 α (snr σ)²) or none.",
                           choices=(("langevin", "Langevin"), ("ald", "ALD"), ("none", "none")))

_STOCHASTICITY = SamplerOption("stochasticity", "λ", 1.0, "Stochasticity λ: 0 the probability-flow ODE, 1 the reverse SDE, "
                               "more above;\nevery λ has the same marginals (the left view's slider sets it too).",
                               minimum=0.0, maximum=3.0, step=0.05, decimals=2)

SPECS: dict[str, SamplerSpec] = {s.key: s for s in (
    SamplerSpec("em", "Euler–Maruyama", "Reverse SDE",
                "Euler–Maruyama on the reverse process dx = [f − (1 + λ²)/2 g² s] dt + λ g dw̄ (Song et al. 2021,\n"
                "Eq. 6 at λ = 1, the PF-ODE at λ = 0, App. D.1 for any λ).", options=(_STOCHASTICITY,)),
    SamplerSpec("reverse_diffusion", "reverse diffusion", "Reverse SDE",
                "The reverse-diffusion predictor x ← x − f_i + G_i² s + G_i z of the SDE discretised on the\n"
                "sampling grid (Song et al. 2021, App. E)."),
    SamplerSpec("ancestral", "ancestral", "Reverse SDE",
                "Ancestral sampling: the discrete posterior step of the sampling grid (Ho et al. 2020, Eq. 11):\n"
                "DDPM's on VP, SMLD's on VE, the exact transition's posterior (DDIM at η = 1) on the others."),
    SamplerSpec("pc", "predictor–corrector", "Reverse SDE",
                "Predictor–corrector (Song et al. 2021, Alg. 1–5): Langevin corrector steps at each t, then a\n"
                "predictor step.", options=(_PREDICTOR, _CORRECTOR, _SNR, _N_CORRECTOR)),
    SamplerSpec("ode_euler", "Euler", "PF-ODE",
                "Euler on the probability-flow ODE dx/dt = f − ½ g² s (Song et al. 2021, Eq. 13): 1 evaluation a "
                "step.", stochastic=False),
    SamplerSpec("ode_heun", "Heun", "PF-ODE",
                "Heun's 2nd-order method on the PF-ODE (Karras et al. 2022, Alg. 1): 2 evaluations a step, about\n"
                "half the steps of the left side for the same budget.", stochastic=False),
    SamplerSpec("ode_rk45", "adaptive RK45", "PF-ODE",
                "Adaptive Dormand–Prince RK45 (dopri5) on the PF-ODE: the tolerances choose the step sizes; the\n"
                f"steps are its output frames (at most {RK45_MAX_FRAMES}).", stochastic=False, options=(
                    SamplerOption("rtol", "rtol", 1e-5, "Relative tolerance of each adaptive step.",
                                  minimum=1e-8, maximum=1e-1, step=10.0, decimals=8, log=True),
                    SamplerOption("atol", "atol", 1e-5, "Absolute tolerance of each adaptive step.",
                                  minimum=1e-8, maximum=1e-1, step=10.0, decimals=8, log=True))),
    SamplerSpec("ddim", "DDIM", "DDIM",
                "DDIM (Song, Meng & Ermon 2021): x_s = α_s x̂₀ + √(σ_s² − v) ε̂ + √v z; η = 0 is deterministic\n"
                "(the PF-ODE's discretisation), η = 1 the DDPM posterior step.", options=(
                    SamplerOption("eta", "η", 0.0, "Stochasticity: 0 deterministic, 1 the DDPM posterior variance.",
                                  minimum=0.0, maximum=1.0, step=0.1, decimals=2),)),
    SamplerSpec("edm_heun", "EDM Heun", "EDM",
                "The EDM stochastic Heun sampler (Karras et al. 2022, Alg. 2) on the Karras noise grid; churn adds\n"
                "noise before each step (0: deterministic).", options=(
                    SamplerOption("S_churn", "churn", 0.0, "S_churn: how much noise is added back each step "
                                  "(γ = min(S_churn / steps, √2 − 1)); 0 is the deterministic Heun ODE solver.",
                                  minimum=0.0, maximum=100.0, step=1.0, decimals=1),
                    SamplerOption("rho", "ρ", 7.0, "ρ of the Karras noise grid: larger packs the steps near σ = 0.",
                                  minimum=1.0, maximum=20.0, step=1.0, decimals=1))),
    SamplerSpec("langevin", "Langevin", "Langevin",
                "Unadjusted Langevin dynamics at the smallest t: x ← x + (e/2) s + √e z (Roberts & Tweedie 1996).\n"
                "It mixes poorly between separated modes and gets their weights wrong: compare it with the others.",
                options=(SamplerOption("step_size", "step", 1e-3, "Step size e in squared normalised units.",
                                       minimum=1e-6, maximum=1.0, step=10.0, decimals=6, log=True),)),
    SamplerSpec("annealed_langevin", "annealed Langevin", "Langevin",
                "Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1): Langevin steps over geometric noise levels\n"
                "from σ_max down to σ_min; the steps are split over the levels.", options=(
                    SamplerOption("levels", "levels", 30, "Noise levels (the sampling steps are split over them; "
                                  "steps must be at least the levels).", minimum=1, maximum=1000, step=5,
                                  integer=True),
                    SamplerOption("eps", "ε", 5e-5, "Step scale: a_i = ε (σ_i / 0.01)², the fraction Song & Ermon tuned.", minimum=1e-8, maximum=1e-1,
                                  step=10.0, decimals=8, log=True))),
)}

SAMPLER_NAMES: dict[str, str] = {k: s.name for k, s in SPECS.items()}


def sampler_name(key: str) -> str:
    """The display name of sampler `key` (the key itself when it has none)."""
    return SAMPLER_NAMES.get(key, key)


def sampler_title(key: str) -> str:
    """The view title of sampler `key`: its family and name."""
    spec = SPECS.get(key)
    return spec.title if spec is not None else key


def parse_options(key: str, text: str) -> dict:
    """The options of sampler `key` from a settings string 'snr=0.16,n_corrector=2': every option of the sampler,
    defaults where the string has none; unknown or invalid entries are dropped (an old or hand-edited file)."""
    spec = SPECS.get(key)
    if spec is None:
        return {}
    out = spec.defaults()
    for part in (text or "").split(","):
        name, sep, raw = part.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or name not in out:
            continue
        try:
            opt = spec.option(name)
            out[name] = opt.check(raw if opt.choices else float(raw))
        except ValueError:
            continue
    return out


def format_options(key: str, options: dict) -> str:
    """The settings string of sampler `key`'s options (only those that differ from the default; checked)."""
    spec = SPECS.get(key)
    if spec is None:
        return ""
    parts = []
    for opt in spec.options:
        if opt.key in options:
            v = opt.check(options[opt.key])
            if v != opt.default:
                parts.append(f"{opt.key}={v if isinstance(v, str) else repr(v)}")
    return ",".join(parts)


def describe_options(key: str, options: dict) -> str:
    """The options as the view's info line writes them ('snr 0.16, correctors 1'), '' for none."""
    spec = SPECS.get(key)
    if spec is None:
        return ""
    return ", ".join(f"{o.label} {o.show(options.get(o.key, o.default))}" for o in spec.options)


SIDE_SETTINGS: dict[str, tuple[str, str]] = {"sde": ("sde_sampler", "sde_sampler_options"),
                                             "ode": ("ode_sampler", "ode_sampler_options")}
"""Each side of a comparison: the Settings fields of its sampler and of that sampler's options string."""


def side_choice(settings, side: str) -> tuple[str, dict]:
    """(sampler key, options) of comparison side `side` ('sde' left, 'ode' right) in `settings`."""
    key_field, options_field = SIDE_SETTINGS[side]
    key = getattr(settings, key_field)
    return key, parse_options(key, getattr(settings, options_field))


def side_changes(side: str, key: str, options: dict) -> dict:
    """The settings changes that put sampler `key` with `options` on side `side`."""
    key_field, options_field = SIDE_SETTINGS[side]
    return {key_field: key, options_field: format_options(key, options)}


def sampler_problem(key: str, options: dict, steps: int) -> str | None:
    """Why sampler `key` with `options` cannot run `steps` steps (what its view says instead of a picture), or None:
    annealed Langevin spreads the steps over its levels; predictor–corrector without a predictor needs a corrector."""
    if key == "annealed_langevin" and steps < int(options.get("levels", 1)):
        return (f"Annealed Langevin spreads the sampling steps over its {int(options['levels'])} noise levels: "
                f"{steps} steps are too few. Lower the levels (options) or raise the steps (Settings).")
    if key == "pc" and options.get("predictor") == "none" and (options.get("corrector") == "none"
                                                               or int(options.get("n_corrector", 1)) == 0):
        return "Predictor–corrector with no predictor needs a corrector step: nothing would move. Pick one in options."
    return None


def sampler_steps(key: str, sample_steps: int) -> int:
    """Steps of sampler `key` from the one `sample_steps` setting, so both sides spend a similar budget:
    Heun and EDM Heun (2 NFE a step, the last one a denoise): about half; RK45: `steps` is its number of output
    frames (each an adaptive solve), at most RK45_MAX_FRAMES; every other sampler: the same steps."""
    if key in ("ode_heun", "edm_heun"):
        return max(2, (sample_steps + 2) // 2)
    if key == "ode_rk45":
        return max(1, min(sample_steps, RK45_MAX_FRAMES))
    return max(1, sample_steps)


def sample_steps_for(key: str, steps: int) -> int:
    """The 'sampling steps' setting that gives sampler `key` exactly `steps` steps (`sampler_steps`'s inverse): twice
    the steps less 2 for Heun and EDM Heun, the steps for every other sampler; at least 2 (the setting's minimum)."""
    if key in ("ode_heun", "edm_heun"):
        return max(2, 2 * steps - 2)
    return max(2, steps)


def sde_sampler_for(sde: str, sampler: str) -> str:
    """The reverse-SDE sampler to use after switching to SDE `sde` from `sampler`: Euler–Maruyama becomes
    RF_SDE_SAMPLER under rectified flow (see there); every other choice is kept."""
    return RF_SDE_SAMPLER if sde == "rf" and sampler == "em" else sampler


__all__ = [
    "RF_SDE_SAMPLER", "RK45_MAX_FRAMES", "SAMPLER_NAMES", "SIDE_SETTINGS", "SPECS", "SamplerOption", "SamplerSpec", "describe_options",
    "format_options", "parse_options", "sample_steps_for", "sampler_name", "sampler_problem", "sampler_steps", "sampler_title", "side_changes",
    "sde_sampler_for", "side_choice",
]
