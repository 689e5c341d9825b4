"""PHL losses and training: hand-computed values, unbiasedness, HVPs, regimes, resume, bad input."""

import importlib.util
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from phl.cli import main
from phl.dataset import Dataset, DatasetWriter
from phl.dataset.batching import BatchLoader, pad_structures
from phl.dataset.synthetic import synthetic_structures
from phl.errors import InputError
from phl.models import load_model as load_trained_model
from phl.models.ani import ANIModel
from phl.models.derivatives import energy_forces as model_energy_forces
from phl.models.derivatives import hessian as model_hessian
from phl.models.derivatives import hvp as model_hvp
from phl.models.mace import MACEModel
from phl.probes import draw_probes_torch
from phl.testing import exploding
from phl.training.config import TrainConfig
from phl.training.losses import energy_loss, forces_loss, hessian_loss, hvp_loss, reference_hvp
from phl.training.teacher import teacher_dataset
from phl.training.trainer import Trainer, TrainingError, resolve_device


class Quadratic(torch.nn.Module):
    """E = a Σ_i |r_i|² over real atoms: forces −2a r, Hessian 2a I. A tiny model for hand checks."""

    elements = (1, 6, 7, 8)

    def __init__(self, a=0.5):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, species, coordinates):
        return self.a * ((coordinates**2).sum(-1) * (species >= 0)).sum(-1)


def test_losses_against_hand_computed_values():
    model = Quadratic(0.5)
    species = torch.tensor([[1, 1, -1]])  # 2 real atoms, one padded
    xyz = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [9.0, 9.0, 9.0]]], dtype=torch.float64)
    n = torch.tensor([2])
    energy, forces, coords = model_energy_forces(model, species, xyz)
    assert energy.item() == pytest.approx(0.5 * (1 + 4))  # 2.5
    torch.testing.assert_close(forces[0, :2], -xyz[0, :2])  # −2a r
    assert torch.all(forces[0, 2] == 0)
    # L_E = (2.5 − 1.5)² / √2
    assert energy_loss(energy, torch.tensor([1.5], dtype=torch.float64), n).item() == pytest.approx(1 / math.sqrt(2))
    # reference forces zero: L_F = (1 + 4) / 6
    assert forces_loss(forces, torch.zeros_like(forces), n).item() == pytest.approx(5 / 6)
    h = model_hessian(forces, coords)
    torch.testing.assert_close(h[0, :6, :6], torch.eye(6, dtype=torch.float64))  # 2a I
    assert torch.all(h[0, 6:] == 0) and torch.all(h[0, :, 6:] == 0)
    # reference Hessian 3 I on the real block: L_H = 6 · (1 − 3)² / 36
    ref_h = torch.zeros(1, 9, 9, dtype=torch.float64)
    ref_h[0, :6, :6] = 3 * torch.eye(6)
    assert hessian_loss(h, ref_h, n).item() == pytest.approx(24 / 36)
    # HVP with v = (1, 1, 1, 1, 1, 1): H̃v − Hv = −2 v, ‖·‖² = 24, L = 24 / 36
    v = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    v[0, 0, :2] = 1.0
    hv = model_hvp(forces, coords, v)
    torch.testing.assert_close(hv[0, 0, :2], torch.ones(2, 3, dtype=torch.float64))
    assert hvp_loss(hv, reference_hvp(ref_h, v), n).item() == pytest.approx(24 / 36)


@pytest.mark.parametrize("kind", ["gaussian", "rademacher", "onehot"])
def test_hvp_loss_is_unbiased_estimate_of_hessian_loss(kind):
    """E_v ‖(H̃ − H) v‖² / (3N)² = ‖H̃ − H‖_F² / (3N)² for E[v vᵀ] = I."""
    rng = np.random.default_rng(0)
    n_atoms, n_max = 3, 4
    d = torch.zeros(1, 12, 12, dtype=torch.float64)
    a = torch.as_tensor(rng.normal(size=(9, 9)))
    d[0, :9, :9] = a + a.T  # H̃ − H on the real block
    n = torch.tensor([n_atoms])
    full = hessian_loss(d, torch.zeros_like(d), n).item()
    gen = torch.Generator().manual_seed(1)
    samples = []
    for _ in range(20):
        v = draw_probes_torch(n, n_max, 2000, kind, generator=gen)
        assert torch.all(v[:, :, n_atoms:] == 0)
        samples.append(((reference_hvp(d, v) ** 2).sum(dim=(2, 3))[0] / 81).numpy())
    s = np.concatenate(samples)
    sem = s.std(ddof=1) / np.sqrt(len(s))
    assert abs(s.mean() - full) < 4 * sem, (s.mean(), full, sem)
    assert abs(s.mean() - full) < 0.05 * full


