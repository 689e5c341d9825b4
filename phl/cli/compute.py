"""``phl compute``, ``phl optimize`` and ``phl summarize``: reference calculations of single
geometries and the table of label files."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from phl.errors import InputError
from phl.io.atomic import check_distinct, check_output_path
from phl.labels import LabelSettings
from phl.qm.method import Method

#: why commands that compute reactions or their structures take no --charge/--multiplicity
PER_REACTION = (
    "each reaction's charge and multiplicity come from the reaction list (its charge and multiplicity entries)"
)
PER_STRUCTURE = "each structure is computed at its reaction's charge and multiplicity (recorded in structures.json)"
PER_IMPORTED = (
    "each reaction's charge and multiplicity come from the input (SMILES: formal charges and radicals, or the "
    "charge and multiplicity columns; the public sets: neutral singlets)"
)


def add_method_options(p: argparse.ArgumentParser, charge_from: str | None = None) -> None:
    """Every field of :class:`phl.qm.method.Method`, for each command that runs the reference.

    ``charge_from``: the command's molecules carry their own charge and multiplicity (reactions of a
    list, structures of a reaction); ``--charge``/``--multiplicity`` are then refused with this
    reason instead of being overridden in silence."""
    group = p.add_argument_group(
        "level of theory (default: Gaussian 16 wB97XD/6-31G(d), UltraFine grid; --method gfn2-xtb for GFN2-xTB)"
    )
    if charge_from is None:
        Method.add_arguments(group)
        return
    Method.add_arguments(group, exclude=("charge", "multiplicity"))
    for name in ("charge", "multiplicity"):

        def refuse(text: str, name: str = name) -> None:
            raise argparse.ArgumentTypeError(f"not an option of this command: {charge_from}; remove --{name}")

        group.add_argument(f"--{name}", type=refuse, help=argparse.SUPPRESS)


def cmd_compute(args: argparse.Namespace) -> int:
    from phl.io.atomic import atomic_write_json
    from phl.io.xyz import read_xyz
    from phl.labels import compute_label
    from phl.qm.interface import make_engine

    labels = LabelSettings.from_args(args)
    method = Method.from_args(args)
    if args.json:
        check_output_path(args.json, "label")
        check_distinct({"geometry": args.geometry}, {"--json": args.json})
    meta: dict = {}
    if args.index is not None:
        given = [n for n in ("charge", "multiplicity") if getattr(args, n) is not None]
        if given:
            raise InputError(f"--{given[0]} with --index: {PER_STRUCTURE}; remove the option")
        from phl.geometries.jobs import read_structure

        atoms, meta = read_structure(args.geometry, args.index)
        # a structure of a reaction is computed at the reaction's charge and multiplicity
        method = method.replace(charge=meta.pop("charge"), multiplicity=meta.pop("multiplicity"))
    else:
        atoms = read_xyz(args.geometry)
    engine = make_engine(method, progress=not args.quiet)
    label = compute_label(engine, atoms, labels, meta, args.index, str(args.geometry))
    data = label.to_dict()
    if args.json:
        atomic_write_json(args.json, data)
    if not args.quiet:
        f = np.asarray(data["forces"])
        seconds = sum(label.provenance.get("wall_seconds", {}).values())
        print(
            f"{args.geometry}: E = {data['energy']:.10f} Eh (dispersion {data['dispersion_energy']:.10f} Eh), "
            f"max |F| = {np.abs(f).max():.6f} Eh/Å, {engine.backend}, "
            f"{seconds:.1f} s" + (f" -> {args.json}" if args.json else "")
        )
    if not args.json:
        json.dump(data, sys.stdout, indent=1)
        print()
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    import warnings

    from phl.calculators import ReferenceCalculator
    from phl.geometries.pathways import minimize
    from phl.io.atomic import atomic_write_json
    from phl.io.xyz import read_xyz
    from phl.provenance import provenance
    from phl.qm.vibrations import IMAGINARY_THRESHOLD_CM1

    if not args.fmax > 0:
        raise InputError(f"--fmax must be positive (eV/Å), got {args.fmax}")
    if args.steps < 1:
        raise InputError(f"--steps must be at least 1, got {args.steps}")
    method = Method.from_args(args)
    if args.json:
        check_output_path(args.json)
        check_distinct({"geometry": args.geometry}, {"--json": args.json})
    atoms = read_xyz(args.geometry)
    calc = ReferenceCalculator(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        point = minimize(atoms, calc, fmax=args.fmax, steps=args.steps)
    data = {
        "energy": point.energy,
        "converged": point.converged,
        "steps": point.steps,
        "n_imaginary": point.n_imaginary,
        "frequencies_cm1": point.vibrations.frequencies.tolist(),
        "symbols": point.atoms.get_chemical_symbols(),
        "positions": point.atoms.get_positions().tolist(),
        "units": {"energy": "Eh", "positions": "Angstrom", "fmax": "eV/Angstrom"},
        "method": calc.engine.method.to_dict(),
        "provenance": provenance(
            extra_packages=("sella",),
            input=str(args.geometry),
            fmax=args.fmax,
            imaginary_threshold_cm1=IMAGINARY_THRESHOLD_CM1,
            backend=calc.engine.backend,
            hessian_mode=calc.engine.hessian_mode,
            scf_calls=calc.n_scf,
        ),
    }
    if args.json:
        atomic_write_json(args.json, data)
    print(
        f"{args.geometry}: E = {point.energy:.10f} Eh, converged {point.converged} in {point.steps} steps, "
        f"{point.n_imaginary} imaginary mode(s)" + (f" -> {args.json}" if args.json else "")
    )
    return 0 if point.converged else 1


def cmd_summarize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from phl.io.label_summary import label_files, summarize_labels

    check_output_path(args.out, "table")
    check_distinct({"label": args.labels}, {"--out": args.out})
    summarize_labels(label_files(args.labels, args.allow_empty), Path(args.out))
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "compute",
        help="energy, forces, Hessian and reference HVPs of one geometry",
        description=(
            "Reference calculation at wB97X-D/6-31G(d) (Gaussian-exact) by default, GFN2-xTB (tblite) with "
            "--method gfn2-xtb. Units: Eh, Eh/Å, Eh/Å²."
        ),
    )
    p.add_argument("geometry", help="XYZ file (Å), or a structures.json of 'phl reaction collect' with --index")
    p.add_argument(
        "--index",
        type=int,
        help="structure number in a structures.json (its name, category and reaction are copied into the label)",
    )
    add_method_options(p)
    LabelSettings.add_arguments(p.add_argument_group("what the label holds"))
    p.add_argument("--json", metavar="OUT", help="write the result as JSON (atomically); else print it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary line")
    p.set_defaults(func=cmd_compute)

    p = sub.add_parser(
        "optimize",
        help="minimise a geometry at the reference level (Sella, exact Hessian)",
        description="Minimise with Sella (internal coordinates, reference Hessian), then count imaginary "
        "modes. Exit status 1 if not converged.",
    )
    p.add_argument("geometry", help="XYZ file (Å)")
    add_method_options(p)
    p.add_argument("--fmax", type=float, default=0.01, help="force convergence in eV/Å (default %(default)s)")
    p.add_argument("--steps", type=int, default=200, help="maximum optimisation steps (default %(default)s)")
    p.add_argument("--json", metavar="OUT", help="write energy, converged, n_imaginary, frequencies and the geometry")
    p.set_defaults(func=cmd_optimize)

    p = sub.add_parser("summarize", help="table (CSV) of reference label files")
    p.add_argument("labels", nargs="*", help="JSON files written by 'phl compute --json', or folders of them")
    p.add_argument("--allow-empty", action="store_true", help="write a table without rows when there is no label")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.set_defaults(func=cmd_summarize)
