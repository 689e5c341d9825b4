# phl: the Projected Hessian Learning benchmark, end to end.
#   snakemake --cores 2                 # the small built-in default (config.yaml)
#   snakemake --cores 2 -n              # what would run
# Every rule is a thin call of the `phl` command line; all logic lives in the phl library.

from snakemake.utils import min_version, validate

min_version("9.0")

configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/reference.smk"


rule all:
    input:
        "results/reference_summary.csv",
    default_target: True
