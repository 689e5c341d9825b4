"""The GPU tier of training (``pytest -m gpu``): the training step on a CUDA device computes the
same losses and parameter gradients as on the CPU (float64), for every regime, with size groups
and vmap-chunked Hessians; an epoch of steps captured as a CUDA graph ends where the plain CPU
epoch ends; a short E-F-H run trains on the device. Skipped without CUDA (CI).

``PHL_GPU_TIER_TORCH_DEVICE=cpu pytest -m gpu tests/test_gpu_training.py`` runs the same tests
with the CPU as the "device": how the tier itself is checked on machines without a GPU.
"""

import os

import numpy as np
import pandas as pd
import pytest
import torch

from phl.training.config import TrainConfig
from phl.training.teacher import teacher_dataset
from phl.training.trainer import Trainer

DEVICE = os.environ.get("PHL_GPU_TIER_TORCH_DEVICE", "cuda")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        DEVICE.startswith("cuda") and not torch.cuda.is_available(), reason="no CUDA device (the GPU tier)"
    ),
]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return teacher_dataset(tmp_path_factory.mktemp("gpu") / "teacher.h5", 60, seed=2, median_atoms=7, max_atoms=11)


@pytest.mark.parametrize(
    "regime, probes, groups",
    [("ef", "randomized", 1), ("hvp-random", "randomized", 1), ("hvp-onehot", "fixed", 3), ("efh", "randomized", 0)],
)
def test_step_on_the_device_equals_the_cpu_step(tmp_path, teacher, regime, probes, groups):
    results = {}
    for device in ("cpu", DEVICE):
        cfg = TrainConfig(regime=regime, probes=probes, size_groups=groups, batch_size=16, device=device, seed=3)
        trainer = Trainer(cfg, teacher, tmp_path / device)
        batch = next(iter(trainer.loader)).to(trainer.device)
        terms = trainer.batch_losses(batch)
        grads = torch.autograd.grad(terms["total"], trainer.params)
        results[device] = ({k: v.detach().cpu() for k, v in terms.items()}, [g.cpu() for g in grads])
    (t_cpu, g_cpu), (t_dev, g_dev) = results["cpu"], results[DEVICE]
    for key in t_cpu:
        torch.testing.assert_close(t_dev[key], t_cpu[key], rtol=1e-9, atol=1e-12, msg=key)
    for a, b in zip(g_dev, g_cpu):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-12)


def test_short_efh_run_on_the_device(tmp_path, teacher):
    cfg = TrainConfig(regime="efh", batch_size=16, max_epochs=2, device=DEVICE, lr=5e-4)
    summary = Trainer(cfg, teacher, tmp_path / "run").run()
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert summary["device"].startswith(DEVICE.split(":")[0]) and len(log) == 2
    assert np.all(np.isfinite(log["train_loss"])) and (log["peak_mem_mb"] > 0).all()


@pytest.mark.parametrize("regime", ["ef", "hvp-random"])
def test_captured_steps_train_as_the_plain_cpu_steps(tmp_path, teacher, regime):
    """static_step graph (eager where the "device" is the CPU): same losses and parameters after
    an epoch of 4 batches (the last one short, made up with empty molecules) as the plain step."""
    mode = "graph" if DEVICE.startswith("cuda") else "eager"
    trainers = {}
    for device, static in (("cpu", "off"), (DEVICE, mode)):
        cfg = TrainConfig(regime=regime, batch_size=16, device=device, seed=3, static_step=static)
        trainer = Trainer(cfg, teacher, tmp_path / f"{device}-{static}")
        trainers[static] = (trainer.train_epoch(), trainer)
    (plain_losses, plain), (losses, captured) = trainers["off"], trainers[mode]
    if mode == "graph":
        assert captured.static_step.failure is None and captured.static_step.graph is not None
    assert losses.total == pytest.approx(plain_losses.total, rel=1e-10)
    for a, b in zip(captured.params, plain.params):
        torch.testing.assert_close(a.detach().cpu(), b.detach(), rtol=1e-8, atol=1e-12)
