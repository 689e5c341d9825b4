# Results: evaluation of every trained model, tables with the findings page, figures (gathered by
# `snakemake --report`, whose landing page is the findings page: LANDING, see the Snakefile).

# TS searches with every trained model (results.ts_search; needs generated geometries)
TS_SEARCH = GENERATE and config["results"].get("ts_search", True)
TABLES = (
    [
        "paper_comparison",
        "table1_randomized",
        "table2_fixed",
        "ttests",
        "rmse_per_seed",
        "accuracy",
        "timings",
        "training_status",
    ]
    + (["change_vs_ef"] if "ef" in TRAINING["regimes"] else [])
    + (["ts_search"] if TS_SEARCH else [])
    + ["curvature_ttests"]
)
FIGURES = ["fig2_validation", "fig3_rmse", "fig4_epoch_time", "bland_altman"] + (
    ["fig5_reference_cost"] if GENERATE else []
)


rule evaluate:
    input:
        model="results/training/{run}/seed{seed}/best.pt",
        dataset="results/dataset/dataset.h5",
    output:
        "results/evaluation/{run}/seed{seed}.csv",
    log:
        "logs/evaluation/{run}/seed{seed}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        phl=PHL,
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} evaluate results/training/{wildcards.run}/seed{wildcards.seed} "
        "{input.dataset} --out {output} > {log} 2>&1"


rule ts_search:
    input:
        model="results/training/{run}/seed{seed}/best.pt",
        summary="results/geometries/summary.csv",
    output:
        "results/ts_search/{run}/seed{seed}.csv",
    log:
        "logs/ts_search/{run}/seed{seed}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        phl=PHL,
        reactions=REACTIONS_FILE,
    shell:
        "OMP_NUM_THREADS={threads} {params.phl} ts-search results/training/{wildcards.run}/seed{wildcards.seed} "
        "--reactions {params.reactions} --geometries results/geometries --out {output} > {log} 2>&1"


rule tables:
    input:
        per_run("results/evaluation/{run}/seed{seed}.csv"),
        per_run("results/training/{run}/seed{seed}/log.csv"),
        per_run("results/training/{run}/seed{seed}/final.json"),
        per_run("results/ts_search/{run}/seed{seed}.csv") if TS_SEARCH else [],
        ["results/geometries/summary.csv"] if GENERATE else [],
    output:
        csv=[report(f"results/tables/{t}.csv", caption=f"../report/{t}.rst", category="Tables") for t in TABLES],
        md=[f"results/tables/{t}.md" for t in TABLES],
        findings=report("results/tables/findings.csv", caption="../report/findings.rst", category="Findings"),
        findings_md="results/tables/findings.md",
        landing=LANDING,
    log:
        "logs/tables.log",
    conda:
        CONDA_ENV
    params:
        phl=PHL,
        runs=" ".join(RUNS),
        seeds=seeds_options(),
        ts="--ts-search results/ts_search" if TS_SEARCH else "",
        geometries="--geometry-summary results/geometries/summary.csv" if GENERATE else "",
    shell:
        "{params.phl} results tables --evaluations results/evaluation --training results/training "
        "--runs {params.runs} {params.seeds} {params.ts} {params.geometries} --landing {output.landing} "
        "--out-dir results/tables 2>&1 | tee {log}"


rule figures:
    input:
        evaluations=per_run("results/evaluation/{run}/seed{seed}.csv"),
        logs=per_run("results/training/{run}/seed{seed}/log.csv"),
        reference=["results/reference_summary.csv"] if GENERATE else [],
    output:
        png=[report(f"results/figures/{f}.png", caption=f"../report/{f}.rst", category="Figures") for f in FIGURES],
        pdf=[f"results/figures/{f}.pdf" for f in FIGURES],
        bland_altman=report(
            "results/figures/bland_altman.csv", caption="../report/bland_altman_table.rst", category="Tables"
        ),
    log:
        "logs/figures.log",
    conda:
        CONDA_ENV
    params:
        phl=PHL,
        runs=" ".join(RUNS),
        seeds=seeds_options(),
        reference="--reference-summary results/reference_summary.csv" if GENERATE else "",
        dpi=config["results"]["figure_dpi"],
    shell:
        "{params.phl} results figures --evaluations results/evaluation --training results/training "
        "--runs {params.runs} {params.seeds} {params.reference} --dpi {params.dpi} "
        "--out-dir results/figures 2>&1 | tee {log}"
