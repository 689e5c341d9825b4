# Helpers shared by the rules: how to call phl, config sections turned into `phl` options, and the
# list of reactions and training runs.

import json
import shlex
from pathlib import Path

import yaml

# The phl of this checkout, also inside conda environments (--sdm conda) that carry only its
# dependencies.
PHL = f"python -c 'import sys; sys.path.insert(0, {json.dumps(str(workflow.basedir))}); from phl.cli import main; sys.exit(main())'"
CONDA_ENV = f"../../envs/{config['conda_env']}.yaml"  # phl (CPU) or phl-gpu, for --sdm conda


def method_options(ref):
    """Command-line options of the reference method from config['reference']."""
    opts = [
        f"--functional {ref['functional']!r}",
        f"--basis {ref['basis']!r}",
        f"--cartesian {ref['cartesian']}",
        f"--charge {ref['charge']}",
        f"--multiplicity {ref['multiplicity']}",
        f"--grid {ref['grid'][0]},{ref['grid'][1]}",
        f"--backend {ref['backend']}",
        f"--hessian-mode {ref['hessian_mode']}",
        f"--fd-step {ref['fd_step']}",
        f"--max-cycle {ref['max_cycle']}",
    ]
    return " ".join(opts)


def label_options(labels):
    opts = [f"--hvp {labels['hvp']}", f"--probe {labels['probe']}", f"--seed {labels['seed']}"]
    if labels["hessian"]:
        opts.append("--hessian")
    return " ".join(opts)


def geometry_options(settings):
    return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in sorted(settings.items()))


# ---- reactions ---------------------------------------------------------------------------------
GEOMETRIES = config["geometries"]
REACTIONS_FILE = (
    str(Path(workflow.basedir) / "phl" / "data" / "reactions.yaml")
    if GEOMETRIES["reactions"] == "builtin"
    else GEOMETRIES["reactions"]
)


def reaction_ids():
    """Ids of the reaction list (each reaction is checked by its own jobs: a bad one is reported
    in results/geometries/summary.csv and skipped)."""
    try:
        entries = yaml.safe_load(Path(REACTIONS_FILE).read_text())["reactions"]
        ids = [e["id"] for e in entries]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"geometries.reactions: cannot read reaction ids from {REACTIONS_FILE}: {exc}")
    if len(set(ids)) != len(ids) or not all(isinstance(i, str) for i in ids):
        raise ValueError(f"{REACTIONS_FILE}: reaction ids must be unique strings")
    return ids


GENERATE = config["data"]["source"] == "generate"
REACTIONS = reaction_ids() if GENERATE else []

# ---- training runs -------------------------------------------------------------------------------
TRAINING = config["training"]


def run_names():
    names = []
    for regime in TRAINING["regimes"]:
        if regime.startswith("hvp"):
            names += [f"{regime}-{p}" for p in TRAINING["probes"]]
        else:
            names.append(regime)
    return names


RUNS = run_names()
SEEDS = TRAINING["seeds"]


def check_training_settings(settings):
    """Unknown training keys fail at once, with their name (when phl is importable here)."""
    try:
        from phl.training.config import TrainConfig
    except ImportError:
        return
    from phl.options import check_known_keys

    check_known_keys(TrainConfig, settings, "training.settings")
    bad = sorted(set(settings) & {"regime", "probes", "seed"})
    if bad:
        raise ValueError(f"training.settings: {', '.join(bad)} are set by training.regimes/probes/seeds")


check_training_settings(TRAINING["settings"])


def run_options(run, seed):
    regime = next(r for r in ("hvp-onehot", "hvp-random", "ef", "efh") if run == r or run.startswith(f"{r}-"))
    opts = f"--regime {regime} --seed {seed}"
    if regime.startswith("hvp"):
        opts += f" --probes {run[len(regime) + 1:]}"
    return f"{opts} --settings {shlex.quote(json.dumps(TRAINING['settings']))}"


# ---- geometry-stage outputs known after the checkpoints -------------------------------------------
def structure_count(reaction):
    path = checkpoints.geometry_collect.get(reaction=reaction).output[0]
    return len(json.loads(Path(path).read_text())["structures"])


def reaction_labels(wildcards):
    """The label files of one reaction (known once its geometry stage has run)."""
    return [f"results/labels/{wildcards.reaction}/{i}.json" for i in range(structure_count(wildcards.reaction))]


def dataset_inputs(wildcards):
    if GENERATE:
        return {"summary": "results/geometries/summary.csv",
                "labels": expand("results/labels/{reaction}.csv", reaction=REACTIONS)}
    return {"files": config["data"]["openreact"]}