def test_probe_second_moment_is_identity():
    gen = torch.Generator().manual_seed(2)
    n = torch.tensor([2, 1])
    for kind in ("gaussian", "rademacher", "onehot"):
        v = draw_probes_torch(n, 2, 40000, kind, generator=gen)[0].reshape(40000, 6)
        np.testing.assert_allclose((v.T @ v / 40000).numpy(), np.eye(6), atol=0.08)
        v1 = draw_probes_torch(n, 2, 1000, kind, generator=gen)[1].reshape(1000, 6)
        assert torch.all(v1[:, 3:] == 0)
        if kind == "onehot":  # √(3N) on exactly one real component
            assert torch.all((v1 != 0).sum(1) == 1) and torch.allclose(
                v1.abs().sum(1), torch.tensor(3.0).sqrt().double()
            )


def test_model_hvps_equal_full_hessian_times_v():
    torch.manual_seed(0)
    model = ANIModel()
    path_structs = list(synthetic_structures(6, seed=3, median_atoms=5, max_atoms=7, hessian=False))
    sp, xyz, n = pad_structures(path_structs)
    assert len(set(n.tolist())) > 1  # mixed sizes: padding is exercised
    _, forces, coords = model_energy_forces(model, sp, xyz)
    h = model_hessian(forces, coords)
    torch.testing.assert_close(h, model_hessian(forces, coords, chunk_size=5), rtol=0, atol=1e-12)
    torch.testing.assert_close(h, h.transpose(1, 2), rtol=0, atol=1e-10)
    v = draw_probes_torch(n, sp.shape[1], 3, "gaussian", generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model_hvp(forces, coords, v), reference_hvp(h, v), rtol=1e-10, atol=1e-12)
    # and the Hessian is the derivative of the forces (central differences)
    d = torch.randn_like(xyz) * (sp >= 0)[..., None]
    eps = 1e-5
    _, fp, _ = model_energy_forces(model, sp, xyz + eps * d, create_graph=False)
    _, fm, _ = model_energy_forces(model, sp, xyz - eps * d, create_graph=False)
    torch.testing.assert_close(-(fp - fm) / (2 * eps), reference_hvp(h, d[:, None])[:, 0], rtol=1e-6, atol=1e-8)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return teacher_dataset(
        tmp_path_factory.mktemp("data") / "teacher.h5", 90, seed=0, median_atoms=6, max_atoms=9, hvp_pairs=1
    )


SHORT = dict(max_epochs=3, batch_size=16, lr=5e-4)


@pytest.mark.parametrize(
    "regime, probes",
    [
        ("ef", "randomized"),
        ("hvp-onehot", "randomized"),
        ("hvp-random", "randomized"),
        ("efh", "randomized"),
        ("hvp-random", "fixed"),
        ("hvp-onehot", "fixed"),
        ("hvp-random", "stored"),
    ],
)
def test_short_training_of_every_regime(tmp_path, teacher, regime, probes):
    cfg = TrainConfig(regime=regime, probes=probes, **SHORT)
    summary = Trainer(cfg, teacher, tmp_path / "run").run()
    logdf = pd.read_csv(tmp_path / "run" / "log.csv")
    assert list(logdf["epoch"]) == [1, 2, 3] and summary["epochs"] == 3
    assert {"train_loss", "val_energy_rmse", "val_forces_rmse", "seconds", "peak_mem_mb"} <= set(logdf.columns)
    assert np.all(np.isfinite(logdf["train_loss"])) and np.all(logdf["seconds"] > 0)
    assert (logdf["train_hessian_loss"] > 0).all() == (regime != "ef")
    assert logdf["train_loss"].iloc[-1] < logdf["train_loss"].iloc[0]
    model = load_trained_model(tmp_path / "run" / "best.pt")
    assert isinstance(model, ANIModel) and json.loads((tmp_path / "run" / "final.json").read_text())["best_epoch"]


