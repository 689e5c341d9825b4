# phl: the Projected Hessian Learning benchmark, end to end.
#   snakemake --cores 2                          # the small built-in default (config.yaml)
#   snakemake --report results/report.html       # then: every table and figure in one HTML page
#   snakemake --cores 32 --profile slurm --configfile config/paper.yaml   # the paper's scale on Slurm
# Every rule is a thin call of the `phl` command line; all logic lives in the phl library.

from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


# The report's landing page: the run's findings ('phl results tables --landing') once they exist,
# the workflow's description before.
LANDING = "results/report/landing.rst"


report: str(Path(LANDING).resolve()) if Path(LANDING).is_file() else "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/geometries.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/results.smk"


rule all:
    default_target: True
    input:
        expand("results/tables/{table}.csv", table=TABLES),
        expand("results/figures/{figure}.png", figure=FIGURES),
        ["results/geometries/summary.csv", "results/reference_summary.csv"] if GENERATE else [],


onsuccess:
    from phl.results.findings import end_of_run

    print(end_of_run("results"))
