"""Reactions from atom-mapped reaction SMILES (``phl reaction import smiles FILE.csv``).

A row gives ``R>>P`` with an atom map on every atom, hydrogens included (the format Grambow 2020
and RGD1 publish beside their geometries: ``[C:1]([H:4])([H:5])...>>...``). The map gives one
atom order for reactant and product: atoms are sorted by map number on both sides.

Geometries (RDKit): each side is embedded with ETKDG (``n_conformers`` seeded conformers,
MMFF94-relaxed where MMFF has parameters, UFF otherwise). A side of one molecule facing a side of
one molecule: the conformer pair with the smallest Kabsch RMSD over all (mapped) atoms is kept and
the product is rotated onto the reactant. A side of several molecules (A + B) is placed from the
other side: each molecule is a conformer Kabsch-aligned on its own atoms in the other side's
geometry, then pushed apart along the line between centres until no two atoms of different
molecules are closer than ``contact`` Å. So reactant and product share orientation and atom
order, and IDPP interpolates between them without rotating the molecule through itself.

Rows that cannot give a reaction are skipped with the reason, as the other importers do: an
unparsable SMILES, an atom without a map, a map used twice, maps or elements that differ between
the sides (unbalanced), an isotope label (phl uses natural-abundance masses), a charge that differs
between the sides or from the ``charge`` column, a ``multiplicity`` the radicals of the SMILES do
not allow (:func:`charge_and_multiplicity`), a change of stereochemistry only, an id that cannot
name a folder, a side RDKit cannot embed. The geometries are minimised again at the
reference level by the geometry stage; here they only have to be sane.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ase import Atoms

from phl.errors import InputError

#: columns of a SMILES reaction list (``class`` is optional and kept only in the CSV)
REQUIRED_COLUMNS = ("id", "smiles")
OPTIONAL_COLUMNS = ("charge", "multiplicity", "class")


def kabsch(mobile: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """``mobile`` (n, 3) rotated and translated onto ``target`` (proper rotation), and the RMSD."""
    mc, tc = mobile.mean(axis=0), target.mean(axis=0)
    a, b = mobile - mc, target - tc
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    moved = a @ rot + tc
    return moved, float(np.sqrt(np.mean(np.sum((moved - target) ** 2, axis=1))))


def _side(text: str, what: str):
    from rdkit import Chem

    params = Chem.SmilesParserParams()
    params.removeHs = False
    mol = Chem.MolFromSmiles(text, params)
    if mol is None:
        raise ValueError(f"{what} SMILES {text!r} cannot be parsed")
    mol = Chem.AddHs(mol)
    maps = [a.GetAtomMapNum() for a in mol.GetAtoms()]
    unmapped = sum(1 for m in maps if m == 0)
    if unmapped:
        raise ValueError(f"{what}: {unmapped} atom(s) without an atom map (every atom, H included, needs one)")
    if len(set(maps)) != len(maps):
        dup = next(m for m in maps if maps.count(m) > 1)
        raise ValueError(f"{what}: atom map {dup} used twice")
    order = sorted(range(len(maps)), key=maps.__getitem__)
    mol = Chem.RenumberAtoms(mol, order)
    return mol, sorted(maps)


def _conformers(mol, n: int, seed: int) -> list[np.ndarray]:
    """Embedded, force-field relaxed conformers (Å) of ``mol``."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import AllChem

    RDLogger.DisableLog("rdApp.*")  # RDKit's warnings (e.g. UFF fallbacks) would flood the log

    mol = Chem.Mol(mol)
    for atom in mol.GetAtoms():
        atom.SetAtomMapNum(0)  # maps are kept in atom order; ETKDG and MMFF need none
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=n, params=params))
    if not ids:
        params.useRandomCoords = True
        ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=n, params=params))
    if not ids:
        raise ValueError(f"RDKit cannot embed {Chem.MolToSmiles(Chem.RemoveHs(mol))}")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMoleculeConfs(mol, maxIters=2000)
    elif AllChem.UFFHasAllMoleculeParams(mol):
        AllChem.UFFOptimizeMoleculeConfs(mol, maxIters=2000)
    return [np.array(mol.GetConformer(i).GetPositions(), dtype=np.float64) for i in ids]


def _bonds(mol) -> set[tuple[int, int, float]]:
    return {(*sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx())), b.GetBondTypeAsDouble()) for b in mol.GetBonds()}


def _fragments(mol) -> list[list[int]]:
    from rdkit import Chem

    return [list(f) for f in Chem.GetMolFrags(mol)]