def _plain_step_terms(trainer, batch, generator):
    """The training step as written before size groups and vmap Hessians: one padded batch, the
    model Hessian one product at a time, probes drawn for the batch (the reference for the
    equivalence test below)."""
    cfg = trainer.cfg
    energy, forces, coords = model_energy_forces(trainer.model, batch.species, batch.coordinates)
    terms = {
        "energy": energy_loss(energy, batch.energy, batch.n_atoms),
        "forces": forces_loss(forces, batch.forces, batch.n_atoms),
    }
    if cfg.regime == "efh":
        terms["hessian"] = hessian_loss(model_hessian(forces, coords, chunk_size=0), batch.hessian, batch.n_atoms)
    elif cfg.uses_hvp:
        if cfg.probes == "randomized":
            probes = draw_probes_torch(
                batch.n_atoms, batch.species.shape[1], cfg.k_probes, cfg.probe_kind, generator=generator
            )
        else:
            probes = batch.probes
        ref = batch.hvps if cfg.probes == "stored" else reference_hvp(batch.hessian, probes)
        terms["hessian"] = hvp_loss(model_hvp(forces, coords, probes), ref, batch.n_atoms)
    total = cfg.weight_energy * terms["energy"] + cfg.weight_forces * terms["forces"]
    if "hessian" in terms:
        total = total + cfg.weight_hessian * terms["hessian"]
    terms["total"] = total.mean()
    return terms


