# Geometry stage, one reaction at a time: minima, TS, IRC, NMS, then the list of kept structures.
# A reaction that fails (SCF, TS with the wrong number of imaginary modes, IRC not connecting) is
# recorded as failed and contributes no structure; the rest of the run goes on.


wildcard_constraints:
    reaction=r"[A-Za-z0-9_.-]+",
    role="reactant|product",
    index=r"\d+",


rule geometry_minimum:
    output:
        "results/geometries/{reaction}/{role}.json",
    log:
        "logs/geometries/{reaction}/{role}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        phl=PHL,
        reactions=REACTIONS_FILE,
        method=METHOD.to_cli(),
        settings=GEOMETRY_SETTINGS.to_cli(),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} reaction {wildcards.role} {params.reactions} --id {wildcards.reaction} "
        "{params.method} {params.settings} --json {output} > {log} 2>&1"


rule geometry_ts:
    input:
        reactant="results/geometries/{reaction}/reactant.json",
        product="results/geometries/{reaction}/product.json",
    output:
        "results/geometries/{reaction}/ts.json",
    log:
        "logs/geometries/{reaction}/ts.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    params:
        phl=PHL,
        reactions=REACTIONS_FILE,
        method=METHOD.to_cli(),
        settings=GEOMETRY_SETTINGS.to_cli(),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} reaction ts {params.reactions} --id {wildcards.reaction} "
        "--reactant {input.reactant} --product {input.product} {params.method} {params.settings} "
        "--json {output} > {log} 2>&1"


rule geometry_irc:
    input:
        reactant="results/geometries/{reaction}/reactant.json",
        product="results/geometries/{reaction}/product.json",
        ts="results/geometries/{reaction}/ts.json",
    output:
        "results/geometries/{reaction}/irc.json",
    log:
        "logs/geometries/{reaction}/irc.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=480,
    params:
        phl=PHL,
        reactions=REACTIONS_FILE,
        method=METHOD.to_cli(),
        settings=GEOMETRY_SETTINGS.to_cli(),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} reaction irc {params.reactions} --id {wildcards.reaction} "
        "--reactant {input.reactant} --product {input.product} --ts {input.ts} {params.method} {params.settings} "
        "--json {output} > {log} 2>&1"


rule geometry_nms:
    input:
        irc="results/geometries/{reaction}/irc.json",
    output:
        "results/geometries/{reaction}/nms.json",
    log:
        "logs/geometries/{reaction}/nms.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        phl=PHL,
        reactions=REACTIONS_FILE,
        method=METHOD.to_cli(),
        settings=GEOMETRY_SETTINGS.to_cli(),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} reaction nms {params.reactions} --id {wildcards.reaction} "
        "--irc {input.irc} {params.method} {params.settings} --json {output} > {log} 2>&1"


checkpoint geometry_collect:
    input:
        reactant="results/geometries/{reaction}/reactant.json",
        product="results/geometries/{reaction}/product.json",
        ts="results/geometries/{reaction}/ts.json",
        irc="results/geometries/{reaction}/irc.json",
        nms="results/geometries/{reaction}/nms.json",
    output:
        "results/geometries/{reaction}/structures.json",
    log:
        "logs/geometries/{reaction}/collect.log",
    conda:
        CONDA_ENV
    params:
        phl=PHL,
    shell:
        "{params.phl} reaction collect --id {wildcards.reaction} --reactant {input.reactant} --product {input.product} "
        "--ts {input.ts} --irc {input.irc} --nms {input.nms} --json {output} > {log} 2>&1"


rule geometry_summary:
    input:
        expand("results/geometries/{reaction}/structures.json", reaction=REACTIONS),
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
        reactions=REACTIONS_FILE,
    shell:
        "{params.phl} reaction summary {params.reactions} --dir results/geometries --out {output} 2>&1 | tee {log}"
