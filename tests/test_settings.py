"""One declaration per setting: every field of each settings class is an option of its command,
values are type-checked with the key named, rendered options parse back to the same object, and
the vocabulary of runs and categories is consistent."""

import argparse
import dataclasses

import pytest

from phl.batch.blocks import Batching
from phl.cli import build_parser
from phl.errors import InputError
from phl.geometries.design import SamplingDesign
from phl.geometries.jobs import GeometrySettings
from phl.labels import LabelSettings
from phl.qm.method import Method
from phl.registry import PROBE_MODES, REGIMES, group_of, parse_run, run_name, run_names
from phl.training.config import TrainConfig

COMMANDS = {
    Method: ["compute", "optimize", "reaction ts", "reaction import", "batch geometries", "batch labels"],
    LabelSettings: ["compute", "batch labels"],
    GeometrySettings: ["reaction reactant", "reaction nms", "reaction plan", "batch geometries"],
    SamplingDesign: ["reaction plan", "batch geometries"],
    Batching: ["batch geometries", "batch labels"],
    TrainConfig: ["train"],
}
PARTIAL = {
    ("batch geometries", Batching): {"label_jobs_per_block", "molecules_in_flight"},
    ("batch labels", Batching): {"reactions_per_job"},
}


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in command.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


@pytest.mark.parametrize("cls", list(COMMANDS), ids=lambda c: c.__name__)
def test_every_field_is_an_option_of_its_commands(cls):
    fields = {f.name for f in cls.cli_fields()}
    assert fields == {f.name for f in dataclasses.fields(cls)}  # nothing hidden from the command line
    for command in COMMANDS[cls]:
        dests = {a.dest for a in _subparser(command)._actions}
        wanted = fields - PARTIAL.get((command, cls), set())  # the other batching field is another job's
        assert wanted <= dests, (command, wanted - dests)


@pytest.mark.parametrize(
    "obj",
    [
        Method(basis="3-21G", grid=(50, 194), cartesian=False, multiplicity=2, charge=1, grid_response=False),
        LabelSettings(hessian=True, hvp=3, probe="onehot", seed=7),
        GeometrySettings(irc_steps=7, nms_temperature=300.0, nms_seed=4),
        SamplingDesign(irc_reactions=600, nms_reactions=574, subset_seed=3),
        SamplingDesign(),  # optional fields left unset render as no option
        Batching(reactions_per_job=50, label_jobs_per_block=4),
        TrainConfig(
            regime="efh",
            batch_size=7,
            lr=2e-4,
            validate_hessian=True,
            model="phl.models.pair:PairModel",
            model_kwargs={"n_basis": 3},
        ),
    ],
    ids=lambda o: type(o).__name__,
)
def test_rendered_options_parse_back_to_the_same_settings(obj):
    import shlex

    command = COMMANDS[type(obj)][0]
    positional = {
        "compute": ["in.xyz"],
        "reaction reactant": ["builtin"],
        "reaction plan": [],
        "batch geometries": ["builtin", "--block", "0", "--dir", "d", "--out", "o.csv"],
        "train": ["data.h5", "--out", "x"],
    }[command]
    if isinstance(obj, Batching):  # each batch command takes its own field (the workflow passes it alone)
        args = build_parser().parse_args([*command.split(), *positional, "--reactions-per-job", "50"])
        assert Batching.from_args(args).reactions_per_job == 50
    else:
        argv = [*command.split(), *positional, *shlex.split(obj.to_cli())]
        args = build_parser().parse_args(argv)
        assert type(obj).from_args(args) == obj
    assert type(obj).from_dict(obj.to_dict()) == obj


@pytest.mark.parametrize(
    "cls, data, message",
    [
        (TrainConfig, {"batch_size": "eight"}, "batch_size must be an integer, got 'eight'"),
        (TrainConfig, {"batch_size": 2.5}, "batch_size must be an integer"),
        (TrainConfig, {"lr": "fast"}, "lr must be a number, got 'fast'"),
        (TrainConfig, {"validate_hessian": "maybe"}, "validate_hessian must be true or false"),
        (TrainConfig, {"model_kwargs": [1, 2]}, "model_kwargs must be a mapping"),
        (TrainConfig, {"model": "no-colon"}, "import path"),
        (TrainConfig, {"regime": "hvp"}, "regime must be one of"),
        (Method, {"grid": [99]}, "grid must be a list of 2 values"),
        (Method, {"grid": "fine"}, "grid must be RADIAL,ANGULAR"),
        (Method, {"cartesian": "sometimes"}, "cartesian must be auto, yes or no"),
        (Method, {"backend": "tpu"}, "backend must be one of auto, cpu, gpu"),
        (Method, {"charge": True}, "charge must be an integer"),
        (LabelSettings, {"hvp": -1}, "hvp"),
        (LabelSettings, {"probe": "uniform"}, "probe must be one of gaussian, rademacher, onehot"),
        (LabelSettings, {"probe": "gaussian,gaussian"}, "each once"),
        (GeometrySettings, {"fmax": 0}, "fmax must be positive"),
        (GeometrySettings, {"steps": "many"}, "steps must be an integer"),
        (SamplingDesign, {"irc_reactions": -1}, "irc_reactions must be >= 0"),
        (SamplingDesign, {"irc_reactions": "all"}, "irc_reactions must be an integer"),
        (SamplingDesign, {"expected_failure_rate": 1.5}, "expected_failure_rate must be in"),
        (Batching, {"reactions_per_job": 0}, "reactions_per_job must be at least 1"),
    ],
)
def test_bad_values_are_refused_with_their_key(cls, data, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cls.from_dict(data)


def test_text_values_are_read_as_their_type():
    """Snakemake's --config passes nested values as text; YAML reads 1e-3 as text."""
    cfg = TrainConfig.from_dict({"batch_size": "16", "lr": "1e-3", "validate_hessian": "true"})
    assert (cfg.batch_size, cfg.lr, cfg.validate_hessian) == (16, 1e-3, True)
    assert Method.from_dict({"grid": "75,302", "cartesian": "auto"}).grid == (75, 302)


def test_run_vocabulary():
    names = run_names(list(REGIMES), list(PROBE_MODES))
    assert len(names) == 2 + 2 * len(PROBE_MODES) and len(set(names)) == len(names)
    for name in names:
        r = parse_run(name)
        assert run_name(r.regime, r.probes) == name and r.label and r.color.startswith("#")
    with pytest.raises(InputError, match="unknown regime 'hvp'"):
        run_names(["hvp"], ["fixed"])
    with pytest.raises(InputError, match="not a run name"):
        parse_run("hvp-random-sometimes")
    assert [group_of(c) for c in ("reactant", "ts", "rtp", "irc", "nms", "weird")] == [
        "RTP",
        "RTP",
        "RTP",
        "IRC",
        "NMS",
        "other",
    ]