@pytest.mark.parametrize(
    "regime, probes, groups",
    [
        ("ef", "randomized", 3),
        ("hvp-random", "randomized", 3),
        ("hvp-onehot", "randomized", 4),
        ("hvp-random", "fixed", 2),
        ("hvp-random", "stored", 3),
        ("efh", "randomized", 0),  # 0: three groups for E-F-H
        ("efh", "randomized", 1),
    ],
)
def test_step_equals_plain_step(teacher, regime, probes, groups):
    """Size groups and vmap-chunked Hessians compute the same per-molecule losses, total and
    parameter gradients as one padded batch with the Hessian one product at a time (float64)."""
    cfg = TrainConfig(regime=regime, probes=probes, size_groups=groups, k_probes=2, hessian_chunk=5, **SHORT)
    trainer = Trainer(cfg, teacher, "unused")
    batch = next(iter(trainer.loader))
    assert len(set(batch.n_atoms.tolist())) > 2  # mixed sizes: the groups differ in padding
    generator = torch.Generator().manual_seed(123)
    trainer.generator.manual_seed(123)
    got = trainer.batch_losses(batch)
    want = _plain_step_terms(trainer, batch, generator)
    assert set(got) == set(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-12, atol=1e-14, msg=key)
    g_got = torch.autograd.grad(got["total"], trainer.params)
    g_want = torch.autograd.grad(want["total"], trainer.params)
    for a, b in zip(g_got, g_want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "regime, probes",
    [
        ("ef", "randomized"),
        ("hvp-random", "randomized"),
        ("hvp-onehot", "fixed"),
        ("hvp-random", "stored"),
        ("efh", "randomized"),
    ],
)
def test_static_step_trains_as_the_plain_step(tmp_path, teacher, regime, probes):
    """An epoch at static shapes (batches padded to 16 molecules of the largest training
    molecule, the short last batch made up with empty molecules; the model's all-pairs AEV and
    stacked networks) ends with the same losses, parameters and optimiser states as the plain
    step's epoch; the network of an element absent from the data (F) gets a zero gradient
    either way (AdamW's weight decay still acts on it)."""
    runs = {}
    ani_with_fluorine = {"model_kwargs": {"elements": [1, 6, 7, 8, 9]}}
    for mode in ("off", "eager"):
        cfg = TrainConfig(regime=regime, probes=probes, static_step=mode, k_probes=2, **ani_with_fluorine, **SHORT)
        trainer = Trainer(cfg, teacher, tmp_path / mode)
        if mode == "eager":
            assert len(trainer.train_idx) % cfg.batch_size  # a short last batch to make up
            assert trainer.static_step.n_atoms == 9
        losses = trainer.train_epoch()
        runs[mode] = (losses, trainer)
    (plain_losses, plain), (static_losses, static) = runs["off"], runs["eager"]
    for key in ("total", "energy", "forces", "hessian"):
        assert getattr(static_losses, key) == pytest.approx(getattr(plain_losses, key), rel=1e-12)
    assert static_losses.n == plain_losses.n == len(plain.train_idx)
    for a, b in zip(static.params, plain.params):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-13)
    assert all(not p.grad.any() for p in static.model.networks[4].parameters())
    for key, opt in plain.optimizers.items():
        for a, b in zip(static.optimizers[key].state.values(), opt.state.values()):
            for name in b:
                torch.testing.assert_close(a[name], b[name], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("regime", ["ef", "hvp-random", "efh"])
def test_static_step_reads_nothing_back_from_the_device(tmp_path, teacher, regime):
    """What a CUDA graph captures must not read the device (no .item(), no data-dependent
    shapes, no checks that branch on values). Tensors on the meta device hold no values, so any
    such read fails there: the static step runs on them, the plain step does not."""
    cfg = TrainConfig(regime=regime, static_step="eager", **SHORT)
    trainer = Trainer(cfg, teacher, tmp_path / "run")
    batch = trainer.with_probes(next(iter(trainer.loader))).pad(cfg.batch_size, trainer.static_step.n_atoms)
    trainer.model.to("meta")
    trainer.params = list(trainer.model.parameters())
    meta = batch.to("meta")
    weights = torch.zeros(cfg.batch_size, dtype=torch.float64, device="meta")
    terms, grads = trainer.static_step.losses_and_gradients(meta, weights)
    assert terms["total"].device.type == "meta" and all(g is not None and g.is_meta for g in grads)
    with pytest.raises((RuntimeError, NotImplementedError)):
        trainer.batch_losses(meta)


class EagerReplay:
    """CPU stand-in for phl.training.static_step.CUDAGraphCapture: runs the step once when
    "captured", and at each replay recomputes it from the same input tensors and writes the
    results into those first outputs, as a CUDA graph's replay does."""

    def __init__(self, compute, device):
        self.compute, self.outputs, self.replays = compute, compute(), 0

    def replay(self):
        (terms, grads), (out_terms, out_grads) = self.compute(), self.outputs
        for key, value in terms.items():
            out_terms[key].copy_(value)
        for out, grad in zip(out_grads, grads):
            out.copy_(grad)
        self.replays += 1
        return self.outputs


@pytest.mark.parametrize(
    "regime, probes", [("hvp-random", "randomized"), ("hvp-onehot", "fixed"), ("ef", "randomized")]
)
def test_replayed_steps_read_each_batch_from_the_graph_inputs(tmp_path, teacher, regime, probes):
    """The graph path's data flow on the CPU: each batch (coordinates, labels, probes, weights of
    a short last batch) refilled into the captured input tensors, the step replayed, the gradients
    and losses read from the captured outputs: the epoch equals a plain epoch."""
    cfg = dict(regime=regime, probes=probes, **SHORT)
    plain = Trainer(TrainConfig(static_step="off", **cfg), teacher, tmp_path / "plain")
    want = plain.train_epoch()
    trainer = Trainer(TrainConfig(static_step="eager", **cfg), teacher, tmp_path / "graph")
    trainer.static_step.use_graph, trainer.static_step.capture_class = True, EagerReplay
    got = trainer.train_epoch()
    assert trainer.static_step.failure is None and trainer.static_step.graph.capture.replays == len(trainer.loader)
    for key in ("total", "energy", "forces", "hessian"):
        assert getattr(got, key) == pytest.approx(getattr(want, key), rel=1e-12)
    for a, b in zip(trainer.params, plain.params):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)


def test_a_failed_capture_falls_back_to_the_plain_step(tmp_path, teacher, caplog):
    """Where a CUDA graph cannot be captured (here: no CUDA at all), the run says so once and
    trains on with the plain step, on the same probes: the epoch equals a plain epoch."""
    import logging

    plain = Trainer(TrainConfig(regime="hvp-random", static_step="off", **SHORT), teacher, tmp_path / "plain")
    want = plain.train_epoch()
    trainer = Trainer(TrainConfig(regime="hvp-random", static_step="eager", **SHORT), teacher, tmp_path / "graph")
    trainer.static_step.use_graph = True  # as static_step graph on a device where capture fails
    with caplog.at_level(logging.WARNING, logger="phl.training.static_step"):
        got = trainer.train_epoch()
    assert trainer.static_step.failure and trainer.static_step.graph is None
    assert [r.getMessage() for r in caplog.records].count(
        f"CUDA graph capture of the training step failed ({trainer.static_step.failure}); using the plain step"
    ) == 1
    assert got.total == want.total and got.n == want.n
    for a, b in zip(trainer.params, plain.params):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_static_step_settings_are_checked(tmp_path, teacher):
    with pytest.raises(InputError, match="static_step must be one of"):
        Trainer(TrainConfig(static_step="always", **SHORT), teacher, tmp_path / "a")
    with pytest.raises(InputError, match="needs a CUDA device"):
        Trainer(TrainConfig(static_step="graph", device="cpu", **SHORT), teacher, tmp_path / "b")
    assert Trainer(TrainConfig(device="cpu", **SHORT), teacher, tmp_path / "c").static_step is None  # auto: off


