# Reference labels (energy, forces, Hessian, HVPs) at the configured level of theory: one job per
# geometry of the geometry stage, plus optional single molecules.


rule label_structure:
    input:
        "results/geometries/{reaction}/structures.json",
    output:
        "results/labels/{reaction}/{index}.json",
    log:
        "logs/labels/{reaction}/{index}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        phl=PHL,
        method=METHOD.to_cli(),
        labels=LABELS.to_cli(),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} compute {input} --index {wildcards.index} {params.method} "
        "{params.labels} --json {output} > {log} 2>&1"


rule reference_label:
    input:
        "resources/molecules/{molecule}.xyz",
    output:
        "results/labels/molecules/{molecule}.json",
    log:
        "logs/labels/molecules/{molecule}.log",
    conda:
        CONDA_ENV
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        phl=PHL,
        method=METHOD.to_cli(),
        labels=LABELS.to_cli(),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} compute {input} {params.method} {params.labels} "
        "--json {output} > {log} 2>&1"


rule reaction_labels:
    input:
        reaction_labels,
    output:
        "results/labels/{reaction}.csv",
    log:
        "logs/labels/{reaction}.log",
    conda:
        CONDA_ENV
    params:
        phl=PHL,
    shell:
        "{params.phl} summarize {input} --allow-empty --out {output} > {log} 2>&1"


rule reference_summary:
    input:
        expand("results/labels/{reaction}.csv", reaction=REACTIONS),
        expand("results/labels/molecules/{molecule}.json", molecule=config["molecules"]),
    output:
        report("results/reference_summary.csv", caption="../report/reference_summary.rst", category="Data"),
    log:
        "logs/reference_summary.log",
    conda:
        CONDA_ENV
    params:
        phl=PHL,
    shell:
        "{params.phl} summarize results/labels --allow-empty --out {output} > {log} 2>&1"
