"""Long runs: `train --resume` continues a run exactly, --checkpoint-every / --sample-every write resumable files and
PNG grids, --batch-per-rank outside torchrun, and a folder of RGB images trains at 32x32 and samples colour grids."""

import numpy as np
from PIL import Image

from playground import cli
from playground.core.training.model_file import load_model, read_model_file
from tests.core.training.rng_files import saved_elsewhere

TINY = ["--data", "digits", "--batch", "16", "--base-channels", "8", "--threads", "1", "--precision", "fp32"]


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_resume_continues_the_run_exactly(tmp_path, capsys):
    """On the CPU, which is deterministic: on a GPU, cuDNN's convolution kernels may differ by ~1e-6 between runs."""
    cpu = ["--device", "cpu"]
    straight, first, resumed = (tmp_path / f"{n}.safetensors" for n in ("straight", "first", "resumed"))
    assert run(capsys, "train", *TINY, *cpu, "--steps", 8, "--out", straight)[0] == 0
    assert run(capsys, "train", *TINY, *cpu, "--steps", 8, "--seconds", 1e-9, "--out", first)[0] == 0  # step 1
    code, out, err = run(capsys, "train", "--resume", first, *cpu, "--steps", 8, "--out", resumed)
    assert code == 0, err
    assert "resuming" in out and "at step 1 on digits" in out
    (meta_a, a), (meta_b, b) = read_model_file(straight), read_model_file(resumed)
    assert meta_b["config"]["training"]["steps_done"] == 8
    np.testing.assert_allclose(b["trainer.hist_loss"].numpy(), a["trainer.hist_loss"].numpy(), rtol=1e-5)
    for name in (k for k in a if k.startswith("ema.")):
        np.testing.assert_allclose(b[name].numpy(), a[name].numpy(), atol=1e-6, err_msg=name)


def test_resume_of_a_run_saved_on_another_device_type_trains_on_and_says_so(tmp_path, capsys):
    small = ["--data", "moons", "--hidden", "16", "--depth", "1", "--batch", "32", "--pool", "500", "--threads", "1",
             "--device", "cpu"]
    first, resumed = tmp_path / "first.safetensors", tmp_path / "resumed.safetensors"
    assert run(capsys, "train", *small, "--steps", 4, "--out", first)[0] == 0
    saved_elsewhere(first, tmp_path / "gpu.safetensors", "cuda")
    code, out, err = run(capsys, "train", "--resume", tmp_path / "gpu.safetensors", "--steps", 8, "--device", "cpu",
                         "--out", resumed)
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "saved on cuda and cannot continue on cpu" in notes[0]
    assert "not bit-identical" in notes[0]
    assert read_model_file(resumed)[0]["config"]["training"]["steps_done"] == 8


def test_resume_refuses_model_flags_and_a_finished_horizon(tmp_path, capsys):
    path = tmp_path / "m.safetensors"
    assert run(capsys, "train", *TINY, "--steps", 2, "--out", path)[0] == 0
    code, _, err = run(capsys, "train", "--resume", path, "--steps", 2, "--out", path)
    assert code == 2 and "give --steps above 2" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "train", "--resume", path, "--steps", 5, "--sde", "ve", "--out", path)
    assert code == 2 and "--sde cannot change a resumed run" in err


def test_checkpoints_and_sample_grids_every_k_steps(tmp_path, capsys):
    out, grids = tmp_path / "m.safetensors", tmp_path / "grids"
    code, _, err = run(capsys, "train", "--data", "shapes8", "--rgb", *TINY[2:], "--steps", 6, "--checkpoint-every", 4,
                       "--sample-every", 3, "--sample-dir", grids, "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in grids.iterdir()) == ["step_0000003.png", "step_0000006.png"]
    grid = np.asarray(Image.open(grids / "step_0000006.png").convert("RGB")).astype(int)
    assert grid.shape[0] >= 8 * 8 and np.abs(grid[..., 0] - grid[..., 1]).max() > 0  # a colour grid
    assert read_model_file(out)[0]["config"]["training"]["steps_done"] == 6
    code, _, err = run(capsys, "train", "--data", "moons", "--steps", 2, "--sample-every", 1, "--out", out)
    assert code == 2 and "applies to image datasets" in err


def test_batch_per_rank_in_one_process_and_the_chosen_settings(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    code, stdout, err = run(capsys, "train", *TINY[:2], *TINY[4:], "--batch-per-rank", 12, "--steps", 2, "--out", out)
    assert code == 0, err
    assert "batch 12" in stdout and "fp32, channels_last off, torch.compile off, fused Adam" in stdout
    training = read_model_file(out)[0]["config"]["training"]
    assert training["batch"] == 12 and training["distributed"] is None and training["speed"]["precision"] == "fp32"
    code, _, err = run(capsys, "train", *TINY, "--batch-per-rank", 12, "--steps", 2, "--out", out)
    assert code == 2 and "not both" in err


def test_a_folder_of_rgb_images_trains_at_32x32_and_samples_colour(tmp_path, capsys):
    from playground.data.images.spec import load_image_dataset

    folder = tmp_path / "pics"
    folder.mkdir()
    for k, img in enumerate(load_image_dataset("shapes", size=40, rgb=True, n=12, seed=5).images):
        Image.fromarray((img.transpose(1, 2, 0) * 255).astype(np.uint8)).save(folder / f"{k}.png")
    out = tmp_path / "m.safetensors"
    code, stdout, err = run(capsys, "train", "--data", f"folder:{folder}", "--size", 32, "--rgb", *TINY[2:],
                            "--steps", 2, "--out", out)
    assert code == 0, err
    assert "12 images 3x32x32" in stdout
    assert load_model(out).image_shape == (3, 32, 32)
    npy = tmp_path / "x.npy"
    assert run(capsys, "sample", "--model", out, "--n", 3, "--steps", 2, "--out", npy)[0] == 0
    assert np.load(npy).shape == (3, 3, 32, 32)
