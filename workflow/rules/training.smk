# Training: one job per regime x probe mode x seed (phl train; resumable from its last.pt).


rule train:
    input:
        "results/dataset/dataset.h5",
    output:
        model="results/training/{run}/seed{seed}/best.pt",
        log="results/training/{run}/seed{seed}/log.csv",
        final="results/training/{run}/seed{seed}/final.json",
    log:
        "logs/training/{run}/seed{seed}.log",
    # longest runs first (E-F-H epochs cost ~25x HVP, HVP ~2x E-F): on few cores the last
    # job to start is then a short one, not an E-F-H run
    priority: lambda w: {"efh": 2, "ef": 0}.get(w.run, 1)
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=1440,
    params:
        phl=PHL,
        options=lambda w: run_options(w.run, w.seed),
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} train {input} --out results/training/{wildcards.run}/seed{wildcards.seed} "
        "{params.options} > {log} 2>&1"
