# Geometry stage in blocks of consecutive reactions (batching.reactions_per_job): one job runs
# every step of its reactions - minima, TS, and IRC and NMS where the sampling design asks - writing
# each record as it finishes (results/geometries/REACTION/STEP.json), reusing finished ones on a
# rerun. A reaction that fails (SCF, TS with the wrong number of imaginary modes, IRC not
# connecting) is recorded as failed and contributes no structure; the rest of the run goes on.


wildcard_constraints:
    block=r"\d+",
    chunk=r"\d+",


rule geometry_block:
    output:
        "results/geometries/blocks/{block}.csv",
    log:
        "logs/geometries/block{block}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=1440,
    params:
        phl=PHL,
        reactions=REACTIONS_FILE,
        reactions_fingerprint=lambda w: FINGERPRINTS[int(w.block)],
        options=" ".join(
            [
                METHOD.to_cli(per_molecule=False),
                GEOMETRY_SETTINGS.to_cli(),
                SAMPLING.to_cli(),
                f"--reactions-per-job {BATCHING.reactions_per_job}",
            ]
        ),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} batch geometries {params.reactions} --block {wildcards.block} "
        "--dir results/geometries --out {output} {params.options} -q > {log} 2>&1"


rule geometry_summary:
    input:
        blocks=expand("results/geometries/blocks/{block}.csv", block=BLOCKS),
        classes=[CLASSES_FILE] if CLASSES_FILE else [],
    output:
        report(
            "results/geometries/summary.csv",
            caption="../report/geometries.rst",
            category="Data",
        ),
    log:
        "logs/geometries/summary.log",
    conda:
        CONDA_ENV
    params:
        phl=PHL,
        classes=lambda w, input: f"--classes {input.classes}" if input.classes else "",
    shell:
        "{params.phl} reaction summary {input.blocks} {params.classes} --out {output} 2>&1 | tee {log}"