def test_automatic_hessian_chunk_follows_the_batch_size(tmp_path, teacher):
    """hessian_chunk -1 (the default): vmap chunks for small (sub-)batches on CPU, one product at
    a time for large ones; an explicit value is used as given; below -1 is refused."""
    from phl.models.interface import HESSIAN_CHUNK, HESSIAN_CHUNK_MAX_ATOMS

    trainer = Trainer(TrainConfig(regime="efh", **SHORT), teacher, tmp_path / "auto")
    batch = next(iter(trainer.loader))
    assert batch.species.numel() <= HESSIAN_CHUNK_MAX_ATOMS and trainer.hessian_chunk(batch) == HESSIAN_CHUNK
    large = batch.pad(HESSIAN_CHUNK_MAX_ATOMS // batch.species.shape[1] + 1, batch.species.shape[1])
    assert trainer.hessian_chunk(large) == 0
    explicit = Trainer(TrainConfig(regime="efh", hessian_chunk=4, **SHORT), teacher, tmp_path / "explicit")
    assert explicit.hessian_chunk(large) == 4
    with pytest.raises(InputError, match="hessian_chunk must be >= -1"):
        TrainConfig(hessian_chunk=-2)


def test_automatic_size_groups_only_where_they_save_padded_hessian_work(tmp_path, teacher):
    """size_groups 0: E-F-H batches of mixed sizes go in 3 groups, batches of nearly one size in
    one (the groups would save less than GROUPS_MIN_SAVING); E-F in one; a set value is used."""
    from dataclasses import replace

    trainer = Trainer(TrainConfig(regime="efh", **SHORT), teacher, tmp_path / "efh")
    batch = next(iter(trainer.loader))
    n = batch.n_atoms.numpy()
    assert n.min() <= 4 and n.max() >= 8  # mixed sizes
    groups = trainer.batch_groups(batch)
    assert len(groups) == 3 and sorted(np.concatenate([g for g, _ in groups]).tolist()) == list(range(len(n)))
    assert all(m == n[g].max() for g, m in groups)
    similar = replace(batch, n_atoms=torch.as_tensor(np.where(n < n.max(), n.max() - 1, n.max())))
    assert len(trainer.batch_groups(similar)) == 1
    ef = Trainer(TrainConfig(regime="ef", **SHORT), teacher, tmp_path / "ef")
    assert len(ef.batch_groups(batch)) == 1
    forced = Trainer(TrainConfig(regime="efh", size_groups=2, **SHORT), teacher, tmp_path / "forced")
    assert len(forced.batch_groups(similar)) == 2


def test_padding_a_batch_keeps_its_molecules_and_adds_empty_ones(teacher):
    with Dataset(teacher) as ds:
        loader = BatchLoader(ds, ds.indices("paper", "train")[:5], 5, shuffle=False, hessian=True)
        batch = next(iter(loader))
    n = batch.species.shape[1]
    padded = batch.pad(8, n + 2)
    assert padded.species.shape == (8, n + 2) and padded.hessian.shape == (8, 3 * n + 6, 3 * n + 6)
    back = padded.select(torch.arange(5), n)
    for name in ("index", "species", "coordinates", "energy", "forces", "n_atoms", "mask", "hessian"):
        torch.testing.assert_close(getattr(back, name), getattr(batch, name), rtol=0, atol=0)
    assert (padded.species[5:] == -1).all() and (padded.n_atoms[5:] == 1).all() and (padded.index[5:] == -1).all()
    assert not padded.mask[:, n:].any() and (padded.coordinates[:, n:] == 0).all() and (padded.hessian[5:] == 0).all()
    with pytest.raises(ValueError, match="cannot pad"):
        batch.pad(4, n)


def test_size_groups_partition_a_batch_by_size():
    from phl.dataset.batching import size_groups

    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 5):
        n = rng.integers(3, 20, size=37)
        groups = size_groups(n, k)
        assert sorted(np.concatenate(groups).tolist()) == list(range(37)) and len(groups) <= k
        for a, b in zip(groups, groups[1:]):
            assert n[a].max() < n[b].min()  # one size never spans two groups
    assert [g.tolist() for g in size_groups(np.array([3, 4, 5, 6, 7, 8]), 3)] == [[0, 1], [2, 3], [4, 5]]
    assert len(size_groups(np.full(10, 7), 3)) == 1


