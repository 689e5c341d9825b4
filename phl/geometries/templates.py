"""Atom-mapped reaction SMILES from reaction templates (RDKit), for writing reaction lists.

A template is reaction SMARTS whose every atom that changes bonds is mapped, hydrogens that move
included (``[C:1]([#1:4])[C:2]=[O:3]>>[C:1]=[C:2][O:3][#1:4]``: keto → enol). Applied to
substrates with all hydrogens explicit, it yields products in which every atom still knows its
reactant atom; :func:`mapped_reactions` then numbers every atom of the substrate (H included)
and writes ``R>>P`` with those maps on both sides, the input ``phl reaction import smiles``
takes. ``resources/reactions/science.yaml`` lists the templates and substrates of the shipped
science set; ``python -m phl.geometries.templates`` rebuilds its CSV.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from phl.errors import InputError


def _explicit(smiles: str):
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise InputError(f"substrate {smiles!r} cannot be parsed")
    mol = Chem.AddHs(mol)
    for atom in mol.GetAtoms():
        atom.SetNoImplicit(True)  # a product keeps exactly the hydrogens it inherits
    return mol


def mapped_reactions(template: str, substrates: list[str], limit: int = 2) -> list[str]:
    """Fully mapped ``R>>P`` of ``template`` applied to ``substrates`` (one SMILES per reactant
    template, in order); at most ``limit`` distinct products (by canonical SMILES)."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import rdChemReactions

    RDLogger.DisableLog("rdApp.*")
    rxn = rdChemReactions.ReactionFromSmarts(template)
    if rxn is None or rxn.GetNumReactantTemplates() != len(substrates):
        raise InputError(
            f"template {template!r} takes {rxn.GetNumReactantTemplates()} reactants, got {len(substrates)}"
        )
    mols = [_explicit(s) for s in substrates]
    combined = mols[0]
    for m in mols[1:]:
        combined = Chem.CombineMols(combined, m)
    offsets = [0]
    for m in mols[:-1]:
        offsets.append(offsets[-1] + m.GetNumAtoms())
    reactant = Chem.Mol(combined)
    for atom in reactant.GetAtoms():
        atom.SetAtomMapNum(atom.GetIdx() + 1)
    # a degenerate rearrangement (product = reactant up to equivalent atoms, e.g. propene's 1,3-H
    # shift) is never kept: its IRC end points cannot show that the TS belongs to the reaction
    seen = {Chem.MolToSmiles(Chem.RemoveHs(_unmapped(reactant)), isomericSmiles=False)}
    out = []
    for products in rxn.RunReactants(tuple(mols)):
        pieces = []
        try:
            for prod in products:
                prod = Chem.RWMol(prod)
                for atom in prod.GetAtoms():
                    src, ridx = int(atom.GetProp("react_atom_idx")), int(atom.GetProp("react_idx"))
                    atom.SetAtomMapNum(offsets[ridx] + src + 1)
                    atom.SetNoImplicit(True)
                Chem.SanitizeMol(prod)
                pieces.append(prod)
        except (ValueError, RuntimeError, KeyError):
            continue  # a match that gives no valid molecule (valence)
        product = pieces[0]
        for p in pieces[1:]:
            product = Chem.CombineMols(product, p)
        key = Chem.MolToSmiles(Chem.RemoveHs(_unmapped(product)), isomericSmiles=False)
        if key in seen:
            continue
        seen.add(key)
        out.append(f"{Chem.MolToSmiles(reactant)}>>{Chem.MolToSmiles(product)}")
        if len(out) >= limit:
            break
    return out


def _unmapped(mol):
    from rdkit import Chem

    mol = Chem.Mol(mol)
    for atom in mol.GetAtoms():
        atom.SetAtomMapNum(0)
    return mol


def build_list(spec_path: str | Path) -> list[dict[str, str]]:
    """Rows (id, smiles, class) of the reaction list a template file describes."""
    import yaml

    spec = yaml.safe_load(Path(spec_path).read_text())
    rows, empty = [], []
    for cls, entry in spec["classes"].items():
        for k, substrates in enumerate(entry["substrates"]):
            subs = substrates if isinstance(substrates, list) else [substrates]
            found = mapped_reactions(entry["template"], subs, limit=int(entry.get("products", 1)))
            if not found:
                empty.append(f"{cls}: {'.'.join(subs)}")
            for j, smiles in enumerate(found):
                rid = f"{cls}-{k:02d}{'abc'[j] if len(found) > 1 else ''}"
                rows.append({"id": rid, "smiles": smiles, "class": entry.get("name", cls)})
    if empty:
        raise InputError(f"{len(empty)} substrate(s) the template of their class does not apply to: {'; '.join(empty)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    p = argparse.ArgumentParser(description="Write a mapped-SMILES reaction list from a template file")
    p.add_argument("spec", help="YAML: classes: {name: {template: SMARTS, substrates: [...], products: n}}")
    p.add_argument("--out", required=True, help="CSV (id, smiles, class)")
    args = p.parse_args(argv)
    rows = build_list(args.spec)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    print(f"{len(rows)} reactions -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
