"""The findings page: every number it quotes equals the same number computed independently here
from the synthetic evaluations and logs (changes, paired t-test p-values, cost ratios); wording
follows the statistics; a run stopped at the cap while still improving is flagged; missing tables
are named, never invented; the geometry yields per class."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from phl.results.findings import Inputs, end_of_run, findings, headline, verdict, write_findings
from phl.results.tables import write_tables
from phl.results.training_status import run_status, trend_pct, trend_window

SEEDS = [0, 1, 2]
#: per run, the held-out Hessian RMSE of each seed's model (every structure has exactly this error)
HESSIAN = {
    "ef": [10.0, 11.0, 12.0],
    "hvp-random-randomized": [4.0, 4.5, 5.2],  # far below E-F: significant
    "hvp-onehot-randomized": [4.1, 4.3, 5.6],  # one-hot − Hutchinson +0.1, −0.2, +0.4: not significant
    "efh": [3.9, 4.6, 5.0],
}
SECONDS = {"ef": [1.0, 1.1, 0.9], "hvp-random-randomized": [2.0, 2.2, 2.4], "hvp-onehot-randomized": [2.1, 2.0, 2.2]}
SECONDS["efh"] = [20.0, 21.0, 22.0]
CATEGORIES = [("reactant", "test"), ("ts", "test"), ("irc", "heldout"), ("nms", "heldout")]


def _evaluation(hessian_rmse: float, seed: int) -> pd.DataFrame:
    rows = []
    for i, (cat, part) in enumerate(CATEGORIES * 2):
        rows.append(
            {
                "index": i,
                "category": cat,
                "reaction": f"r{i % 2}",
                "part": part,
                "n_atoms": 3,
                "energy_err": 1.0 + 0.1 * seed + 0.01 * i,
                "forces_sse": 9.0 * (2.0 + 0.1 * seed) ** 2,
                "forces_sae": 9.0,
                "forces_n": 9,
                "hessian_sse": 81.0 * hessian_rmse**2,
                "hessian_sae": 81.0,
                "hessian_n": 81,
                "freq_sae": 3.0,
                "freq_n": 3,
                "ts": cat == "ts",
                "ts_sign_ok": 1.0 if cat == "ts" else np.nan,
                "ts_mode_overlap": 0.9 if cat == "ts" else np.nan,
                "level_of_theory": "GFN2-xTB",
            }
        )
    return pd.DataFrame(rows)


def _training(folder, run: str, seed: int) -> None:
    folder.mkdir(parents=True)
    epochs = 20
    falling = np.linspace(30.0, 10.0, epochs)  # still falling at the end
    flat = np.r_[np.linspace(30.0, 10.0, 10), np.full(10, 10.0)]  # plateau over the second half
    val = falling if run == "efh" else flat
    lr = [1e-3] * epochs if run == "efh" else [1e-3] * 10 + [5e-4] * 5 + [2.5e-4] * 5
    pd.DataFrame(
        {
            "epoch": range(1, epochs + 1),
            "lr": lr,
            "val_energy_rmse": val,
            "val_forces_rmse": val,
            "val_hessian_rmse": val * 3,
            "seconds": SECONDS[run][seed],
            "peak_mem_mb": 200.0 if run == "efh" else 100.0,
        }
    ).to_csv(folder / "log.csv", index=False)
    final = {
        "epochs": epochs,
        "best_epoch": epochs if run == "efh" else 10,
        "stopped_by": "max_epochs" if run == "efh" else "min_lr",
        "config": {"max_epochs": epochs},
        "level_of_theory": "GFN2-xTB",
        "data": {"n_structures": 40, "split": "paper", "n_train": 30, "n_val": 4},
    }
    (folder / "final.json").write_text(json.dumps(final))


@pytest.fixture
def run_dir(tmp_path):
    for run, values in HESSIAN.items():
        for seed in SEEDS:
            (tmp_path / "evaluation" / run).mkdir(parents=True, exist_ok=True)
            _evaluation(values[seed], seed).to_csv(tmp_path / "evaluation" / run / f"seed{seed}.csv", index=False)
            _training(tmp_path / "training" / run / f"seed{seed}", run, seed)
    geometry = pd.DataFrame(
        {
            "reaction": ["a", "b", "c", "d", "e"],
            "status": ["ok", "ok", "failed", "failed", "ok"],
            "failed_step": ["", "", "irc", "ts", ""],
            "reason": ["", "", "ends", "modes", ""],
            "n_RTP": [3, 3, 0, 0, 3],
            "n_IRC": [4, 4, 0, 0, 0],
            "n_NMS": [5, 0, 0, 0, 0],
            "seconds": [1.0] * 5,
            "class": ["keto-enol", "keto-enol", "[3,3] shift", "[3,3] shift", "keto-enol"],
        }
    )
    geometry.to_csv(tmp_path / "summary.csv", index=False)
    return tmp_path


def _write(run_dir, runs=tuple(HESSIAN), seeds=SEEDS, geometry=True):
    tables = run_dir / "tables"
    write_tables(run_dir / "evaluation", run_dir / "training", list(runs), list(seeds), tables)
    summary = run_dir / "summary.csv" if geometry else None
    found = write_findings(tables, tables, summary, landing=run_dir / "landing.rst")
    return found, pd.read_csv(tables / "findings.csv")


def _row(table, **where):
    sel = table
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, where
    return sel.iloc[0]


def test_findings_equal_numbers_computed_independently(run_dir):
    found, table = _write(run_dir)
    ef, hvp = np.array(HESSIAN["ef"]), np.array(HESSIAN["hvp-random-randomized"])
    row = _row(table, section="vs E-F", subject="hvp-random-randomized", group="NMS", property="hessian")
    assert row["value"] == pytest.approx(100 * (hvp.mean() - ef.mean()) / ef.mean())
    assert row["p_value"] == pytest.approx(stats.ttest_rel(hvp, ef).pvalue)
    assert row["n"] == 3 and row["paper"] == -77  # the paper's §4.2.1 number beside it
    onehot = np.array(HESSIAN["hvp-onehot-randomized"])
    probes = _row(
        table, section="one-hot vs Hutchinson", subject="hvp-onehot-randomized", group="IRC", property="hessian"
    )
    assert probes["value"] == pytest.approx(np.mean(onehot - hvp))
    assert probes["p_value"] == pytest.approx(stats.ttest_rel(onehot, hvp).pvalue)
    efh = np.array(HESSIAN["efh"])
    vs_efh = _row(table, section="vs E-F-H", subject="hvp-random-randomized", group="Test", property="hessian")
    assert vs_efh["value"] == pytest.approx(100 * (hvp.mean() - efh.mean()) / efh.mean())
    assert vs_efh["p_value"] == pytest.approx(stats.ttest_rel(hvp, efh).pvalue)
    cost = _row(table, section="cost", subject="efh", quantity="seconds per epoch / E-F")
    assert cost["value"] == pytest.approx(np.mean(SECONDS["efh"]) / np.mean(SECONDS["ef"]))
    assert cost["paper"] == pytest.approx(326.5 / 4.0)
    memory = _row(table, section="cost", subject="efh", quantity="peak memory / E-F")
    assert memory["value"] == pytest.approx(2.0)
    page = (run_dir / "tables" / "findings.md").read_text()
    p = stats.ttest_rel(hvp, ef).pvalue
    expected = f"NMS {verdict('−' + format(abs(row['value']), '.0f') + ' %', -1, p, 3)}"
    assert expected in page and "lower (p = " in expected
    # the data, from the geometry summary and the tables
    assert _row(table, section="data", subject="reactions", quantity="kept by the geometry stage")["value"] == 3
    assert _row(table, section="data", subject="reactions", quantity="lost at irc")["value"] == 1
    assert _row(table, section="data", subject="keto-enol", quantity="reactions kept")["value"] == 3
    assert _row(table, section="data", subject="[3,3] shift", quantity="reactions kept")["value"] == 0
    assert "Kept per class: [3,3] shift 0/2, keto-enol 3/3." in page
    assert "Structures generated: RTP 9, IRC 8, NMS 5." in page
    assert "Trained on 30 structures, validated on 4." in page
    assert "Level of theory of the reference data: GFN2-xTB." in page
    # the reference is not the paper's: the caveat applies; 3 models a run: the t-test caveat too
    assert "not the paper's wB97X-D/6-31G(d)" in page and "|t| > 4.3" in page
    assert not found.missing[:-1] and "ts_search" in found.missing[0]


def test_non_significant_differences_are_worded_as_such(run_dir):
    _, table = _write(run_dir)
    page = (run_dir / "tables" / "findings.md").read_text()
    probes = _row(
        table, section="one-hot vs Hutchinson", subject="hvp-onehot-randomized", group="NMS", property="hessian"
    )
    assert probes["p_value"] >= 0.05
    line = next(ln for ln in page.splitlines() if ln.startswith("- **Randomized probes**, Hessian"))
    assert line.count("no significant difference") == 3 and "lower" not in line and "better" not in line
    assert verdict("+3 %", 3, 0.31, 3) == "no significant difference (+3 %, p = 0.310, n = 3)"
    assert verdict("−3 %", -3, 0.0499, 5) == "−3 %, lower (p = 0.050, n = 5)"
    assert verdict("−3 %", -3, np.nan, 1) == "−3 % (not tested, n = 1)"


def test_a_run_capped_while_still_improving_is_flagged(run_dir):
    _, table = _write(run_dir)
    status = pd.read_csv(run_dir / "tables" / "training_status.csv")
    efh, ef = status[status.run == "efh"], status[status.run == "ef"]
    assert efh["still_improving"].all() and (efh["stopped_by"] == "max_epochs").all()
    assert not ef["still_improving"].any() and (ef["lr_reductions"] == 2).all()
    before = 30.0 - 15 * 20 / 19  # epoch 16 of linspace(30, 10, 20): the best before the last 4 epochs
    assert efh["trend_epochs"].iloc[0] == 4
    assert efh["forces_trend_pct"].iloc[0] == pytest.approx(100 * (10.0 - before) / before)
    flagged = table[table["note"].fillna("").str.contains("still improving")]
    assert set(flagged["subject"]) == {"efh", "hvp-random-randomized", "hvp-onehot-randomized"}  # efh or vs efh
    assert set(flagged[flagged.subject != "efh"]["versus"]) == {"efh"}
    page = (run_dir / "tables" / "findings.md").read_text()
    assert "E-F-H still improving at its 20-epoch cap (3 of 3)" in page
    assert "E-F: 3 of 3 trained to the learning-rate floor" in page
    stopped = page.split("## How each run stopped")[1]
    line = next(ln for ln in stopped.splitlines() if ln.startswith("- E-F-H: "))
    assert "3 of 3 stopped at the 20-epoch cap (3 with the learning rate never reduced)" in line
    assert "**3 still improving**" in line


def test_missing_tables_are_named_and_nothing_is_invented(run_dir):
    runs = ["hvp-random-randomized", "hvp-onehot-randomized"]  # no E-F, no E-F-H, one seed
    found, table = _write(run_dir, runs=runs, seeds=[0], geometry=False)
    assert "no E-F run to compare against" in found.missing and "no E-F-H run to compare against" in found.missing
    assert any("ts_search" in m for m in found.missing) and any("geometry summary" in m for m in found.missing)
    assert not len(table[table.section.str.startswith("vs ")])  # no change against a run that is not there
    probes = table[table.section == "one-hot vs Hutchinson"]
    assert len(probes) == 9 and probes["p_value"].isna().all() and (probes["n"] == 1).all()
    page = (run_dir / "tables" / "findings.md").read_text()
    assert "(not tested, n = 1)" in page and "p = " not in page.split("## One-hot")[1].split("(the paper")[0]
    assert "Not reported: no E-F run to compare against." in page
    assert headline(table) == []


def test_training_status_trend():
    assert [trend_window(n) for n in (1, 4, 5, 12, 50, 5000)] == [1, 1, 1, 2, 10, 10]
    values = pd.Series([10.0, 9.0, 8.0, 7.9, 7.95])
    assert trend_pct(values, 1) == pytest.approx(100 * (7.95 - 7.9) / 7.9)
    assert trend_pct(values, 2) == pytest.approx(100 * (7.9 - 8.0) / 8.0)
    assert np.isnan(trend_pct(pd.Series([1.0]), 1)) and np.isnan(trend_pct(pd.Series([np.nan] * 5), 1))
    log = pd.DataFrame({"lr": [1.0, 1.0, 0.5], "val_energy_rmse": [3.0, 2.0, 1.0], "val_forces_rmse": [1.0] * 3})
    capped = run_status({"epochs": 3, "stopped_by": "max_epochs", "config": {"max_epochs": 3}}, log)
    assert capped["still_improving"] and capped["lr_reductions"] == 1 and np.isnan(capped["hessian_trend_pct"])
    assert not run_status({"epochs": 3, "stopped_by": "min_lr"}, log)["still_improving"]


def test_landing_page_and_end_of_run(run_dir):
    from docutils.core import publish_parts

    _write(run_dir)
    text = (run_dir / "landing.rst").read_text()
    assert text.startswith("{% raw %}") and text.rstrip().endswith("{% endraw %}")
    body = text.replace("{% raw %}", "").replace("{% endraw %}", "")
    html = publish_parts(body, writer="html", settings_overrides={"halt_level": 2})["html_body"]
    assert '<h1 class="title">Findings</h1>' in html and "This run" in html and "Caveats" in html
    assert end_of_run(run_dir / "results") == ""  # no findings there: nothing to say
    message = end_of_run(run_dir)  # run_dir/tables/findings.csv
    assert "findings.md" in message and "Hessian RMSE vs E-F, E-F-HVP Hutchinson (randomized): RTP test −" in message


def test_inputs_read_refuses_a_missing_folder(tmp_path):
    from phl.errors import InputError

    with pytest.raises(InputError, match="no such folder"):
        Inputs.read(tmp_path / "nothing")
    (tmp_path / "t").mkdir()
    f = findings(Inputs.read(tmp_path / "t"))
    assert f.table().empty and len(f.missing) == 6 + 1


def test_reaction_summary_counts_kept_reactions_per_class(tmp_path, capsys):
    from phl.cli import main

    block = tmp_path / "0.csv"
    block.write_text(
        "reaction,status,failed_step,reason,n_RTP,n_IRC,n_NMS,seconds\n"
        "a,ok,,,3,2,0,1.0\nb,failed,irc,ends are the reactant,0,0,0,1.0\nc,ok,,,3,0,0,1.0\n"
    )
    classes = tmp_path / "list.csv"
    classes.write_text('id,smiles,class\na,X,keto-enol\nb,Y,"Claisen/Cope [3,3]"\nc,Z,keto-enol\n')
    out = tmp_path / "summary.csv"
    assert main(["reaction", "summary", str(block), "--classes", str(classes), "--out", str(out)]) == 0
    assert list(pd.read_csv(out)["class"]) == ["keto-enol", "Claisen/Cope [3,3]", "keto-enol"]
    assert "kept per class: Claisen/Cope [3,3] 0/1, keto-enol 2/2" in capsys.readouterr().out
    classes.write_text("id,class\na,keto-enol\n")
    assert main(["reaction", "summary", str(block), "--classes", str(classes), "--out", str(out)]) == 2
    assert "no class for reaction b (2 reactions without one)" in capsys.readouterr().err
    classes.write_text("id,class\na,x\na,y\n")
    assert main(["reaction", "summary", str(block), "--classes", str(classes), "--out", str(out)]) == 2
    assert "reaction id a appears more than once" in capsys.readouterr().err
    assert main(["reaction", "summary", str(block), "--classes", str(block), "--out", str(block)]) == 2