def test_fixed_probes_identical_across_epochs_and_runs(teacher):
    cfg = TrainConfig(regime="hvp-random", probes="fixed", **SHORT)
    with Dataset(teacher) as ds:
        idx = ds.indices("paper", "train")
        probes = []
        for epoch, seed in ((0, 0), (1, 0), (0, 5)):  # epochs and loader seeds differ
            loader = BatchLoader(
                ds, idx, 16, seed=seed, hvp="fixed", probe_seed=cfg.probe_seed, probe_kind=cfg.probe_kind
            )
            loader.set_epoch(epoch)
            probes.append({int(i): p.clone() for b in loader for i, p in zip(b.index, b.probes)})
        for i in idx:
            torch.testing.assert_close(probes[0][i], probes[1][i], rtol=0, atol=0)
            torch.testing.assert_close(probes[0][i], probes[2][i], rtol=0, atol=0)


def test_resume_after_kill_equals_uninterrupted(tmp_path, teacher):
    cfg = TrainConfig(regime="hvp-random", probes="randomized", **{**SHORT, "max_epochs": 4})
    full = Trainer(cfg, teacher, tmp_path / "full")
    full.run()

    def kill(epoch, batch):
        if epoch == 3 and batch == 2:
            raise KeyboardInterrupt  # killed in the middle of epoch 3

    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, teacher, tmp_path / "killed").run(after_batch=kill)
    assert torch.load(tmp_path / "killed" / "last.pt", weights_only=False)["epoch"] == 2
    resumed = Trainer(cfg, teacher, tmp_path / "killed")
    resumed.run()
    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    a, b = pd.read_csv(tmp_path / "full" / "log.csv"), pd.read_csv(tmp_path / "killed" / "log.csv")
    pd.testing.assert_series_equal(a["train_loss"], b["train_loss"])
    with pytest.raises(InputError, match="other settings.*lr"):
        Trainer(
            TrainConfig(regime="hvp-random", **{**SHORT, "max_epochs": 4, "lr": 1e-4}), teacher, tmp_path / "full"
        ).run()


ExplodingANI = exploding(ANIModel)
ExplodingMACE = exploding(MACEModel)  # mace-torch is imported only when one is built


@pytest.mark.parametrize(
    "name, regime",
    [
        ("ExplodingANI", "ef"),
        pytest.param(
            "ExplodingMACE",
            "hvp-random",
            marks=pytest.mark.skipif(not importlib.util.find_spec("mace"), reason="needs the mace extra"),
        ),
    ],
)
def test_non_finite_loss_stops_with_epoch_and_batch(tmp_path, teacher, name, regime):
    """A NaN in a forward stops the run naming its epoch and batch; last.pt keeps the last good
    epoch, with finite weights."""
    model_class = globals()[name]
    model_class.armed = False

    def arm(epoch, batch):
        model_class.armed = model_class.armed or (epoch, batch) == (2, 1)

    settings = {**SHORT, "model": f"{__name__}:{name}"}
    if name == "ExplodingMACE":
        settings["lr"] = 1e-2
    trainer = Trainer(TrainConfig(regime=regime, **settings), teacher, tmp_path / "run")
    try:
        with pytest.raises(TrainingError, match=r"epoch 2, batch 2.*last.pt \(epoch 1\)"):
            trainer.run(after_batch=arm)
    finally:
        model_class.armed = False
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    weights = [v for v in state["model"].values() if v.is_floating_point()]
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in weights)


