# Reference labels (energy, forces, Hessian, HVPs) at the configured level of theory: the structures
# of each block dealt into batching.label_jobs_per_block chunks, one job and one HDF5 shard each
# (labels written as they finish, resumed on a rerun), plus optional single molecules (JSON).


rule label_chunk:
    input:
        "results/geometries/blocks/{block}.csv",
    output:
        "results/labels/{block}/{chunk}.h5",
    log:
        "logs/labels/{block}/{chunk}.log",
    conda:
        CONDA_ENV
    threads: BATCHING.molecules_in_flight  # one CPU core per molecule in flight (its worker's host work)
    resources:
        mem_mb=4000 * BATCHING.molecules_in_flight,
        runtime=720,
    params:
        phl=PHL,
        options=" ".join(
            [
                METHOD.to_cli(per_molecule=False),
                LABELS.to_cli(),
                f"--label-jobs-per-block {BATCHING.label_jobs_per_block}",
                f"--molecules-in-flight {BATCHING.molecules_in_flight}",
            ]
        ),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} batch labels {input} --geometries results/geometries "
        "--chunk {wildcards.chunk} --out {output} {params.options} -q > {log} 2>&1"


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


rule reference_summary:
    input:
        LABEL_SHARDS,
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
        "{params.phl} summarize {input} --allow-empty --out {output} > {log} 2>&1"
