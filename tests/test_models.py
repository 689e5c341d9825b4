"""The model interface: the shipped consistency check on ANI and on the pair model, a broken
model caught, checkpoints that rebuild any class, and a custom model through training,
evaluation, the ASE calculator and the TS search."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from phl.cli import main
from phl.errors import InputError
from phl.models import ModelSpec, load_model, model_record, save_checkpoint
from phl.models.ani import ANIModel
from phl.models.interface import element_indices, element_lookup
from phl.models.pair import PairModel
from phl.testing import check_model, teacher_dataset


class CustomModel(nn.Module):
    """A user's model, not phl's: E = Σ self energies + Σ_{i<j} w_{ZiZj} exp(−r_ij) with one
    weight per ordered element pair (symmetrised), plus a learnable global scale."""

    def __init__(self, elements=(1, 6, 7, 8), width: float = 1.0):
        super().__init__()
        self.elements = tuple(elements)
        self.width = width
        n = len(self.elements)
        self.register_buffer("lookup", element_lookup(self.elements))
        self.w = nn.Parameter(0.01 * torch.ones(n, n, dtype=torch.float64))
        self.scale = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("self_energies", torch.zeros(n, dtype=torch.float64))

    def set_self_energies(self, energies):
        self.self_energies.copy_(energies)

    def forward(self, species, coordinates):
        idx = element_indices(self.lookup, species, self.elements)
        real = idx >= 0
        ci = idx.clamp(min=0)
        n = idx.shape[1]
        mask = real[:, :, None] & real[:, None, :] & ~torch.eye(n, dtype=torch.bool)
        r = torch.sqrt(((coordinates[:, :, None] - coordinates[:, None]) ** 2).sum(-1) + (~mask).double())
        w = 0.5 * (self.w + self.w.T)[ci[:, :, None], ci[:, None, :]]
        pair = (self.scale * w * torch.exp(-r / self.width) * mask).sum(dim=(1, 2)) / 2
        return pair + (self.self_energies[ci] * real).sum(-1)


@pytest.mark.parametrize(
    "make",
    [lambda: ANIModel(self_energies=[-0.5, -38.0, -54.6, -75.0]), lambda: PairModel(seed=0), lambda: CustomModel()],
    ids=["ani", "pair", "custom"],
)
def test_models_pass_the_shipped_consistency_check(make):
    torch.manual_seed(0)
    check_model(make())


class NotTranslationInvariant(CustomModel):
    def forward(self, species, coordinates):
        return super().forward(species, coordinates) + 1e-3 * (coordinates[..., 0] * (species >= 0)).sum(-1)


class LeaksPadding(CustomModel):
    def forward(self, species, coordinates):
        return super().forward(species, coordinates) + 1e-3 * coordinates.sum(dim=(1, 2))


@pytest.mark.parametrize("cls, message", [(NotTranslationInvariant, "translation"), (LeaksPadding, "padded atoms")])
def test_consistency_check_catches_a_broken_model(cls, message):
    with pytest.raises(AssertionError, match=message):
        check_model(cls())


def test_ani_at_static_shapes_equals_the_neighbour_list_ani():
    """The all-pairs AEV and stacked networks (phl.models.ani_static) give TorchANI's AEV and the
    same energies, forces, Hessians and parameter gradients of an HVP loss, with padded atoms, a
    missing element and atoms outside both cut-offs."""
    from phl.models.ani_static import dense_aev
    from phl.models.derivatives import energy_forces, hessian, hvp, static_shapes

    torch.manual_seed(0)
    model = ANIModel(self_energies=[-0.5, -38.0, -54.6, -75.0])
    species = torch.tensor([[6, 1, 1, 8, 1, 1], [7, 1, 1, 1, -1, -1], [6, 6, 1, 1, 1, 1], [8, 1, 1, -1, -1, -1]])
    coords = 1.1 * torch.randn(4, 6, 3, dtype=torch.float64)
    coords[2, 1] += torch.tensor([4.0, 0.0, 0.0])  # C–C 4 Å: outside the angular, inside the radial cut-off
    coords[3, 2] += torch.tensor([0.0, 7.0, 0.0])  # an H outside both
    coords[1, 4:] = torch.randn(2, 3, dtype=torch.float64)  # padding holds anything
    probes = torch.randn(4, 2, 6, 3, dtype=torch.float64) * (species >= 0)[:, None, :, None]
    idx = model.element_indices(species)
    torch.testing.assert_close(dense_aev(model.aev, idx, coords), model.aev(idx, coords), rtol=1e-12, atol=1e-14)

    def derivatives():
        energy, forces, leaf = energy_forces(model, species, coords)
        hv = hvp(forces, leaf, probes)
        h = hessian(forces, leaf, create_graph=False)
        grads = torch.autograd.grad((hv**2).sum() + energy.sum(), list(model.parameters()), allow_unused=True)
        return energy, forces, hv, h, grads

    want = derivatives()
    with static_shapes():
        got = derivatives()
    for a, b in zip(got[:4], want[:4]):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)
    for a, b in zip(got[4], want[4]):
        torch.testing.assert_close(a, torch.zeros_like(a) if b is None else b, rtol=1e-10, atol=1e-13)
    assert sum(b is None for b in want[4]) == 0  # every element present: every network in the graph


def test_checkpoint_rebuilds_any_model_class(tmp_path):
    model = PairModel(n_basis=3, seed=4)
    model.set_self_energies(torch.tensor([-0.5, -38.0, -54.6, -75.0]))
    save_checkpoint(model_record(model, ModelSpec.of(PairModel, n_basis=3)), tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert type(loaded) is PairModel and loaded.coefficients.shape == (10, 3)
    sp, xyz = (
        torch.tensor([[8, 1, 1]]),
        torch.tensor([[[0, 0, 0.1], [0, 0.8, -0.5], [0, -0.8, -0.5]]], dtype=torch.float64),
    )
    torch.testing.assert_close(loaded(sp, xyz), model(sp, xyz))


def test_bad_model_specs_are_refused():
    with pytest.raises(InputError, match="import path"):
        ModelSpec("not a path")
    with pytest.raises(InputError, match="cannot import"):
        ModelSpec("phl.models.nothing:Model").build()
    with pytest.raises(InputError, match="not a torch.nn.Module"):
        ModelSpec("phl.errors:InputError").build()
    with pytest.raises(InputError, match="rejects its arguments"):
        ModelSpec("phl.models.pair:PairModel", {"widths": 3}).build()
    with pytest.raises(InputError, match="JSON"):
        ModelSpec("phl.models.pair:PairModel", {"n": object()})


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "best.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable phl checkpoint"):
        load_model(bad)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return teacher_dataset(tmp_path_factory.mktemp("teacher") / "teacher.h5", 48, seed=3, median_atoms=4, max_atoms=5)


def ts_search_inputs(tmp_path):
    """A reaction list with the built-in HCN ⇌ HNC and geometry-stage records of it (its given
    geometries as reactant, product and TS): what `phl ts-search` reads. Returns (list, folder)."""
    from phl.geometries.reactions import BUILTIN, load_reaction

    reaction = load_reaction(BUILTIN, "hcn_hnc")
    folder = tmp_path / "geometries" / "hcn_hnc"
    folder.mkdir(parents=True)
    for step, atoms, energy in (
        ("reactant", reaction.reactant, -93.4),
        ("product", reaction.product, -93.3),
        ("ts", reaction.ts_guess, -93.2),
    ):
        (folder / f"{step}.json").write_text(
            json.dumps(
                {
                    "reaction": "hcn_hnc",
                    "step": step,
                    "status": "ok",
                    "reason": "",
                    "energy": energy,
                    "symbols": atoms.get_chemical_symbols(),
                    "positions": atoms.positions.tolist(),
                }
            )
        )
    (folder / "structures.json").write_text(json.dumps({"reaction": "hcn_hnc", "status": "ok", "structures": []}))
    reactions = tmp_path / "reactions.yaml"
    text = BUILTIN.read_text()
    reactions.write_text(text[: text.index("  - id: h2co_h2_co")])
    return reactions, tmp_path / "geometries"


def test_custom_model_trains_evaluates_and_drives_ts_search(tmp_path, teacher, capsys):
    """A model class phl does not know: trained by `phl train --model`, evaluated by `phl evaluate`,
    loaded by MLCalculator.from_checkpoint and used by `phl ts-search`."""
    from ase import Atoms

    from phl.calculators import MLCalculator

    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                str(teacher),
                "--out",
                str(run),
                "--regime",
                "hvp-random",
                "--max-epochs",
                "3",
                "--batch-size",
                "16",
                "--model",
                f"{__name__}:CustomModel",
                "--model-kwargs",
                '{"width": 0.8}',
                "-q",
            ]
        )
        == 0
    )
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["model"] == f"{__name__}:CustomModel" and config["model_kwargs"] == {"width": 0.8}
    model = load_model(run / "best.pt")
    assert type(model) is CustomModel and model.width == 0.8
    assert float(model.self_energies.abs().sum()) > 0  # fitted by the trainer through set_self_energies

    assert main(["evaluate", str(run), str(teacher), "--out", str(tmp_path / "eval.csv")]) == 0
    rows = pd.read_csv(tmp_path / "eval.csv")
    assert len(rows) > 0 and np.isfinite(rows["energy_err"]).all()

    calc = MLCalculator.from_checkpoint(run / "best.pt")
    assert isinstance(calc.model, CustomModel)
    atoms = Atoms("OH2", positions=[[0, 0, 0.12], [0, 0.76, -0.48], [0, -0.76, -0.48]], calculator=calc)
    assert np.isfinite(atoms.get_potential_energy()) and calc.get_hessian(atoms).shape == (9, 9)

    reactions, geometries = ts_search_inputs(tmp_path)
    out = tmp_path / "ts.csv"
    assert (
        main(
            [
                "ts-search",
                str(run),
                "--reactions",
                str(reactions),
                "--geometries",
                str(geometries),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    table = pd.read_csv(out)
    assert list(table["reaction"]) == ["hcn_hnc"] and {"success", "rmsd", "barrier_error"} <= set(table.columns)


def test_evaluation_does_not_depend_on_how_structures_are_batched(teacher):
    """`phl evaluate` sorts structures by size and batches model Hessians in small groups: every
    row (errors of energy, forces, Hessian, frequencies, TS checks) is the same with one structure a
    batch, the default batches and one batch of everything (to rounding: frequencies of soft modes,
    square roots of near-zero eigenvalues, carry it to ~1e-8 relative)."""
    from phl.results.evaluate import evaluate_model

    torch.manual_seed(0)
    model = ANIModel(self_energies=[-0.5, -38.0, -54.6, -75.0]).double()
    parts = ("train", "val", "test", "heldout")
    one = evaluate_model(model, teacher, parts=parts, batch_size=1, hessian_batch_size=1)
    assert len(one) > 20 and (one["hessian_n"] > 0).sum() > 10 and one["n_atoms"].nunique() > 1
    for sizes in ({}, {"batch_size": 1000, "hessian_batch_size": 1000}):
        rows = evaluate_model(model, teacher, parts=parts, **sizes)
        assert rows["index"].tolist() == one["index"].tolist()
        numeric = one.select_dtypes("number").columns
        np.testing.assert_allclose(rows[numeric].to_numpy(float), one[numeric].to_numpy(float), rtol=1e-7, atol=1e-9)
    with pytest.raises(InputError, match="at least 1"):
        evaluate_model(model, teacher, hessian_batch_size=0)
