# Reference labels (energy, forces, Hessian, HVPs) at the configured level of theory.


rule reference_label:
    input:
        "resources/molecules/{molecule}.xyz",
    output:
        "results/labels/{molecule}.json",
    log:
        "logs/labels/{molecule}.log",
    params:
        phl=PHL,
        method=method_options(config["reference"]),
        labels=label_options(config["labels"]),
    threads: 2
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=120,
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} compute {input} {params.method} {params.labels} "
        "--json {output} > {log} 2>&1"


rule reference_summary:
    input:
        expand("results/labels/{molecule}.json", molecule=config["molecules"]),
    output:
        "results/reference_summary.csv",
    params:
        phl=PHL,
    log:
        "logs/reference_summary.log",
    conda:
        CONDA_ENV
    shell:
        "{params.phl} summarize {input} --out {output} > {log} 2>&1"
