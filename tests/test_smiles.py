"""Reactions from atom-mapped SMILES (phl.geometries.smiles, phl reaction import smiles) and the
shipped science list built from templates (phl.geometries.templates)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phl.cli import main
from phl.geometries.pathways import bond_graph, same_molecule
from phl.geometries.reactions import load_reactions, reaction_ids
from phl.geometries.smiles import kabsch, reaction_geometries
from phl.geometries.templates import build_list, mapped_reactions

pytest.importorskip("rdkit")

ROOT = Path(__file__).resolve().parents[1]
SCIENCE = ROOT / "resources" / "reactions"

KETO_ENOL = "[C:1]([C:2](=[O:3])[H:7])([H:4])([H:5])[H:6]>>[C:1](=[C:2]([O:3][H:4])[H:7])([H:5])[H:6]"
# H2CO -> H2 + CO: a side of two molecules placed on the other side
H2_ELIMINATION = "[C:1](=[O:2])([H:3])[H:4]>>[C-:1]#[O+:2].[H:3][H:4]"


def test_kabsch_recovers_a_rigid_motion():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))  # a proper rotation
    moved, rmsd = kabsch(x @ q.T + [1.0, -2.0, 3.0], x)
    assert rmsd < 1e-10
    np.testing.assert_allclose(moved, x, atol=1e-10)


def test_mapped_smiles_give_one_atom_order_and_the_mapped_bonds():
    reactant, product = reaction_geometries(KETO_ENOL)
    assert reactant.get_chemical_symbols() == product.get_chemical_symbols() == ["C", "C", "O", "H", "H", "H", "H"]
    # atom map n is atom n-1 on both sides: H4 (index 3) moves from C1 to O3
    assert (0, 3) in bond_graph(reactant) and (2, 3) not in bond_graph(reactant)
    assert (2, 3) in bond_graph(product) and (0, 3) not in bond_graph(product)
    # product aligned onto reactant: heavy atoms close (no rotation through the molecule)
    _, rmsd = kabsch(product.positions, reactant.positions)
    assert np.sqrt(np.mean(np.sum((product.positions - reactant.positions) ** 2, axis=1))) == pytest.approx(
        rmsd, abs=1e-6
    )


def test_a_side_of_two_molecules_is_placed_apart():
    reactant, product = reaction_geometries(H2_ELIMINATION)
    assert not same_molecule(reactant, product)
    d = np.linalg.norm(product.positions[:2, None] - product.positions[None, 2:], axis=-1)
    assert d.min() >= 2.0 - 1e-6  # CO and H2 no closer than the contact distance
    assert (2, 3) in bond_graph(product)


def test_import_names_and_skips_bad_rows(tmp_path):
    rows = [
        ("good", KETO_ENOL, ""),
        ("two-molecules", H2_ELIMINATION, ""),
        ("unparsable", "[C:1](([H:2]>>[C:1]", ""),
        ("unmapped", "CC=O>>C=CO", ""),
        ("duplicate-map", "[C:1]([H:1])([H:2])([H:3])[H:4]>>[C:1]([H:1])([H:2])([H:3])[H:4]", ""),
        ("unbalanced", "[C:1]([H:2])([H:3])([H:4])[H:5]>>[C:1]([H:2])([H:3])[H:4]", ""),
        ("no-reaction", "[H:1][H:2]>>[H:1][H:2]", ""),
        ("not-a-reaction", "[C:1]([H:2])([H:3])([H:4])[H:5]", ""),
    ]
    csv = tmp_path / "list.csv"
    pd.DataFrame(rows, columns=["id", "smiles", "class"]).to_csv(csv, index=False)
    out = tmp_path / "list.h5"
    assert main(["reaction", "import", "smiles", str(csv), "--out", str(out), "-q"]) == 0
    assert reaction_ids(out) == ["good", "two-molecules"]
    skipped = pd.read_csv(tmp_path / "list.skipped.csv").set_index("source_id")["reason"]
    assert set(skipped.index) == {r[0] for r in rows[2:]}
    assert "cannot be parsed" in skipped["unparsable"]
    assert "without an atom map" in skipped["unmapped"]
    assert "twice" in skipped["duplicate-map"]
    assert "unbalanced" in skipped["unbalanced"]
    assert "same bonds" in skipped["no-reaction"]
    assert "R>>P" in skipped["not-a-reaction"]


def test_import_refuses_a_file_that_is_not_a_smiles_list(tmp_path, capsys):
    csv = tmp_path / "other.csv"
    csv.write_text("name,reaction\na,b\n")
    assert main(["reaction", "import", "smiles", str(csv), "--out", str(tmp_path / "x.h5")]) != 0
    assert "no column(s) id, smiles" in capsys.readouterr().err


def test_templates_map_every_atom():
    (smiles,) = mapped_reactions("[C;!$(C=*):1]([#1:4])[C:2]=[O:3]>>[C:1]=[C:2][O:3][#1:4]", ["CC=O"])
    reactant, product = reaction_geometries(smiles)
    assert len(reactant) == 7 and not same_molecule(reactant, product)
    assert mapped_reactions("[N:1]#[N:2]>>[N:1]=[N:2]", ["CC=O"]) == []  # template does not apply


def test_shipped_science_list_matches_its_templates_and_geometries():
    table = pd.read_csv(SCIENCE / "science.csv", dtype=str, keep_default_na=False)
    assert table.to_dict("records") == build_list(SCIENCE / "science.yaml")  # the CSV is its templates' output
    assert len(table) >= 120 and table["class"].nunique() >= 15
    assert reaction_ids(SCIENCE / "science.h5") == list(table["id"])  # every row imported, in order
    for reaction in load_reactions(SCIENCE / "science.h5"):
        symbols = reaction.reactant.get_chemical_symbols()
        assert set(symbols) <= {"C", "H", "N", "O"}
        assert sum(s != "H" for s in symbols) <= 8
        assert not same_molecule(reaction.reactant, reaction.product)
