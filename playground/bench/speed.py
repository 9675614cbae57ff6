"""Throughput: `python -m playground bench speed [--threads 2] [--device cpu] [--batch 512] [--quick]`.

1. Trainer steps/s against a plain 20-line PyTorch loop (`plain_loop` below: same ScoreMLP, batch, data pool,
   eps-DSM loss on the VP SDE, torch.optim.Adam with its defaults, no EMA / clipping / schedule / checks), measured
   in the same process in alternating blocks (so background load hits both alike); the ratio is the median of the
   per-pair ratios. The trainer does more per step (EMA, clipping, lr schedule, divergence checks, per-time-bin loss
   every 10 steps) and wins part of it back with fused Adam.
2. Sampling throughput of a model with the same network: samples x NFE / s for Euler-Maruyama (reverse SDE) and the
   PF-ODE (Euler and Heun), `--n` samples at `--sample-steps` steps.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench speed", description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto")
    p.add_argument("--batch", type=int, default=None, help="default: TrainConfig's")
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--depth", type=int, default=None)
    p.add_argument("--block", type=int, default=200, help="steps per timed block")
    p.add_argument("--repeats", type=int, default=7, help="timed block pairs")
    p.add_argument("--n", type=int, default=10000, help="samples for the sampling throughput")
    p.add_argument("--sample-steps", type=int, default=200)
    p.add_argument("--data", default="checkerboard")
    p.add_argument("--quick", action="store_true", help="smaller blocks and samples (a smoke run)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="TrainConfig overrides for the trainer (and the plain loop's network), e.g. output=edm")
    return p


def plain_loop(net, pool, batch, lr, steps, sde, device):
    """The reference: what one writes by hand to train `net` with eps-DSM on the VP SDE."""
    opt = getattr(net, "_bench_opt", None)
    if opt is None:
        opt = net._bench_opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        x0 = pool[torch.randint(0, len(pool), (batch,), device=device)]
        t = torch.rand(batch, device=device) * (1 - 1e-5) + 1e-5
        alpha, std = sde.marginal_coefficients(t)
        eps = torch.randn_like(x0)
        xt = alpha[:, None] * x0 + std[:, None] * eps
        c_noise = 0.25 * torch.log(std / alpha)
        loss = (net(xt, c_noise) - eps).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def measure_training(args) -> dict:
    from playground.bench.quality import parse_overrides
    from playground.core.nets.build import network_from_config
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer
    from playground.data.targets.spec import load_target

    over = {k: getattr(args, k) for k in ("batch", "hidden", "depth") if getattr(args, k) is not None}
    over.update(parse_overrides(args.set))
    cfg = TrainConfig(steps=None, seconds=None, lr_schedule="constant", device=args.device, threads=args.threads, **over)
    target = load_target(args.data)
    trainer = Trainer(cfg, target.sample(cfg.pool, 0))
    device = trainer.device
    torch.manual_seed(0)
    net = network_from_config(trainer.model.net.config()).to(device)  # the very same architecture
    pool = trainer.pool
    # warm-up both (allocator, kernels, fused-optimizer set-up)
    trainer.run(max_steps=max(20, args.block // 4))
    plain_loop(net, pool, cfg.batch, cfg.lr, max(20, args.block // 4), trainer.sde, device)
    t_rates, p_rates, ratios = [], [], []
    for i in range(args.repeats):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        rate = [0.0, 0.0]
        for which in order:
            _sync(device)
            t0 = time.perf_counter()
            if which == 0:
                trainer.run(max_steps=args.block)
            else:
                plain_loop(net, pool, cfg.batch, cfg.lr, args.block, trainer.sde, device)
            _sync(device)
            rate[which] = args.block / (time.perf_counter() - t0)
        t_rates.append(rate[0])
        p_rates.append(rate[1])
        ratios.append(rate[0] / rate[1])
    return {
        "device": str(device),
        "batch": cfg.batch,
        "hidden": cfg.hidden,
        "depth": cfg.depth,
        "params": sum(p.numel() for p in net.parameters()),
        "trainer_its": statistics.median(t_rates),
        "plain_its": statistics.median(p_rates),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "model": trainer.snapshot().to(device),
    }


def measure_sampling(model, args, device: torch.device) -> list[dict]:
    rows = []
    for sampler in ("em", "ode_euler", "ode_heun"):
        model.sample(min(args.n, 500), sampler=sampler, steps=5, seed=0)  # warm-up
        _sync(device)
        t0 = time.perf_counter()
        res = model.sample(args.n, sampler=sampler, steps=args.sample_steps, seed=0, return_result=True)
        _sync(device)
        dt = time.perf_counter() - t0
        rows.append(
            {"sampler": sampler, "n": args.n, "steps": args.sample_steps, "nfe": res.nfe, "seconds": dt,
             "samples_steps_per_s": args.n * args.sample_steps / dt, "samples_nfe_per_s": args.n * res.nfe / dt}
        )
    return rows


def _table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.block, args.repeats, args.n, args.sample_steps = 50, 3, 2000, 50
    torch.set_num_threads(args.threads)
    print(
        f"bench speed: torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} threads, device {args.device}",
        flush=True,
    )
    tr = measure_training(args)
    device = torch.device(tr["device"])
    print()
    print(
        _table(
            ["training", "device", "batch", "hidden x depth", "params", "steps/s", "samples/s", "ratio (min..max)"],
            [
                ["plain loop", tr["device"], str(tr["batch"]), f"{tr['hidden']} x {tr['depth']}", str(tr["params"]),
                 f"{tr['plain_its']:.0f}", f"{tr['plain_its'] * tr['batch']:.3g}", "1"],
                ["Trainer", tr["device"], str(tr["batch"]), f"{tr['hidden']} x {tr['depth']}", str(tr["params"]),
                 f"{tr['trainer_its']:.0f}", f"{tr['trainer_its'] * tr['batch']:.3g}",
                 f"{tr['ratio']:.3f} ({tr['ratio_min']:.2f}..{tr['ratio_max']:.2f})"],
            ],
        )
    )
    rows = measure_sampling(tr["model"], args, device)
    print()
    print(
        _table(
            ["sampler", "n", "steps", "NFE", "seconds", "samples x steps / s", "samples x NFE / s"],
            [[r["sampler"], str(r["n"]), str(r["steps"]), str(r["nfe"]), f"{r['seconds']:.2f}",
              f"{r['samples_steps_per_s']:.3g}", f"{r['samples_nfe_per_s']:.3g}"] for r in rows],
        )
    )
    print(f"\n(trainer / plain-loop target: >= 0.95; median of {args.repeats} alternating blocks of {args.block} steps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