def test_bad_input_fails_before_training(tmp_path, teacher):
    with pytest.raises(InputError, match="unknown training option.*learning_rate"):
        TrainConfig.from_dict({"learning_rate": 1e-3})
    with pytest.raises(InputError, match="regime must be"):
        TrainConfig(regime="hvp")
    # a data set without Hessians cannot train E-F-H or randomized HVPs, but can train E-F
    no_h = tmp_path / "noh.h5"
    with DatasetWriter(no_h) as w:
        w.add_many(synthetic_structures(30, seed=1, median_atoms=5, max_atoms=7, hessian=False))
    from phl.dataset.splits import make_split

    make_split(no_h, "paper", "paper", seed=0)
    for regime in ("efh", "hvp-random"):
        with pytest.raises(InputError, match="needs a reference Hessian"):
            Trainer(TrainConfig(regime=regime, **SHORT), no_h, tmp_path / "x")
    with pytest.raises(InputError, match="stored needs reference"):
        Trainer(TrainConfig(regime="hvp-random", probes="stored", **SHORT), no_h, tmp_path / "x")
    # an element the model does not cover
    sulfur = tmp_path / "s.h5"
    structs = list(synthetic_structures(30, seed=2, median_atoms=5, max_atoms=7, hessian=False))
    for s in structs:
        s.species[0] = 16
    with DatasetWriter(sulfur) as w:
        w.add_many(structs)
    make_split(sulfur, "paper", "paper", seed=0)
    with pytest.raises(InputError, match=r"element\(s\) \[16\]"):
        Trainer(TrainConfig(regime="ef", **SHORT), sulfur, tmp_path / "x")
    with pytest.raises(InputError, match="no split 'nope'"):
        Trainer(TrainConfig(regime="ef", split="nope", **SHORT), teacher, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_device_selection():
    assert resolve_device("auto", lambda: True).type == "cuda"
    assert resolve_device("auto", lambda: False).type == "cpu"
    with pytest.raises(InputError, match="CUDA is not available"):
        resolve_device("cuda", lambda: False)


def test_train_cli(tmp_path, teacher, capsys):
    cfg = tmp_path / "train.yaml"
    cfg.write_text("regime: ef\nbatch_size: 32\nlr: 5.0e-4\n")
    assert (
        main(
            [
                "train",
                str(teacher),
                "--config",
                str(cfg),
                "--out",
                str(tmp_path / "run"),
                "--max-epochs",
                "2",
                "--regime",
                "hvp-onehot",
                "-q",
            ]
        )
        == 0
    )
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert saved["regime"] == "hvp-onehot" and saved["batch_size"] == 32 and saved["max_epochs"] == 2
    cfg.write_text("regim: ef\n")
    assert main(["train", str(teacher), "--config", str(cfg), "--out", str(tmp_path / "r2")]) == 2
    assert "unknown training option(s) regim" in capsys.readouterr().err


def test_trained_model_as_ase_calculator_drives_sella(tmp_path, teacher):
    from ase import Atoms
    from sella import Sella

    from phl.calculators import MLCalculator

    Trainer(TrainConfig(regime="ef", **{**SHORT, "max_epochs": 1}), teacher, tmp_path / "run").run()
    calc = MLCalculator.from_checkpoint(tmp_path / "run" / "best.pt")
    atoms = Atoms(
        "CH4",
        positions=[[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.7]],
    )
    atoms.calc = calc
    e = atoms.get_potential_energy()
    f = atoms.get_forces()
    h = calc.get_hessian(atoms)
    # forces are −dE/dR and the Hessian is −dF/dR (central differences, eV units)
    d = np.random.default_rng(0).normal(size=atoms.positions.shape)
    eps = 1e-5
    plus, minus = atoms.copy(), atoms.copy()
    plus.positions += eps * d
    minus.positions -= eps * d
    plus.calc = minus.calc = calc
    assert (plus.get_potential_energy() - minus.get_potential_energy()) / (2 * eps) == pytest.approx(
        -(f * d).sum(), rel=1e-6, abs=1e-8
    )
    np.testing.assert_allclose(
        -(plus.get_forces() - minus.get_forces()).ravel() / (2 * eps), h @ d.ravel(), rtol=1e-5, atol=1e-6
    )
    atoms.calc = calc
    opt = Sella(atoms, order=0, internal=True, hessian_function=calc.hessian_function, logfile=None)
    opt.run(fmax=0.05, steps=5)
    assert atoms.get_potential_energy() <= e + 1e-9


def test_allocator_tuning_applies_on_glibc():
    import platform

    from phl.training.allocator import keep_freed_memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert keep_freed_memory() is True


def test_paper_initialisation_and_scheduler(tmp_path, teacher):
    """The paper's code: kaiming_normal_(a=1.0) weights, zero biases, ReduceLROnPlateau(threshold=0)."""
    torch.manual_seed(0)
    model = ANIModel()
    layers = [m for m in model.networks.modules() if isinstance(m, torch.nn.Linear)]
    assert all(float(m.bias.detach().abs().max()) == 0.0 for m in layers)
    first = layers[0].weight.detach()  # fan_in 384: std 1/sqrt(384)
    assert float(first.std()) == pytest.approx(1 / np.sqrt(384), rel=0.05)
    assert float(ANIModel(init="torch").networks[0][0].bias.detach().abs().max()) > 0
    with pytest.raises(InputError, match="init"):
        ANIModel(init="xavier")
    trainer = Trainer(TrainConfig(regime="ef", **SHORT), teacher, tmp_path / "run")
    assert all(s.threshold == 0.0 and s.patience == SHORT.get("lr_patience", 100) for s in trainer.schedulers)


def test_probes_differ_between_structures_and_runs():
    from phl.probes import draw_probes, fixed_probes, structure_seed

    def label_probes(reaction, index):  # what `phl compute --index` draws for a 3-atom structure
        return draw_probes(np.random.default_rng(structure_seed(0, reaction, index)), 3, 2)

    assert not np.allclose(label_probes("hcn_hnc", 0), label_probes("hcn_hnc", 1))
    assert not np.allclose(label_probes("hcn_hnc", 0), label_probes("h2co_h2_co", 0))
    np.testing.assert_array_equal(label_probes("hcn_hnc", 3), label_probes("hcn_hnc", 3))
    # fixed training probes follow the run seed: independent sets for independent models
    assert not np.allclose(fixed_probes((0, 0), 5, 4), fixed_probes((0, 1), 5, 4))
    np.testing.assert_array_equal(fixed_probes((0, 1), 5, 4), fixed_probes((0, 1), 5, 4))


def test_stored_runs_train_on_pairs_of_their_own_kind(tmp_path, teacher):
    both = teacher_dataset(
        tmp_path / "both.h5", 40, seed=2, median_atoms=4, max_atoms=6, hvp_pairs=1, probe_kinds=("gaussian", "onehot")
    )
    used = {}
    for regime in ("hvp-onehot", "hvp-random"):
        trainer = Trainer(TrainConfig(regime=regime, probes="stored", **SHORT), both, tmp_path / regime)
        batch = next(iter(trainer.loader))
        assert batch.probes.shape[1] == 1  # K = 1 unless asked, as the paper's single HVP
        nonzero = (batch.probes != 0).sum(dim=(2, 3))
        used[regime] = batch.probes
        if regime == "hvp-onehot":
            assert torch.all(nonzero == 1)
        else:
            assert torch.all(nonzero == 3 * batch.n_atoms[:, None])
        trainer.run()
    assert not torch.allclose(used["hvp-onehot"], used["hvp-random"])
    # the module's teacher has Gaussian pairs only: a one-hot stored run is refused at start
    with pytest.raises(InputError, match="needs onehot pairs"):
        Trainer(TrainConfig(regime="hvp-onehot", probes="stored", **SHORT), teacher, tmp_path / "refused")


def test_element_counts_self_energies_and_energy_scale(teacher):
    """One pass over the atoms counts what the per-structure loop counts; the self energies are its
    least-squares fit and the energy scale the spread of the per-atom residual energies."""
    from phl.training.trainer import element_counts, energy_scale, fit_self_energies

    with Dataset(teacher) as ds:
        idx = ds.indices("paper", "train")[::-1]  # any order
        elements = (1, 6, 7, 8)
        counts = element_counts(ds, idx, elements)
        loop = np.array([[(ds.species[ds.atom_slice(int(i))] == e).sum() for e in elements] for i in idx])
        np.testing.assert_array_equal(counts, loop)
        se = fit_self_energies(ds, idx, counts)
        energies = ds.columns["energy"][idx]
        np.testing.assert_allclose(se, np.linalg.lstsq(loop, energies, rcond=None)[0], rtol=1e-12)
        residual = (energies - loop @ se) / loop.sum(axis=1)
        assert energy_scale(ds, idx, counts, se) == pytest.approx(np.std(residual), rel=1e-12)
        assert energy_scale(ds, idx[:1], counts[:1], se) == 0.0  # one structure: no spread
