# The data set: every labelled structure of the geometry stage (or imported OpenREACT-CHON-EFH
# files), with the train/val/test split stored inside.


rule dataset:
    input:
        unpack(dataset_inputs),
    output:
        "results/dataset/dataset.h5",
    log:
        "logs/dataset.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        phl=PHL,
        build=(
            "dataset collect results/geometries/summary.csv --labels " + " ".join(LABEL_SHARDS)
            if GENERATE
            else "dataset import " + " ".join(shlex.quote(p) for p in config["data"]["openreact"])
        ),
        split=f"--kind {config['data']['split']['kind']} --seed {config['data']['split']['seed']} --name paper",
    shell:
        "({params.phl} {params.build} --out {output}.tmp.h5 && {params.phl} dataset split {output}.tmp.h5 {params.split} "
        "&& {params.phl} dataset inspect {output}.tmp.h5 && mv {output}.tmp.h5 {output}) > {log} 2>&1"