def _place(mol, frags: list[list[int]], target: np.ndarray, n: int, seed: int, contact: float) -> np.ndarray:
    """Coordinates of a side of several molecules, each aligned onto ``target`` (the other side's
    coordinates of the same atoms), then separated to at least ``contact`` Å."""
    from rdkit import Chem

    pos = np.zeros_like(target)
    mapping: list = []
    mols = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True, fragsMolAtomMapping=mapping)
    frags = [list(m) for m in mapping]  # atoms of each molecule, in the order of its own atoms
    for k, (sub, frag) in enumerate(zip(mols, frags)):
        confs = _conformers(sub, n, seed + k)
        pos[frag] = min((kabsch(c, target[frag]) for c in confs), key=lambda t: t[1])[0]
    for _ in range(200):  # push molecules apart along the line between their centres
        moved = False
        for a in range(len(frags)):
            for b in range(a + 1, len(frags)):
                pa, pb = pos[frags[a]], pos[frags[b]]
                dmin = np.min(np.linalg.norm(pa[:, None] - pb[None], axis=-1))
                if dmin < contact:
                    axis = pb.mean(axis=0) - pa.mean(axis=0)
                    norm = np.linalg.norm(axis)
                    axis = axis / norm if norm > 1e-6 else np.array([1.0, 0.0, 0.0])
                    pos[frags[b]] += 0.5 * (contact - dmin + 0.05) * axis
                    pos[frags[a]] -= 0.5 * (contact - dmin + 0.05) * axis
                    moved = True
        if not moved:
            break
    return pos


def parse_reaction(smiles: str):
    """The two sides of a fully mapped ``R>>P`` as RDKit molecules with atoms sorted by map, after
    the checks every row gets: balanced maps and elements, no isotope label, bonds that change."""
    from rdkit import Chem

    parts = str(smiles).strip().split(">")
    if len(parts) != 3 or parts[1]:
        raise ValueError(f"not a reaction SMILES R>>P (no agents): {smiles!r}")
    (rmol, rmaps), (pmol, pmaps) = _side(parts[0], "reactant"), _side(parts[2], "product")
    if rmaps != pmaps:
        only = sorted(set(rmaps) ^ set(pmaps))
        raise ValueError(
            f"unbalanced: atom maps {', '.join(map(str, only[:5]))} on one side only "
            f"({len(rmaps)} reactant atoms, {len(pmaps)} product atoms)"
        )
    rz = [a.GetAtomicNum() for a in rmol.GetAtoms()]
    pz = [a.GetAtomicNum() for a in pmol.GetAtoms()]
    if rz != pz:
        k = next(i for i in range(len(rz)) if rz[i] != pz[i])
        raise ValueError(f"unbalanced: atom map {rmaps[k]} is element {rz[k]} in the reactant, {pz[k]} in the product")
    for mol, side in ((rmol, "reactant"), (pmol, "product")):
        labelled = next((a for a in mol.GetAtoms() if a.GetIsotope()), None)
        if labelled is not None:
            raise ValueError(
                f"{side}: isotope label [{labelled.GetIsotope()}{labelled.GetSymbol()}] (atom map "
                f"{labelled.GetAtomMapNum()}): phl computes every atom with its natural-abundance mass (IRCs and "
                "normal modes are mass-weighted); remove the label"
            )
    if _bonds(rmol) == _bonds(pmol):
        if Chem.MolToSmiles(rmol, isomericSmiles=False) != Chem.MolToSmiles(pmol, isomericSmiles=False):
            raise ValueError(
                "reactant and product have the same bonds and differ only in formal charges or radicals: "
                "no bond changes, so no reaction path phl can check"
            )
        if Chem.MolToSmiles(rmol) != Chem.MolToSmiles(pmol):
            raise ValueError(
                "reactant and product have the same bonds and differ only in stereochemistry (E/Z or R/S): phl "
                "tells a reaction's two ends apart by their bond graphs (the IRC check), which cannot tell "
                "stereoisomers apart; a stereo isomerisation cannot be imported"
            )
        raise ValueError("reactant and product are the same molecule (same bonds, same stereochemistry): no reaction")
    return rmol, pmol


def _integer_column(value: object, column: str) -> int | None:
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{column} column: {text!r} is not an integer") from None
    if not number.is_integer():
        raise ValueError(f"{column} column: {text!r} is not an integer")
    return int(number)


