"""Controllable generation: classifier-free guidance and classifier guidance, as score-function wrappers.

Every wrapper returns a plain `ScoreFn` (x, t) -> score, so it works with every sampler of
`playground.core.sampling.samplers`, the likelihood ODE and `playground.core.sampling.inpainting`.

Classifier-free guidance (Ho & Salimans 2022; SCIENCE.md): with a conditional model eps(x, c) trained with label
dropout (the dropped label is the network's null class),

    eps~ = (1 + w) eps(x, c) - w eps(x),

w = 0 is the conditional model, w > 0 sharpens towards the class. Since score = -eps / sigma and the denoiser
D = (x + sigma^2 score) / alpha are affine in eps with the same x-terms, the same combination holds for scores and
for denoisers: the wrapper applies it to the score. It costs two network evaluations per call (one batched call of
2N when the null label is known).

Classifier guidance (Dhariwal & Nichol 2021; Song et al. 2021 Sec. 5): grad log p_t(x | y) = grad log p_t(x) +
grad log p_t(y | x), with a time-dependent classifier p_t(y | x) and an optional scale on the classifier term. For a
Gaussian mixture whose components are the classes, the exact classifier is the responsibility r_y = p_t(y | x), and
grad log r_y = s_y - s with s_y the score of component y alone: the guided score at scale 1 is exactly the component's
score (`gmm_class_score_fn`), so conditional samples come from that component.
"""

from __future__ import annotations

from typing import Callable

import torch

from playground.core.diffusion.sde import SDE, ScoreFn, time_vector
from playground.data.targets.gaussian_mixture import GaussianMixture

ConditionalScoreFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
"""cond_score_fn(x, t, class_labels) -> score; class_labels (N,) ints, or None for the unconditional score."""

ClassifierFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""classifier(x, t) -> log p_t(k | x), shape (N, K); differentiable in x."""


def guided_combination(cond: torch.Tensor, uncond: torch.Tensor, w: float) -> torch.Tensor:
    """(1 + w) cond - w uncond (for eps, scores or denoisers alike); exactly `cond` when w = 0."""
    if w == 0:
        return cond
    return (1 + w) * cond - w * uncond


def _label_vector(class_labels, n: int, device) -> torch.Tensor:
    y = torch.as_tensor(class_labels, device=device).long()
    if y.ndim == 0:
        y = y.expand(n)
    if y.shape != (n,):
        raise ValueError(f"class labels must be an int or shape ({n},), got {tuple(y.shape)}")
    return y


def classifier_free_guidance(
    cond_score_fn: ConditionalScoreFn, class_labels, w: float, null_class: int | None = None
) -> ScoreFn:
    """ScoreFn of s~(x, t) = (1 + w) s(x, t, y) - w s(x, t, None).

    cond_score_fn(x, t, labels) -> score, with labels None for the unconditional score (a UNet maps None to its
    null class). class_labels: an int (the same class for the whole batch) or (N,) ints. null_class: when given,
    the conditional and unconditional scores come from one batched call on 2N inputs with labels
    [y, null_class]; otherwise from two calls. w = 0 skips the unconditional evaluation and returns the
    conditional score unchanged (bit for bit).
    """
    w = float(w)

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = time_vector(t, x)
        y = _label_vector(class_labels, len(x), x.device)
        if w == 0:
            return cond_score_fn(x, t, y)
        if null_class is not None:
            yy = torch.cat([y, torch.full_like(y, int(null_class))])
            both = cond_score_fn(torch.cat([x, x]), torch.cat([t, t]), yy)
            cond, uncond = both[: len(x)], both[len(x) :]
        else:
            cond, uncond = cond_score_fn(x, t, y), cond_score_fn(x, t, None)
        return guided_combination(cond, uncond, w)

    return score


def classifier_guidance(score_fn: ScoreFn, classifier: ClassifierFn, class_labels, scale: float = 1.0) -> ScoreFn:
    """ScoreFn of s(x, t) + scale * grad_x log p_t(y | x), the gradient by autograd through `classifier`
    (log-probabilities (N, K)). scale = 1 is the exact conditional score when both parts are exact."""
    scale = float(scale)

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = time_vector(t, x)
        y = _label_vector(class_labels, len(x), x.device)
        base = score_fn(x, t)
        if scale == 0:
            return base
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            logp = classifier(xg, t)
            picked = logp.gather(1, y[:, None]).sum()
            (grad,) = torch.autograd.grad(picked, xg)
        return base + scale * grad.to(base.dtype)

    return score


def _components(gmm: GaussianMixture) -> list[GaussianMixture]:
    return [gmm.component(k) for k in range(gmm.n_components)]


def gmm_classifier(gmm: GaussianMixture, sde: SDE) -> ClassifierFn:
    """The exact time-dependent classifier of a mixture whose components are the classes:
    log p_t(k | x) = log w_k + log N(x; alpha mu_k, C_k(t)) - log p_t(x) (differentiable in x)."""
    comps = _components(gmm)
    logw = torch.log(gmm.weights)

    def classifier(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = time_vector(t, x)
        logs = torch.stack([c.log_prob(x, t, sde).to(torch.float64) for c in comps], dim=1) + logw.to(x.device)
        return torch.log_softmax(logs, dim=1).to(x.dtype)

    return classifier


def gmm_conditional_score_fn(gmm: GaussianMixture, sde: SDE) -> ConditionalScoreFn:
    """The exact class-conditional score of a mixture whose components are the classes, as a `cond_score_fn`:
    labels y -> the score of component y alone (its own diffused Gaussian), None -> the mixture's score. With
    `classifier_free_guidance` it gives exact CFG, (1 + w) s_y - w s, which equals exact classifier guidance
    (`gmm_class_score_fn`) at scale 1 + w."""
    comps = _components(gmm)

    def score(x: torch.Tensor, t: torch.Tensor, class_labels) -> torch.Tensor:
        t = time_vector(t, x)
        if class_labels is None:
            return gmm.score(x, t, sde)
        y = _label_vector(class_labels, len(x), x.device)
        out = torch.empty_like(x)
        for k in torch.unique(y).tolist():
            if not 0 <= k < len(comps):
                raise ValueError(f"class {k} out of range for a {len(comps)}-component mixture")
            sel = y == k
            out[sel] = comps[k].score(x[sel], t[sel], sde)
        return out

    return score


def gmm_class_score_fn(gmm: GaussianMixture, sde: SDE, class_labels, scale: float = 1.0) -> ScoreFn:
    """Exact classifier guidance for a mixture: s + scale * grad log r_y = s + scale * (s_y - s), in closed form.

    scale = 1 gives grad log p_t(x | y), the score of component y alone; scale > 1 over-sharpens (as guidance
    does with a learned classifier); scale = 0 is the unconditional mixture score."""
    conditional = gmm_conditional_score_fn(gmm, sde)
    scale = float(scale)

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = time_vector(t, x)
        s = gmm.score(x, t, sde)
        if scale == 0:
            return s
        return s + scale * (conditional(x, t, class_labels) - s)

    return score
