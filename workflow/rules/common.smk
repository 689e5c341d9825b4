# Helpers shared by the rules: how to call phl, config sections turned into `phl` options, and the
# list of reactions and training runs.

import json
import shlex
import sys
from pathlib import Path

import yaml

# The phl of this checkout: the workflow validates its configuration with phl's own settings
# classes (one declaration per setting), and jobs run this checkout's phl, also inside conda
# environments (--sdm conda) that carry only its dependencies.
sys.path.insert(0, str(workflow.basedir))

from snakemake.settings.types import DeploymentMethod

from phl.batch.blocks import Batching, block_fingerprints
from phl.errors import PHLError
from phl.geometries.design import SamplingDesign
from phl.geometries.jobs import GeometrySettings
from phl.geometries.reactions import reaction_ids, reaction_list_path, read_classes
from phl.labels import LabelSettings
from phl.qm.method import Method
from phl.registry import parse_run, run_names
from phl.training.config import TrainConfig

# Jobs run phl with the interpreter Snakemake itself runs in (a virtual environment need not be
# activated), or with the job's own environment's python under --sdm conda.
CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
PYTHON = "python" if CONDA else shlex.quote(sys.executable)
PHL = f"{PYTHON} -c 'import sys; sys.path.insert(0, {json.dumps(str(workflow.basedir))}); from phl.cli import main; sys.exit(main())'"
CONDA_ENV = f"../../envs/{config['conda_env']}.yaml"  # phl (CPU), phl-gpu (CUDA 12) or phl-gpu-cuda13, for --sdm conda


def checked(name, build):
    """A config section built by phl's settings class; a bad key or value stops the workflow at
    once, with the section named."""
    try:
        return build()
    except PHLError as exc:
        raise ValueError(f"config {name}: {exc}") from None


# ---- settings sections: each validated by the class that declares it ---------------------------
# reference: under --configfile, Snakemake lays the file over config.yaml; the DFT options that
# config.yaml sets are left out for method gfn2-xtb where they still hold config.yaml's values, any
# other option the method does not use is refused (phl.qm.method.Method.from_dict)
with open(Path(workflow.basedir) / "config.yaml") as _fh:
    BASE_REFERENCE = (yaml.safe_load(_fh) or {}).get("reference") or {}
METHOD = checked("reference", lambda: Method.from_dict(config["reference"], inherited=BASE_REFERENCE))
if not config.get("molecules") and {"charge", "multiplicity"} & set(config["reference"]):
    raise ValueError(
        "config reference: charge and multiplicity apply to the single molecules (molecules:) only; each "
        "reaction's charge and multiplicity come from the reaction list: remove them"
    )
GEOMETRIES = config["geometries"]
GEOMETRY_SETTINGS = checked("geometries.settings", lambda: GeometrySettings.from_dict(GEOMETRIES["settings"]))
SAMPLING = checked("geometries.sampling", lambda: SamplingDesign.from_dict(GEOMETRIES.get("sampling")))
BATCHING = checked("batching", lambda: Batching.from_dict(config.get("batching")))
LABELS = checked("labels", lambda: LabelSettings.from_dict(config["labels"]))
TRAINING = config["training"]


def check_training_settings(settings):
    bad = sorted(set(settings) & {"regime", "probes", "seed"})
    if bad:
        raise ValueError(f"config training.settings: {', '.join(bad)} are set by training.regimes/probes/seeds")
    checked("training.settings", lambda: TrainConfig.from_dict(settings))


check_training_settings(TRAINING["settings"])

# ---- reactions and blocks ------------------------------------------------------------------------
REACTIONS_FILE = str(checked("geometries.reactions", lambda: reaction_list_path(GEOMETRIES["reactions"])))
GENERATE = config["data"]["source"] == "generate"
# ids only: each reaction is checked by its own job, and a bad one is reported in
# results/geometries/summary.csv and skipped. Blocks and label chunks are static (phl.batch.blocks):
# every job is known from the list alone, no checkpoint.
REACTIONS = checked("geometries.reactions", lambda: reaction_ids(REACTIONS_FILE)) if GENERATE else []
# classes of the reactions (a CSV id,class): the geometry summary and the findings count yields per class
CLASSES_FILE = GEOMETRIES.get("classes")
if CLASSES_FILE and GENERATE:
    _classes = checked("geometries.classes", lambda: read_classes(CLASSES_FILE))
    if _unclassified := [r for r in REACTIONS if r not in _classes]:
        raise ValueError(
            f"config geometries.classes: {CLASSES_FILE} has no class for reaction {_unclassified[0]} "
            f"({len(_unclassified)} of {len(REACTIONS)} reactions without one)"
        )
BLOCKS = list(range(BATCHING.n_blocks(len(REACTIONS))))
# what each block computes (its reactions' entries and design steps): a parameter of its job, so a
# block reruns when its own reactions change and no other block or label job does
FINGERPRINTS = block_fingerprints(REACTIONS_FILE, BATCHING, SAMPLING.steps(REACTIONS)) if GENERATE else []
CHUNKS = list(range(BATCHING.label_jobs_per_block))
LABEL_SHARDS = expand("results/labels/{block}/{chunk}.h5", block=BLOCKS, chunk=CHUNKS)


# ---- training runs -------------------------------------------------------------------------------
RUNS = checked("training", lambda: run_names(TRAINING["regimes"], TRAINING["probes"]))
SEEDS = TRAINING["seeds"]
# seeds per run: training.seeds, or training.seeds_per_regime[regime] where given (E-F-H is often
# trained with fewer seeds: its epochs cost ~20x an HVP epoch)
SEEDS_PER_REGIME = TRAINING.get("seeds_per_regime") or {}
checked("training.seeds_per_regime", lambda: run_names(list(SEEDS_PER_REGIME), []))
SEEDS_OF = {run: SEEDS_PER_REGIME.get(parse_run(run).regime, SEEDS) for run in RUNS}
RUN_SEEDS = [(run, seed) for run in RUNS for seed in SEEDS_OF[run]]


def per_run(pattern):
    """``pattern`` with {run} and {seed} filled in for every trained model."""
    return [pattern.format(run=run, seed=seed) for run, seed in RUN_SEEDS]


def seeds_options():
    """--seeds and --run-seeds of 'phl results' for SEEDS_OF."""
    other = [f"{run}={','.join(map(str, s))}" for run, s in SEEDS_OF.items() if s != SEEDS]
    return f"--seeds {' '.join(map(str, SEEDS))}" + (f" --run-seeds {' '.join(other)}" if other else "")


def run_options(run, seed):
    r = parse_run(run)
    opts = f"--regime {r.regime} --seed {seed}" + (f" --probes {r.probes}" if r.probes else "")
    return f"{opts} --settings {shlex.quote(json.dumps(TRAINING['settings']))}"


# ---- data set inputs -------------------------------------------------------------------------------
def dataset_inputs(wildcards):
    if GENERATE:
        return {"summary": "results/geometries/summary.csv", "labels": LABEL_SHARDS}
    return {"files": config["data"]["openreact"]}
