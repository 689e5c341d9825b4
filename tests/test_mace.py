"""MACE (mace-torch) behind phl's model interface: the shipped consistency check, energies and
forces equal to mace-torch's own pipeline, every regime trains, checkpoints, the command line,
evaluation, the ASE calculator, the static-step fallback and bad configurations."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("mace", reason="MACE tests need the mace extra: pip install -e '.[mace]'")

from phl.cli import main  # noqa: E402
from phl.errors import InputError  # noqa: E402
from phl.models import ModelSpec, load_model  # noqa: E402
from phl.models.mace import MACEModel  # noqa: E402
from phl.testing import check_model, random_batch, teacher_dataset  # noqa: E402
from phl.training.config import TrainConfig  # noqa: E402
from phl.training.trainer import Trainer  # noqa: E402
from tests.test_models import ts_search_inputs  # noqa: E402

SHORT = dict(model="mace", max_epochs=3, batch_size=16, lr=1e-2, validate_hessian_structures=4)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return teacher_dataset(tmp_path_factory.mktemp("mace") / "teacher.h5", 48, median_atoms=6, max_atoms=8)


def fitted_model(**kwargs) -> MACEModel:
    torch.manual_seed(0)
    model = MACEModel(**kwargs)
    model.set_self_energies(torch.tensor([-0.5, -37.8, -54.6, -75.0]))
    model.set_energy_scale(0.01)
    return model


@pytest.mark.parametrize("preset", ["small", "medium"])
def test_mace_passes_the_shipped_consistency_check(preset):
    """Forces = −∇E (central differences), HVP = H v, Hessian symmetric, energies invariant to
    rotation, translation and padding, a batch equal to its molecules one by one."""
    check_model(fitted_model(preset=preset, num_interactions=1 if preset == "medium" else 2))


def test_mace_energies_and_forces_equal_mace_torch_on_its_own_pipeline():
    """phl's padded batch → MACE graph gives the energies and forces of mace-torch's own data
    pipeline (AtomicData.from_config with its neighbour list, its collate) to 1e-10 in float64."""
    from ase import Atoms
    from mace import data as mace_data
    from mace import tools
    from mace.tools import torch_geometric

    from phl.models import energy_forces

    model = fitted_model()
    species, coords, n_atoms = random_batch(5, seed=3, max_atoms=9)
    energy = model(species, coords)
    _, forces, _ = energy_forces(model, species, coords, create_graph=False)

    table = tools.AtomicNumberTable(list(model.elements))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        graphs = []
        for b in range(len(n_atoms)):
            k = int(n_atoms[b])
            atoms = Atoms(numbers=species[b, :k].numpy(), positions=coords[b, :k].numpy())
            config = mace_data.config_from_atoms(atoms)
            graphs.append(mace_data.AtomicData.from_config(config, z_table=table, cutoff=model.r_max))
    finally:
        torch.set_default_dtype(previous)
    batch = next(iter(torch_geometric.dataloader.DataLoader(graphs, batch_size=len(graphs), shuffle=False)))
    out = model.mace(batch.to_dict(), training=False, compute_force=True)
    np.testing.assert_allclose(energy.detach().numpy(), out["energy"].detach().numpy(), rtol=0, atol=1e-10)
    mine = torch.cat([forces[b, : int(n_atoms[b])] for b in range(len(n_atoms))])
    np.testing.assert_allclose(mine.numpy(), out["forces"].detach().numpy(), rtol=0, atol=1e-10)
    assert model.graph(species, coords)["edge_index"].shape[1] == batch["edge_index"].shape[1]


@pytest.mark.parametrize(
    "regime, probes",
    [("ef", "randomized"), ("hvp-onehot", "randomized"), ("hvp-random", "fixed"), ("efh", "randomized")],
)
def test_mace_trains_in_every_regime(tmp_path, teacher, regime, probes):
    summary = Trainer(TrainConfig(regime=regime, probes=probes, **SHORT), teacher, tmp_path / "run").run()
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert summary["epochs"] == 3 and np.isfinite(log["train_loss"]).all()
    assert log["train_loss"].iloc[-1] < log["train_loss"].iloc[0]
    assert (log["train_hessian_loss"] > 0).all() == (regime != "ef")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["config"]["model"] == "phl.models.mace:MACEModel"
    assert config["provenance"]["versions"]["mace-torch"]  # the model's packages are recorded


def test_mace_checkpoint_cli_evaluation_calculator_and_ts_search(tmp_path, teacher):
    """`phl train --model mace` with arguments, the checkpoint rebuilt from its spec with the
    fitted constants, `phl evaluate`, the ASE calculator and `phl ts-search` on it."""
    from ase import Atoms

    from phl.calculators import MLCalculator

    run = tmp_path / "run"
    kwargs = '{"preset": "small", "r_max": 4.5, "num_interactions": 1}'
    args = ["train", str(teacher), "--out", str(run), "--model", "mace", "--model-kwargs", kwargs]
    assert main([*args, "--regime", "hvp-random", "--max-epochs", "2", "--batch-size", "16", "-q"]) == 0
    model = load_model(run / "best.pt")
    assert isinstance(model, MACEModel) and model.r_max == 4.5
    assert float(model.mace.atomic_energies_fn.atomic_energies.abs().sum()) > 1  # fitted E0
    assert float(model.mace.scale_shift.scale) != 1.0  # fitted scale
    species, coords, _ = random_batch(3, seed=1)
    trained = torch.load(run / "best.pt", weights_only=False)
    again = ModelSpec.from_dict(trained["model_spec"]).build(dtype=torch.float64)
    again.load_state_dict(trained["model"])
    torch.testing.assert_close(model(species, coords), again(species, coords), rtol=0, atol=1e-12)

    assert main(["evaluate", str(run), str(teacher), "--out", str(tmp_path / "eval.csv")]) == 0
    rows = pd.read_csv(tmp_path / "eval.csv")
    assert len(rows) > 0 and np.isfinite(rows["energy_err"]).all() and np.isfinite(rows["hessian_sse"]).all()

    calc = MLCalculator.from_checkpoint(run / "best.pt")
    atoms = Atoms("OH2", positions=[[0, 0, 0.12], [0, 0.76, -0.48], [0, -0.76, -0.48]], calculator=calc)
    hessian = calc.get_hessian(atoms)
    assert np.isfinite(atoms.get_potential_energy()) and hessian.shape == (9, 9)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-10)

    reactions, geometries = ts_search_inputs(tmp_path)
    out = tmp_path / "ts.csv"
    args = ["ts-search", str(run), "--reactions", str(reactions), "--geometries", str(geometries), "--out", str(out)]
    assert main(args) == 0
    assert list(pd.read_csv(out)["reaction"]) == ["hcn_hnc"]


@pytest.mark.parametrize("mode", ["eager", "auto"])
def test_mace_takes_the_plain_step_where_static_shapes_were_asked(tmp_path, teacher, caplog, mode):
    """MACE's neighbour list depends on the coordinates: the static step falls back to the plain
    step, with a stated reason where it was asked for; on CUDA, where `auto` would capture a graph
    for ANI, it does not for MACE."""
    from phl.training.static_step import resolve_mode

    with caplog.at_level(logging.WARNING, logger="phl.training.static_step"):
        trainer = Trainer(TrainConfig(regime="ef", static_step=mode, **SHORT), teacher, tmp_path / "run")
    assert trainer.static_step is None
    assert ("cannot compute at static shapes" in caplog.text) == (mode == "eager")
    cuda = torch.device("cuda")  # a device object only: nothing runs on it
    assert resolve_mode(mode, "hvp-random", cuda, model_static=True) == {"auto": "graph", "eager": "eager"}[mode]
    assert resolve_mode(mode, "hvp-random", cuda, model_static=False) == "off"


def test_bad_mace_configurations_are_refused_before_training(tmp_path, teacher, monkeypatch):
    for kwargs, message in [
        ({"r_max": 0.0}, "r_max must be a positive"),
        ({"r_max": float("nan")}, "r_max must be a positive"),
        ({"hidden_irreps": "16x0q"}, "does not parse as e3nn irreps"),
        ({"hidden_irreps": "16x1o"}, "needs scalar channels"),
        ({"correlation": 0}, "correlation must be an integer"),
        ({"preset": "huge"}, "preset must be one of"),
        ({"preset": None, "hidden_irreps": "8x0e"}, "without a preset needs max_ell, correlation, radial_MLP"),
        ({"gate": "relu6"}, "gate must be one of"),
        ({"elements": [1, 6, 6]}, "distinct atomic numbers"),
    ]:
        with pytest.raises(InputError, match=message):
            ModelSpec("mace", kwargs).build()
    # an element of the data that the model does not cover: refused before the first epoch
    with pytest.raises(InputError, match=r"element\(s\) \[7, 8\] that the model does not cover"):
        Trainer(TrainConfig(model_kwargs={"elements": [1, 6]}, **SHORT), teacher, tmp_path / "run")
    assert not (tmp_path / "run" / "log.csv").exists()
    # mace-torch missing: one line naming the fix
    import builtins

    real_import = builtins.__import__

    def no_mace(name, *args, **kwargs):
        if name == "mace" or name.startswith("mace."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mace)
    with pytest.raises(InputError, match=r"needs mace-torch: pip install -e '\.\[mace\]'"):
        MACEModel()


def test_model_aliases_resolve_and_are_stored_as_class_paths():
    assert ModelSpec("mace").class_path == "phl.models.mace:MACEModel"
    assert ModelSpec("ANI").class_path == "phl.models.ani:ANIModel"
    assert TrainConfig(model="mace").model_spec.to_dict()["class"] == "phl.models.mace:MACEModel"
    with pytest.raises(InputError, match="ani, mace, pair or an import path"):
        TrainConfig(model="macee")
