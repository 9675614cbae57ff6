"""ScoreModel: a raw network + its SDE + its output kind + the data normalisation, with a data-space API.

Spaces. The SDE and the network live in *normalised* space y = (x - mean) / scale (`Normalization`, one isotropic
scale: the RMS per-dimension std of the training data, so normalised data has unit RMS std). The data-space
process is x_t = mean + scale * y_t, hence (SCIENCE.md, `normalization.py`)

    score_data(x, t) = score_norm((x - mean) / scale, t) / scale,     E[x0 | x_t] = mean + scale * D_norm(y_t, t),
    log p_data(x) = log p_norm((x - mean) / scale) - D log(scale).

`score`, `denoise`, `sample`, `log_prob` and `score_fn()` (default space='data') take and return data space, like
the app's exact score (`AppState.exact_score_fn`). `self.sde` is the SDE in normalised space: to drive a sampler of
`playground.core.sampling.samplers` yourself, pair it with `score_fn(space='norm')`, start from `sde.prior_sample` and map the
result with `to_data` (that is what `sample` does).

Network inputs (every output kind): with alpha, sigma the marginal coefficients at t and sigma_edm = sigma / alpha,
the network sees F(c_in x_t, c_noise) with c_in = 1 / sqrt(alpha^2 sd^2 + sigma^2) (unit-variance input; sd = the
normalised data std, 1 by default; c_in = 1 for VP) and c_noise = ln(sigma_edm) / 4 (EDM's noise input). Outputs:
  eps   -> eps_hat = F                             score = -eps_hat / sigma
  score -> score = F
  x0    -> D = F                                   score = (alpha D - x_t) / sigma^2
  edm   -> D = c_skip y + c_out F(c_in y, c_noise) on y = x_t / alpha at sigma_edm (Karras et al. 2022, sigma_data = sd)
  v     -> v = F, the velocity d x_t / dt (flow matching)   score = (f x_t - v) 2 / g^2 (the PF-ODE drift solved for s)
Every prediction converts to every other kind exactly (`predict`, `parameterization.convert`). Times above sde.T
(rectified flow: T = 0.999, where the path is singular at t = 1) are evaluated at T.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.parameterization import OUTPUT_KINDS, convert, edm_coefficients
from playground.core.diffusion.sde import SDE, ScoreFn, bcast, sde_from_config, time_vector


class ScoreModel(nn.Module):
    """A trained (or training) score model; see the module docstring for its spaces and parameterisations.

    net: the raw network, forward(x, c_noise) -> like x. sde: the SDE in normalised space. output: 'eps', 'score',
    'x0', 'edm' or 'v'. normalization: data <-> normalised map. sigma_data: std of the normalised data (EDM's sd and the
    input scaling). config: free-form dict stored in model files (training settings, steps, loss, ...).
    class_names: names of a class-conditional network's classes (index = label). Image models (a network with
    `data_shape`, e.g. the UNet) keep data flat (N, C*H*W) internally; `sample` returns (n, C, H, W) in [0, 1].
    Every score/denoise method takes class_labels=None: None (unconditional, the null class of a conditional net),
    an int, or (N,) ints.
    """

    def __init__(
        self,
        net: nn.Module,
        sde: SDE,
        output: str = "eps",
        normalization: Normalization | None = None,
        sigma_data: float = 1.0,
        config: dict | None = None,
        class_names: tuple[str, ...] | list[str] | None = None,
    ):
        super().__init__()
        if output not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {output!r}; choose one of {OUTPUT_KINDS}")
        self.net = net
        self.sde = sde
        self.output = output
        self.dim = int(getattr(net, "dim", 2))
        self.normalization = normalization or Normalization.identity(self.dim)
        self.sigma_data = float(sigma_data)
        self.config = dict(config or {})
        self.class_names = tuple(str(c) for c in (class_names or ()))
        # VP keeps alpha^2 + sigma^2 = 1, so with sd = 1 the input scaling is the identity: skip it.
        self._unit_input = self.sde.name == "vp" and self.sigma_data == 1.0

    # ---- normalised space ---------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def coefficients(self, t: torch.Tensor):
        """(alpha, sigma, c_in, c_noise), each of t's shape (N,)."""
        alpha, std = self.sde.marginal_coefficients(t)
        c_noise = 0.25 * (torch.log(std) - torch.log(alpha))
        if self._unit_input:
            c_in = None
        else:
            c_in = torch.rsqrt(alpha * alpha * (self.sigma_data**2) + std * std)
        return alpha, std, c_in, c_noise

    def _net(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels=None) -> torch.Tensor:
        """The raw network; class_labels are passed only when given (unconditional networks take none)."""
        if class_labels is None:
            return self.net(x, c_noise)
        return self.net(x, c_noise, class_labels)

    def net_output(self, y: torch.Tensor, t: torch.Tensor, class_labels=None):
        """The model's natural output at normalised x_t = y: (out, alpha, sigma), where out is eps_hat (eps),
        the score (score), the denoiser D (x0, edm) or the velocity (v). Differentiable; y (N, ...) and t (N,) on the
        model's device, t <= sde.T."""
        return self._output(y, t, class_labels, with_trace=False)[:3]

    def _output(self, y: torch.Tensor, t: torch.Tensor, class_labels, with_trace: bool):
        """(out, alpha, sigma, tr(d out / d y) or None); see `net_output`."""
        alpha, std, c_in, c_noise = self.coefficients(t)
        if self.output == "edm":
            sigma = std / alpha
            c_skip, c_out, c_in_e, _ = edm_coefficients(sigma, self.sigma_data)
            z = y / bcast(alpha, y)
            raw, raw_trace = self._raw(bcast(c_in_e, y) * z, c_noise, class_labels, with_trace)
            out = bcast(c_skip, y) * z + bcast(c_out, y) * raw
            trace = None if raw_trace is None else (y[0].numel() * c_skip + c_out * c_in_e * raw_trace) / alpha
            return out, alpha, std, trace
        inp = y if c_in is None else bcast(c_in, y) * y
        raw, trace = self._raw(inp, c_noise, class_labels, with_trace)
        if trace is not None and c_in is not None:
            trace = c_in * trace
        return raw, alpha, std, trace

    def _raw(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels, with_trace: bool):
        """(net(x), tr(d net / d x) or None): the network's own forward-mode trace when it has one, else autograd."""
        if not with_trace:
            return self._net(x, c_noise, class_labels), None
        if hasattr(self.net, "forward_with_trace"):
            return self.net.forward_with_trace(x, c_noise, class_labels)
        if c_noise.numel() == 1:
            c_noise = c_noise.expand(x.shape[0])
        from playground.core.sampling.likelihood import divergence_exact

        return divergence_exact(lambda v: self._net(v, c_noise, class_labels), x)

    def score_norm_and_divergence(self, y: torch.Tensor, t: float | torch.Tensor, class_labels=None):
        """(score, div_y score) in normalised space, the divergence exact (the network's forward-mode trace), without
        gradients; any float dtype in, the same dtype out. The score is linear in (out, y) for every output kind,
        score = a out + b y, so div score = a tr(d out / d y) + D b with a, b read off `convert_output`. A scalar t
        (one time for the batch, as the density solver passes) computes every t-only term once, on one element."""
        dtype = y.dtype
        p = next(self.net.parameters())
        yy = y.to(p.device, p.dtype)
        tt = torch.as_tensor(t, dtype=yy.dtype, device=yy.device)
        tt = tt.reshape(1) if tt.ndim == 0 else time_vector(tt, yy)
        with torch.no_grad():
            tt = tt.clamp(max=self.sde.T)
            out, alpha, std, trace = self._output(yy, tt, class_labels, with_trace=True)
            score = self.convert_output(out, yy, tt, alpha, std, "score")
            one, zero = torch.ones_like(alpha)[:, None], torch.zeros_like(alpha)[:, None]
            a = self.convert_output(one, zero, tt, alpha, std, "score")[:, 0]
            b = self.convert_output(zero, one, tt, alpha, std, "score")[:, 0]
            div = a * trace + yy[0].numel() * b
        return score.to(y.device, dtype), div.to(y.device, dtype)

    def convert_output(self, out: torch.Tensor, y: torch.Tensor, t: torch.Tensor, alpha: torch.Tensor,
                       std: torch.Tensor, kind: str) -> torch.Tensor:
        """`net_output`'s out (with its alpha, sigma at t) as a prediction of `kind` ('eps', 'score', 'x0', 'v')."""
        velocity = self.sde.velocity_coefficients(t) if "v" in (self.output, kind) else None
        return convert(out, self.output, kind, y, alpha, std, velocity)

    def predict(self, kind: str, y: torch.Tensor, t: torch.Tensor, class_labels=None) -> torch.Tensor:
        """The network's prediction of `kind` ('eps', 'score', 'x0' or 'v') at normalised x_t = y; differentiable.
        y (N, ...) and t (N,) on the model's device; t above sde.T is evaluated at T."""
        t = t.clamp(max=self.sde.T)
        out, alpha, std = self.net_output(y, t, class_labels)
        return self.convert_output(out, y, t, alpha, std, kind)

    def eps_norm(self, y: torch.Tensor, t: torch.Tensor, class_labels=None) -> torch.Tensor:
        """eps_hat = -sigma * score in normalised space (what the objectives compare with the true noise)."""
        return self.predict("eps", y, t, class_labels)

    def _predict_any(self, kind: str, y: torch.Tensor, t: float | torch.Tensor, class_labels=None) -> torch.Tensor:
        """`predict` for any float dtype and device of y and a scalar or (N,) t; returns y's dtype and device."""
        p = next(self.net.parameters())
        yy = y.to(p.device, p.dtype)
        return self.predict(kind, yy, time_vector(t, yy), class_labels).to(y.device, y.dtype)

    def score_norm(self, y: torch.Tensor, t: float | torch.Tensor, class_labels=None) -> torch.Tensor:
        """grad_y log p_t(y) in normalised space; any float dtype in, the same dtype out."""
        return self._predict_any("score", y, t, class_labels)

    def denoise_norm(self, y: torch.Tensor, t: float | torch.Tensor, class_labels=None) -> torch.Tensor:
        """E[y0 | y_t] in normalised space (Tweedie)."""
        return self._predict_any("x0", y, t, class_labels)

    def velocity_norm(self, y: torch.Tensor, t: float | torch.Tensor, class_labels=None) -> torch.Tensor:
        """The velocity field E[alpha' y0 + sigma' eps | y_t] = f y - g^2 s / 2 (the PF-ODE drift) in normalised space."""
        return self._predict_any("v", y, t, class_labels)

    # ---- data space ---------------------------------------------------------------------------------------------
    def to_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalization.to_norm(x)

    def to_data(self, y: torch.Tensor) -> torch.Tensor:
        return self.normalization.to_data(y)

    @property
    def scale(self) -> float:
        return float(self.normalization.scale)

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.normalization.mean, dtype=np.float64)

    def _data_space(self, kind: str, x, t, class_labels=None):
        """A prediction of `kind` at data-space x (N, D) and t (float or (N,)), mapped to data space."""
        xt, back = _as_tensor(x)
        tt = torch.as_tensor(np.asarray(t) if not torch.is_tensor(t) else t, dtype=xt.dtype)
        with torch.no_grad():
            out = self._predict_any(kind, self.to_norm(xt), time_vector(tt, xt), class_labels)
        if kind == "score":
            out = out / self.scale
        elif kind == "v":
            out = out * self.scale
        else:
            out = self.to_data(out)
        return back(out)

    def score(self, x, t, class_labels=None):
        """Score of the data-space marginal p_t at x (N, D): numpy in -> numpy out, tensor in -> tensor out.
        t: a float or a per-sample array (N,)."""
        return self._data_space("score", x, t, class_labels)

    def denoise(self, x, t, class_labels=None):
        """E[x0 | x_t = x] in data space; numpy in -> numpy out."""
        return self._data_space("x0", x, t, class_labels)

    def velocity(self, x, t, class_labels=None):
        """The data-space velocity field dx/dt of the PF-ODE (flow matching's v) at x; numpy in -> numpy out."""
        return self._data_space("v", x, t, class_labels)

    def cond_score_fn(self, space: str = "norm"):
        """(x, t, class_labels) -> score, class_labels None for the unconditional score: the `cond_score_fn` of
        `playground.core.diffusion.guidance.classifier_free_guidance` (pair it with null_class=self.null_class)."""
        if space == "norm":
            return self.score_norm
        if space == "data":
            return lambda x, t, labels: self.score_norm(self.to_norm(x), t, labels) / self.scale
        raise ValueError(f"space must be 'data' or 'norm', got {space!r}")

    def score_fn(self, space: str = "data", class_labels=None, guidance: float = 0.0) -> ScoreFn:
        """ScoreFn (x, t) -> score. space='data' (default): the data-space process, like `AppState.exact_score_fn`;
        space='norm': normalised space, to pair with `self.sde` in a sampler or the likelihood ODE.
        class_labels: condition on these classes, with classifier-free guidance weight `guidance` (0: plain
        conditional score)."""
        if space not in ("data", "norm"):
            raise ValueError(f"space must be 'data' or 'norm', got {space!r}")
        if class_labels is None:
            if guidance != 0:
                raise ValueError("guidance needs class_labels")
            norm_fn = self.score_norm
        else:
            if self.null_class is None:
                raise ValueError("class_labels need a class-conditional model (trained with labels)")
            from playground.core.diffusion.guidance import classifier_free_guidance

            norm_fn = classifier_free_guidance(self.score_norm, class_labels, guidance, null_class=self.null_class)
        return norm_fn if space == "norm" else self.normalization.data_score_fn(norm_fn)

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) of one image for an image model, else None."""
        shape = getattr(self.net, "data_shape", None)
        return None if shape is None else tuple(int(v) for v in shape)

    @property
    def num_classes(self) -> int:
        """Number of classes of a class-conditional network; 0 when unconditional."""
        return int(getattr(self.net, "num_classes", 0) or 0)

    @property
    def null_class(self) -> int | None:
        """The label meaning 'no class' (classifier-free guidance), or None for an unconditional model."""
        return getattr(self.net, "null_class", None)

    def sample(
        self,
        n: int,
        sampler: str = "em",
        steps: int | None = None,
        seed: int = 0,
        trajectory: bool = False,
        trajectory_stride: int | None = None,
        x_T=None,
        return_result: bool = False,
        class_labels=None,
        guidance: float = 0.0,
        **sampler_options,
    ):
        """n samples (float32 numpy (n, D), data space) with a sampler of `playground.core.sampling.samplers`.

        Image models return (n, C, H, W) clipped to [0, 1] (trajectories (K, n, C, H, W), not clipped).
        class_labels (an int or (n,) ints) with `guidance` w: classifier-free guidance on a conditional model.

        x_T: optional start in *normalised* space (default: the prior, seeded by `seed`). trajectory=True also
        returns the path, (K, n, D) in data space, every `trajectory_stride` steps (default: about 100 frames).
        return_result=True returns the sampler's SampleResult with x and trajectory mapped to data space (tensors),
        plus nfe and times. Other keyword arguments go to the sampler (e.g. snr for 'pc', eta for 'ddim').
        """
        from playground.core.sampling import samplers

        if sampler not in samplers.SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(samplers.SAMPLERS)}")
        steps = int(steps) if steps is not None else samplers.DEFAULT_STEPS[sampler]
        p = next(self.net.parameters())
        if x_T is None:
            start = int(n)  # the sampler draws x_T from the prior with its own seeded generator
        else:
            start = torch.as_tensor(np.asarray(x_T) if not torch.is_tensor(x_T) else x_T, dtype=p.dtype).to(p.device)
            start = start.reshape(len(start), self.dim) if self.image_shape is not None else start
        score_fn = self.score_fn("norm", class_labels, guidance)
        stride = 0
        if trajectory or return_result:
            stride = trajectory_stride if trajectory_stride is not None else (max(1, steps // 100) if trajectory else 0)
        with torch.no_grad():
            res = samplers.sample(
                sampler, score_fn, self.sde, start, steps=steps, seed=int(seed), shape=(self.dim,),
                dtype=p.dtype, device=p.device, trajectory_stride=stride, **sampler_options,
            )
        x = self.to_data(res.x.detach()).cpu()
        traj = None
        if res.trajectory is not None:
            tr = res.trajectory.detach()
            traj = self.to_data(tr.reshape(-1, *tr.shape[2:])).reshape(tr.shape).cpu()
        if self.image_shape is not None:
            x = x.reshape(len(x), *self.image_shape).clamp(0, 1)
            traj = None if traj is None else traj.reshape(*traj.shape[:2], *self.image_shape)
        if return_result:
            res.x = x
            res.trajectory = traj
            return res
        xs = x.numpy().astype(np.float32)
        if trajectory:
            return xs, (traj.numpy().astype(np.float32) if traj is not None else None)
        return xs

    def log_prob(self, x, **options) -> np.ndarray:
        """log p(x) in data space (nats, (N,)) through the PF-ODE with the exact divergence (2D data); options go
        to `playground.core.sampling.likelihood.log_likelihood` (eps, rtol, atol, batch_size, ...)."""
        from playground.core.sampling.likelihood import log_likelihood

        xt, _ = _as_tensor(x)
        p = next(self.net.parameters())
        # The ODE state is integrated in float64 (score_norm casts to the network's dtype and back).
        y = self.to_norm(xt.to(torch.float64)).to(p.device)
        options.setdefault("log_det_jacobian", self.normalization.log_det_jacobian)
        res = log_likelihood(self.score_norm, self.sde, y, **options)
        return res.logp.detach().cpu().numpy().astype(np.float64)

    # ---- bookkeeping -------------------------------------------------------------------------------------------
    def model_config(self) -> dict:
        """Everything that rebuilds this model (network, SDE, output kind, normalisation), plus `config`."""
        arch = self.net.config() if hasattr(self.net, "config") else {"type": type(self.net).__name__}
        cfg = {
            "network": arch,
            "sde": self.sde.config(),
            "output": self.output,
            "normalization": self.normalization.to_dict(),
            "sigma_data": self.sigma_data,
            "training": dict(self.config),
        }
        if self.image_shape is not None:
            cfg["image_shape"] = list(self.image_shape)
        if self.num_classes:
            cfg["num_classes"] = self.num_classes
            cfg["class_names"] = list(self.class_names)
        return cfg

    def extra_repr(self) -> str:
        return f"sde={self.sde.name}, output={self.output}, scale={self.scale:.4g}"


def build_model(cfg: dict) -> ScoreModel:
    """A ScoreModel (untrained weights) from `model_config()`."""
    from playground.core.nets.build import network_from_config

    net = network_from_config(cfg["network"])
    return ScoreModel(
        net,
        sde_from_config(cfg["sde"]),
        output=cfg.get("output", "eps"),
        normalization=Normalization.from_dict(cfg["normalization"]),
        sigma_data=float(cfg.get("sigma_data", 1.0)),
        config=cfg.get("training", {}),
        class_names=cfg.get("class_names"),
    )


def _as_tensor(x):
    """(float tensor, back) where back converts a result to x's original kind (numpy or torch)."""
    if torch.is_tensor(x):
        return x if x.is_floating_point() else x.float(), lambda r: r.to(x.dtype if x.is_floating_point() else r.dtype)
    a = np.asarray(x)
    dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.float32
    return torch.as_tensor(np.ascontiguousarray(a, dtype=dtype)), lambda r: r.detach().cpu().numpy().astype(dtype)

