"""Metrics, paired t-tests, tables and figures, from a small fixture of trained-model outputs."""

import json

import numpy as np
import pandas as pd
import pytest

from phl.cli import main
from phl.errors import InputError
from phl.registry import parse_run
from phl.results.evaluate import metrics
from phl.results.statistics import bland_altman_table, paper_layout, rmse_per_seed, ttest_table
from phl.results.tables import accuracy_table, change_vs_ef, write_tables

RUNS = ["ef", "hvp-onehot-randomized", "hvp-random-randomized", "hvp-onehot-fixed", "hvp-random-fixed", "efh"]


def _rows(rng, scale: float, n: int = 12) -> pd.DataFrame:
    cats = ["reactant", "product", "ts", "irc", "nms", "nms"] * (n // 6)
    rows = []
    for i, cat in enumerate(cats):
        f = rng.normal(0, scale, 9)
        h = rng.normal(0, 3 * scale, 81)
        rows.append(
            {
                "index": i,
                "category": cat,
                "reaction": f"r{i % 3}",
                "part": "test" if cat in ("reactant", "product", "ts") else "heldout",
                "n_atoms": 3,
                "energy_err": rng.normal(0, scale),
                "forces_sse": np.sum(f**2),
                "forces_sae": np.sum(np.abs(f)),
                "forces_n": 9,
                "hessian_sse": np.sum(h**2),
                "hessian_sae": np.sum(np.abs(h)),
                "hessian_n": 81,
                "freq_sae": 3 * scale,
                "freq_n": 3,
                "ts": cat == "ts",
                "ts_sign_ok": 1.0 if cat == "ts" else np.nan,
                "ts_mode_overlap": 0.9 if cat == "ts" else np.nan,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def fixture_runs(tmp_path):
    rng = np.random.default_rng(0)
    scales = {
        "ef": 2.0,
        "efh": 0.8,
        "hvp-onehot-randomized": 1.0,
        "hvp-random-randomized": 1.0,
        "hvp-onehot-fixed": 1.2,
        "hvp-random-fixed": 0.9,
    }
    for run in RUNS:
        for seed in (0, 1):
            d = tmp_path / "evaluation" / run
            d.mkdir(parents=True, exist_ok=True)
            _rows(rng, scales[run]).to_csv(d / f"seed{seed}.csv", index=False)
            t = tmp_path / "training" / run / f"seed{seed}"
            t.mkdir(parents=True)
            pd.DataFrame(
                {
                    "epoch": [1, 2, 3],
                    "val_energy_rmse": [3.0, 2.0, 1.5],
                    "val_forces_rmse": [6.0, 4.0, 3.5],
                    "val_hessian_rmse": [30.0, 20.0, 18.0],
                    "seconds": [1.0, 1.2, 1.1],
                    "peak_mem_mb": [100.0, 100.0, 101.0],
                }
            ).to_csv(t / "log.csv", index=False)
            final = {"epochs": 3, "best_epoch": 3, "stopped_by": "max_epochs", "config": {"max_epochs": 3}}
            (t / "final.json").write_text(json.dumps(final))
    return tmp_path


def test_metrics_match_hand_computed_values():
    rows = pd.DataFrame(
        {
            "energy_err": [1.0, -3.0],
            "forces_sse": [2.0, 6.0],
            "forces_sae": [2.0, 4.0],
            "forces_n": [3, 5],
            "hessian_sse": [4.0, np.nan],
            "hessian_sae": [2.0, np.nan],
            "hessian_n": [4, 0],
            "freq_sae": [6.0, np.nan],
            "freq_n": [3, 0],
            "ts": [True, False],
            "ts_sign_ok": [1.0, np.nan],
            "ts_mode_overlap": [0.5, np.nan],
        }
    )
    m = metrics(rows)
    assert m["energy_rmse"] == pytest.approx(np.sqrt(5.0))
    assert m["energy_mae"] == pytest.approx(2.0)
    # per molecule (the paper): sqrt(mean(2/3, 6/5)); pooled: sqrt(8 / 8)
    assert m["forces_rmse"] == pytest.approx(np.sqrt((2 / 3 + 6 / 5) / 2))
    assert m["forces_rmse_pooled"] == pytest.approx(1.0)
    assert m["forces_mae"] == pytest.approx(0.75)
    assert m["hessian_rmse"] == pytest.approx(1.0) and m["hessian_mae"] == pytest.approx(0.5)
    assert m["freq_mae"] == pytest.approx(2.0)
    assert m["n_ts"] == 1 and m["ts_sign_rate"] == 1.0 and m["ts_mode_overlap"] == 0.5


def _per_seed(a_rmse, b_rmse, probes="randomized", group="NMS", prop="forces"):
    rows = [
        {"run": f"hvp-onehot-{probes}", "seed": k, "group": group, "property": prop, "rmse": v}
        for k, v in enumerate(a_rmse)
    ]
    rows += [
        {"run": f"hvp-random-{probes}", "seed": k, "group": group, "property": prop, "rmse": v}
        for k, v in enumerate(b_rmse)
    ]
    return pd.DataFrame(rows)


def test_ttest_is_over_models_paired_by_seed():
    from scipy import stats

    a, b = [1.30, 1.10, 1.45, 1.20, 1.38], [1.25, 1.18, 1.30, 1.24, 1.31]
    table = ttest_table(_per_seed(a, b))
    row = table[(table.group == "NMS") & (table.property == "forces")].iloc[0]
    t, p = stats.ttest_rel(a, b)
    assert row["n"] == 5 and row["t"] == pytest.approx(t) and row["p_value"] == pytest.approx(p)
    assert row["mean_difference"] == pytest.approx(np.mean(np.subtract(a, b)))  # one-hot − Hutchinson
    assert p > 0.05
    # the same kind of gap tested over thousands of correlated structures looks "significant"
    rng = np.random.default_rng(0)
    per_structure_a = 1.0 + rng.normal(0, 0.05, 5000)
    per_structure_b = per_structure_a - 0.01 + rng.normal(0, 0.02, 5000)
    assert stats.ttest_rel(per_structure_a, per_structure_b).pvalue < 1e-6


def test_ttest_with_one_model_says_why_the_cell_is_empty():
    table = ttest_table(_per_seed([1.3], [1.2]))
    row = table[(table.group == "NMS") & (table.property == "forces")].iloc[0]
    assert np.isnan(row["p_value"]) and "at least 2 trained models" in row["note"]
    layout = paper_layout(table, "randomized")
    assert list(layout.columns) == ["property", "Test", "IRC", "NMS"]
    assert list(layout["property"]) == ["Energy", "Force", "Hessian"]
    assert "at least 2 trained models" in layout.set_index("property").loc["Force", "NMS"]
    assert "no one-hot/Hutchinson pair" in paper_layout(table, "fixed").set_index("property").loc["Energy", "Test"]


def test_bland_altman_against_a_hand_computation():
    a, b = [2.0, 3.0, 4.0, 5.0], [1.5, 3.2, 3.1, 4.0]
    summary, points = bland_altman_table(_per_seed(a, b, "fixed", "Test", "hessian"))
    row = summary[(summary.group == "Test") & (summary.property == "hessian")].iloc[0]
    d = np.subtract(a, b)  # 0.5, -0.2, 0.9, 1.0
    mean, sd = d.mean(), d.std(ddof=1)
    half = 3.182446305284263 * sd / 2  # t(0.975, 3) · sd / √4
    assert row["mean_difference"] == pytest.approx(0.55) and row["sd"] == pytest.approx(sd)
    assert (row["ci95_low"], row["ci95_high"]) == pytest.approx((mean - half, mean + half))
    assert (row["loa_low"], row["loa_high"]) == pytest.approx((mean - 1.96 * sd, mean + 1.96 * sd))
    assert row["ci_includes_zero"] == bool(mean - half <= 0)
    pts = points[(points.group == "Test") & (points.property == "hessian")]
    assert list(pts["mean_rmse"]) == pytest.approx([1.75, 3.1, 3.55, 4.5]) and list(pts["difference"]) == pytest.approx(
        d
    )


def test_per_seed_rmse_table_and_paper_tables(fixture_runs):
    from phl.results.tables import load_evaluations

    rows = load_evaluations(fixture_runs / "evaluation", RUNS, [0, 1])
    per_seed = rmse_per_seed(rows)
    assert set(per_seed["group"]) == {"Test", "IRC", "NMS"} and len(per_seed) == len(RUNS) * 2 * 3 * 3
    one = rows[(rows.run == "ef") & (rows.seed == 1) & (rows.group == "NMS")]
    got = per_seed[(per_seed.run == "ef") & (per_seed.seed == 1) & (per_seed.group == "NMS")]
    assert got.set_index("property").loc["hessian", "rmse"] == pytest.approx(
        np.sqrt(np.mean(one["hessian_sse"] / one["hessian_n"]))
    )
    table = ttest_table(per_seed)
    assert len(table) == 2 * 3 * 3 and (table["n"] == 2).all()


def test_accuracy_change_and_files(fixture_runs):
    from phl.results.tables import load_evaluations

    rows = load_evaluations(fixture_runs / "evaluation", RUNS, [0, 1])
    acc = accuracy_table(rows)
    assert set(acc["group"]) == {"RTP", "IRC", "NMS"} and len(acc) == len(RUNS) * 3
    ef = acc[(acc.run == "ef") & (acc.group == "IRC")].iloc[0]
    per_seed = [
        metrics(rows[(rows.run == "ef") & (rows.group == "IRC") & (rows.seed == s)])["forces_rmse"] for s in (0, 1)
    ]
    assert ef["forces_rmse_mean"] == pytest.approx(np.mean(per_seed))
    assert ef["forces_rmse_std"] == pytest.approx(np.std(per_seed, ddof=1))
    change = change_vs_ef(acc)
    efh = change[(change.run == "efh") & (change.group == "IRC")].iloc[0]
    ref = acc[(acc.run == "efh") & (acc.group == "IRC")].iloc[0]
    assert efh["forces_rmse_change_pct"] == pytest.approx(100 * (ref["forces_rmse_mean"] / ef["forces_rmse_mean"] - 1))
    tables = write_tables(fixture_runs / "evaluation", fixture_runs / "training", RUNS, [0, 1], fixture_runs / "tables")
    for name in ("accuracy", "change_vs_ef", "ttests", "timings"):
        assert (fixture_runs / "tables" / f"{name}.csv").stat().st_size > 0
        assert (fixture_runs / "tables" / f"{name}.md").read_text().startswith("## ")
    assert tables["timings"].set_index("run").loc["ef", "ratio_to_ef"] == pytest.approx(1.0)


def test_figures_are_written(fixture_runs):
    from phl.results.figures import write_figures

    summary = fixture_runs / "reference_summary.csv"
    pd.DataFrame(
        {
            "natoms": [3, 4, 4],
            "seconds_scf": [1.0, 2.0, 2.1],
            "seconds_gradient": [0.5, 1.0, 1.0],
            "seconds_hessian": [5.0, 9.0, 9.5],
            "seconds_hvp": [3.0, 5.0, 5.2],
            "n_hvp": [2, 2, 2],
        }
    ).to_csv(summary, index=False)
    paths = write_figures(
        fixture_runs / "evaluation",
        fixture_runs / "training",
        RUNS,
        [0, 1],
        fixture_runs / "figures",
        reference_summary=summary,
        dpi=60,
    )
    names = {p.name for p in paths}
    for fig in ("fig2_validation", "fig3_rmse", "fig4_epoch_time", "fig5_reference_cost", "bland_altman"):
        assert {f"{fig}.png", f"{fig}.pdf"} <= names
    for p in paths:
        assert p.read_bytes()[:4] in (b"\x89PNG", b"%PDF")


def test_run_names_and_missing_inputs(fixture_runs):
    assert parse_run("hvp-random-fixed").probes == "fixed" and parse_run("efh").probes is None
    with pytest.raises(InputError, match="not a run name"):
        parse_run("hvp-random")
    with pytest.raises(InputError, match="seed 7"):
        write_tables(fixture_runs / "evaluation", fixture_runs / "training", RUNS, [7], fixture_runs / "t")


def test_kabsch_rmsd_ignores_rotation_and_translation():
    from ase.build import molecule

    from phl.results.ts_search import kabsch_rmsd

    a = molecule("CH3OH")
    b = a.copy()
    b.rotate(37, "x", center="COM")
    b.rotate(-71, "z")
    b.translate([1.0, -2.0, 0.5])
    assert kabsch_rmsd(b, a) < 1e-8
    c = a.copy()
    c.positions[0] += [0.3, 0.0, 0.0]
    assert 0.01 < kabsch_rmsd(c, a) < 0.3 / np.sqrt(len(a))


def test_ts_search_table(tmp_path):
    from phl.results.ts_search import ts_search_table

    for seed, errs in ((0, [1.0, -3.0]), (1, [2.0, 2.0])):
        d = tmp_path / "ef"
        d.mkdir(exist_ok=True)
        pd.DataFrame(
            {
                "reaction": ["a", "b"],
                "converged": [True, True],
                "n_imaginary": [1, 2],
                "success": [True, seed == 1],
                "rmsd": [0.1, 0.3],
                "barrier_error": errs,
                "note": ["", ""],
            }
        ).to_csv(d / f"seed{seed}.csv", index=False)
    table = ts_search_table(tmp_path, ["ef"], [0, 1]).iloc[0]
    assert table["success_rate_mean"] == pytest.approx(0.75)
    assert table["barrier_mae_mean"] == pytest.approx((2.0 + 2.0) / 2)
    assert table["rmsd_mean"] == pytest.approx(0.2)


def test_paper_comparison_table(fixture_runs):
    from phl.results.paper import paper_results

    write_tables(fixture_runs / "evaluation", fixture_runs / "training", RUNS, [0, 1], fixture_runs / "tables")
    table = pd.read_csv(fixture_runs / "tables" / "paper_comparison.csv")
    paper = paper_results()
    t2 = table[(table.what.str.startswith("Table 2: mean")) & (table.property == "hessian") & (table.group == "NMS")]
    assert t2.iloc[0]["paper"] == paper["ttests"]["fixed"]["hessian"]["NMS"][0]
    ours = pd.read_csv(fixture_runs / "tables" / "ttests.csv")
    ours = ours[(ours.probes == "fixed") & (ours.property == "hessian") & (ours.group == "NMS")].iloc[0]
    assert t2.iloc[0]["this_run"] == pytest.approx(ours["mean_difference"])
    ratio = table[table.what.str.startswith("seconds per epoch") & (table.run == "efh")].iloc[0]
    assert ratio["paper"] == pytest.approx(326.5 / 4.0) and ratio["this_run"] == pytest.approx(1.0)
    assert len(table) == 2 * 9 * 2 + 23 + 3  # every published number has a row
    note = (fixture_runs / "tables" / "paper_comparison.md").read_text()
    assert "2 seed(s) per method" in note and "arXiv:2603.04523" in note
    t1 = (fixture_runs / "tables" / "table1_randomized.md").read_text()
    assert "| property | Test | IRC | NMS |" in t1


def _tables(folder, n_structures, hessian, seconds):
    """A tables folder with what `phl compare` reads: accuracy, curvature_ttests, timings."""
    folder.mkdir()
    runs = ["ef", "hvp-random-randomized"]
    acc = [
        {
            "run": run,
            "group": group,
            "n_seeds": 5,
            "n_structures": n_structures[group],
            "energy_rmse_mean": 20.0,
            "forces_rmse_mean": 10.0,
            "hessian_rmse_mean": hessian[run],
        }
        for run in runs
        for group in ("RTP", "IRC")
    ]
    pd.DataFrame(acc).to_csv(folder / "accuracy.csv", index=False)
    change = 100 * (hessian["hvp-random-randomized"] / hessian["ef"] - 1)
    tests = [
        {
            "run": runs[1],
            "versus": "ef",
            "property": "hessian",
            "group": g,
            "n": 5,
            "change_percent": change,
            "p_value": 0.01,
        }
        for g in ("Test", "IRC")
    ]
    pd.DataFrame(tests).to_csv(folder / "curvature_ttests.csv", index=False)
    timing = [{"run": r, "sec_per_epoch_mean": s, "ratio_to_ef": s / seconds[0]} for r, s in zip(runs, seconds)]
    pd.DataFrame(timing).to_csv(folder / "timings.csv", index=False)
    return folder


def test_compare_puts_models_side_by_side_and_names_different_structures(tmp_path, capsys):
    ani = _tables(tmp_path / "ani", {"RTP": 22, "IRC": 568}, {"ef": 200.0, "hvp-random-randomized": 50.0}, [0.4, 0.8])
    mace = _tables(tmp_path / "mace", {"RTP": 22, "IRC": 560}, {"ef": 100.0, "hvp-random-randomized": 60.0}, [1, 3])
    out = tmp_path / "compare.md"
    assert main(["compare", f"ANI={ani}", f"MACE={mace}", "--out", str(out)]) == 0
    assert "warning: IRC: the models were evaluated on different numbers of structures (ANI 568, MACE 560)" in (
        capsys.readouterr().out
    )
    rows = pd.read_csv(out.with_suffix(".csv"))
    mace_hvp = rows[(rows["model"] == "MACE") & (rows["run"] == "hvp-random-randomized") & (rows["group"] == "RTP")]
    assert mace_hvp["hessian_change_vs_ef_pct"].item() == pytest.approx(-40.0)
    assert mace_hvp["epoch_ratio_to_ef"].item() == pytest.approx(3.0) and mace_hvp["hessian_n"].item() == 5
    assert "Warning: IRC" in out.read_text()
    for args, message in [
        ([f"ANI={ani}"], "at least two"),
        ([f"ANI={ani}", f"X={tmp_path}"], "no accuracy.csv"),
        ([str(ani), f"X={mace}"], "LABEL=TABLES_FOLDER"),
    ]:
        assert main(["compare", *args, "--out", str(tmp_path / "bad.md")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad.md").exists()
    # the CSV beside the page would replace an input table: refused before anything is written
    before = (ani / "accuracy.csv").read_text()
    assert main(["compare", f"ANI={ani}", f"MACE={mace}", "--out", str(ani / "accuracy.md")]) == 2
    assert "would overwrite it" in capsys.readouterr().err
    assert (ani / "accuracy.csv").read_text() == before and not (ani / "accuracy.md").exists()
