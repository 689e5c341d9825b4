# Helpers shared by the rules: how to call phl, and config sections turned into `phl` options.

# The phl of this checkout, also inside conda environments (--sdm conda) that carry only its
# dependencies.
PHL = f"PYTHONPATH={workflow.basedir}${{PYTHONPATH:+:$PYTHONPATH}} python -m phl"
CONDA_ENV = "../../envs/phl.yaml"


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