def charge_and_multiplicity(rmol, pmol, charge: object = "", multiplicity: object = "") -> tuple[int, int]:
    """The charge and multiplicity of a reaction, checked against its SMILES on both sides.

    Charge: the sum of formal charges, the same on both sides; a ``charge`` column must agree.
    Multiplicity: the radical electrons of the SMILES (RDKit) on each side; a ``multiplicity``
    column must be at least 1, of the parity of the radical count, and at most one more than the
    radicals of either side (a SMILES without radicals is a closed shell); without the column the
    lowest the radicals allow (singlet, or doublet for an odd count)."""
    from rdkit.Chem import Descriptors

    charges = [sum(a.GetFormalCharge() for a in m.GetAtoms()) for m in (rmol, pmol)]
    if charges[0] != charges[1]:
        raise ValueError(
            f"charge not conserved: the reactant side has charge {charges[0]:+d}, the product side {charges[1]:+d}"
        )
    given = _integer_column(charge, "charge")
    if given is not None and given != charges[0]:
        raise ValueError(
            f"charge column says {given:+d} but the SMILES has formal charge {charges[0]:+d}; correct one of them"
        )
    radicals = [Descriptors.NumRadicalElectrons(m) for m in (rmol, pmol)]
    mult = _integer_column(multiplicity, "multiplicity")
    if mult is None:
        return charges[0], radicals[0] % 2 + 1
    if mult < 1:
        raise ValueError(f"multiplicity column: {mult} is not a spin multiplicity (2S+1 >= 1)")
    unpaired = mult - 1
    if unpaired % 2 != radicals[0] % 2 or unpaired > min(radicals):
        raise ValueError(
            f"multiplicity column says {mult} ({unpaired} unpaired electrons) but the SMILES has "
            f"{radicals[0]} radical electron(s) in the reactant and {radicals[1]} in the product; write the "
            "radicals in the SMILES or correct the multiplicity"
        )
    return charges[0], mult


def reaction_geometries(smiles: str, n_conformers: int = 8, seed: int = 0, contact: float = 2.0) -> tuple[Atoms, Atoms]:
    """Reactant and product (Å, one atom order: by atom map) of a fully mapped ``R>>P``."""
    return embed_reaction(*parse_reaction(smiles), n_conformers, seed, contact)


def embed_reaction(rmol, pmol, n_conformers: int = 8, seed: int = 0, contact: float = 2.0) -> tuple[Atoms, Atoms]:
    """Reactant and product geometries of the two sides :func:`parse_reaction` returns."""
    rz = [a.GetAtomicNum() for a in rmol.GetAtoms()]
    rf, pf = _fragments(rmol), _fragments(pmol)
    if len(rf) <= len(pf):  # the side with fewer molecules is embedded whole; the other placed on it
        anchor_mol, anchor_frags, other_mol, other_frags, anchor_is_reactant = rmol, rf, pmol, pf, True
    else:
        anchor_mol, anchor_frags, other_mol, other_frags, anchor_is_reactant = pmol, pf, rmol, rf, False
    anchor_confs = _conformers(anchor_mol, n_conformers, seed)
    if len(anchor_frags) > 1:
        anchor_confs = [_place(anchor_mol, anchor_frags, c, n_conformers, seed, contact) for c in anchor_confs[:1]]
    if len(other_frags) == 1:
        other_confs = _conformers(other_mol, n_conformers, seed + 1000)
        best = min(
            ((a, *kabsch(o, a)) for a in anchor_confs for o in other_confs),
            key=lambda t: t[2],
        )
        anchor, other = best[0], best[1]
    else:
        anchor = anchor_confs[0]
        other = _place(other_mol, other_frags, anchor, n_conformers, seed + 1000, contact)
    reactant, product = (anchor, other) if anchor_is_reactant else (other, anchor)
    return Atoms(numbers=rz, positions=reactant), Atoms(numbers=rz, positions=product)


def read_smiles(paths: list[Path], n_conformers: int = 8, seed: int = 0) -> Iterator:
    """Reactions of a CSV of mapped reaction SMILES (columns ``id, smiles`` and optionally
    ``charge, multiplicity, class``)."""
    import pandas as pd

    from phl.geometries.importers import Skipped, phl_id
    from phl.geometries.reactions import Reaction

    try:
        import rdkit  # noqa: F401
    except ImportError:
        raise InputError("phl reaction import smiles needs RDKit: pip install rdkit") from None
    if len(paths) != 1:
        raise InputError(
            f"smiles takes one CSV file (columns id, smiles[, charge, multiplicity, class]), got {len(paths)}"
        )
    path = paths[0]
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"{path}: not a SMILES reaction list: no column(s) {', '.join(missing)} (found {', '.join(table.columns)})"
        )
    for row in table.to_dict("records"):
        name = str(row["id"]).strip()
        try:
            if not name:
                raise ValueError("empty id")
            rid = phl_id(name)
            rmol, pmol = parse_reaction(row["smiles"])
            charge, multiplicity = charge_and_multiplicity(
                rmol, pmol, row.get("charge", ""), row.get("multiplicity", "")
            )
            reactant, product = embed_reaction(rmol, pmol, n_conformers, seed)
        except ValueError as exc:
            yield Skipped(name[:80] or "?", str(exc))
            continue
        yield Reaction(rid, reactant, product, charge=charge, multiplicity=multiplicity, source_id=name)
