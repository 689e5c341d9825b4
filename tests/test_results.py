"""Metrics, paired t-tests, tables and figures, from a small fixture of trained-model outputs."""

import numpy as np
import pandas as pd
import pytest

from phl.errors import InputError
from phl.registry import parse_run
from phl.results.evaluate import metrics, per_structure_error
from phl.results.tables import accuracy_table, change_vs_ef, paired_errors, ttest_table, write_tables

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
                    "seconds": [1.0, 1.2, 1.1],
                    "peak_mem_mb": [100.0, 100.0, 101.0],
                }
            ).to_csv(t / "log.csv", index=False)
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
    assert m["forces_rmse"] == pytest.approx(1.0)  # sqrt(8 / 8)
    assert m["forces_mae"] == pytest.approx(0.75)
    assert m["hessian_rmse"] == pytest.approx(1.0) and m["hessian_mae"] == pytest.approx(0.5)
    assert m["freq_mae"] == pytest.approx(2.0)
    assert m["n_ts"] == 1 and m["ts_sign_rate"] == 1.0 and m["ts_mode_overlap"] == 0.5
    assert list(per_structure_error(rows, "forces")) == pytest.approx([np.sqrt(2 / 3), np.sqrt(6 / 5)])


def test_paired_ttest_matches_the_textbook_formula(fixture_runs):
    from phl.results.tables import load_evaluations

    rows = load_evaluations(fixture_runs / "evaluation", RUNS, [0, 1])
    table = ttest_table(rows)
    assert set(table["probes"]) == {"randomized", "fixed"}
    assert len(table) == 2 * 3 * 3
    row = table[(table.probes == "fixed") & (table.group == "NMS") & (table.property == "forces")].iloc[0]
    a, b = paired_errors(rows, "hvp-onehot-fixed", "hvp-random-fixed", "NMS", "forces")
    d = a - b
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    assert row["t"] == pytest.approx(t)
    from scipy.stats import t as student

    assert row["p"] == pytest.approx(2 * student.sf(abs(t), len(d) - 1))
    assert row["n_structures"] == 4  # NMS structures of the fixture


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
