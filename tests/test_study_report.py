"""The recovery-study report: report.md tables, figures, and a report.tex that
pdflatex compiles (when pdflatex is installed)."""

import re
import shutil
import subprocess

import pytest

from kandiscover.study.report import latex_escape, recovery_table, write_report
from kandiscover.study.results import ResultStore

DEFINITION = {"budget": 60, "methods": ["kan", "operon", "pysr"], "noise": [0.0, 0.01],
              "seeds": [1], "n_samples": 1000}
PNG = b"\x89PNG\r\n\x1a\n"


def task(dataset, method, noise, status="ok", sym=False, acc=False, **kw):
    rec = dict(dataset=dataset, method=method, noise=noise, seed=1, status=status, error="",
               seconds=3.5, wall_seconds=4.0, expression="", latex="", complexity=0,
               train_r2=float("nan"), test_r2=float("nan"), symbolic_solution=sym,
               accuracy_solution=acc, truth="m_0*v**2/2", variables=["m_0", "v"],
               pareto=[], raw={})
    rec.update(kw)
    return rec


def records():
    ok = dict(expression="0.5*m_0*v**2", latex=r"0.5 m_{0} v^{2}", complexity=6,
              train_r2=1.0, test_r2=0.99999, pareto=[[1, 2.0, "v"], [3, 0.5, "v**2"],
                                                     [6, 1e-9, "0.5*m_0*v**2"]])
    theta = dict(truth="sin(theta_1)*x_a", variables=["theta_1", "x_a"])
    return {
        "kan-I.12.1-0": task("I.12.1", "kan", 0.0, sym=True, acc=True, **ok),
        "operon-I.12.1-0": task("I.12.1", "operon", 0.0, sym=False, acc=True,
                                **dict(ok, expression="0.49*m_0*v**2 + 0.001",
                                       latex=r"0.49 m_{0} v^{2} + 0.001", complexity=8)),
        "kan-I.6.2a_th-0": task("I.6.2a_th", "kan", 0.0, sym=True, acc=True, **theta,
                                expression="x_a*sin(theta_1)",
                                latex=r"x_{a} \sin{\left(\theta_{1} \right)}", complexity=4,
                                test_r2=1.0, pareto=[[1, 0.3, "x_a"], [4, 0.0, "x"]]),
        "operon-I.6.2a_th-0": task("I.6.2a_th", "operon", 0.0, status="timeout",
                                   error="no result within 60 s (budget 60 s) & 100% used",
                                   seconds=90.0, **theta),
        "kan-I.12.1-0.01": task("I.12.1", "kan", 0.01, sym=False, acc=True,
                                **dict(ok, latex="x" * 400, complexity=40)),
        "operon-I.12.1-0.01": task("I.12.1", "operon", 0.01, status="failed",
                                   error="ValueError: bad_input #3 in {x}\nline two",
                                   seconds=0.2),
        "pysr-I.12.1-0": task("I.12.1", "pysr", 0.0, status="unavailable",
                              error="Julia runtime could not start: PYTHON_JULIAPKG_OFFLINE=1",
                              seconds=0.0),
        "pysr-I.12.1-0.01": task("I.12.1", "pysr", 0.01, status="unavailable",
                                 error="Julia runtime could not start: PYTHON_JULIAPKG_OFFLINE=1",
                                 seconds=0.0),
    }


@pytest.fixture
def report(tmp_path):
    store = ResultStore(tmp_path / "study" / "results.h5", "feynman", DEFINITION)
    for key, rec in records().items():
        store.add(key, rec)
    out = tmp_path / "report"
    return store, out, write_report(store, out)


def md_row(md, *cells):
    start = "| " + " | ".join(cells) + " |"
    rows = [line for line in md.splitlines() if line.startswith(start)]
    assert len(rows) == 1, (start, rows)
    return [c.strip() for c in rows[0].strip("|").split("|")]


def test_recovery_counts():
    tab = recovery_table(list(records().values()))
    assert tab[("kan", 0.0)] == {"n": 2, "n_checked": 2, "symbolic": 2, "accuracy": 2,
                                 "failed": 0, "unavailable": 0, "reason": ""}
    assert tab[("operon", 0.0)]["n"] == 2 and tab[("operon", 0.0)]["symbolic"] == 0
    assert tab[("operon", 0.0)]["accuracy"] == 1 and tab[("operon", 0.0)]["failed"] == 1
    assert tab[("pysr", 0.0)]["n"] == 0 and "Julia" in tab[("pysr", 0.0)]["reason"]


def test_tasks_without_a_true_formula_are_not_counted_as_missed():
    runs = [dict(r) for r in records().values() if r["method"] == "kan"]
    blank = runs[0]["dataset"]
    for r in runs:
        if r["dataset"] == blank:     # e.g. a CSV without a formula
            r["truth"] = ""
            r["symbolic_solution"] = False
    tab = recovery_table(runs)
    c = tab[(runs[0]["method"], float(runs[0]["noise"]))]
    same = [r for r in runs if float(r["noise"]) == float(runs[0]["noise"])]
    assert c["n_checked"] == c["n"] - sum(r["dataset"] == blank for r in same) < c["n"]
    assert c["symbolic"] == sum(r["symbolic_solution"] for r in same)


def test_markdown_tables(report):
    store, out, written = report
    md = (out / "report.md").read_text()
    assert md.startswith("# feynman study")
    assert "**time per task budget (s)**: 60" in md or "**time budget per task (s)**: 60" in md
    assert "**methods**: kan, operon, pysr" in md and "**sample size**: 1000" in md
    assert "**noise levels**: 0.0, 0.01" in md
    # rates: percent with the counted tasks
    assert md_row(md, "kan", "0")[2:4] == ["100.0 % (2/2)", "100.0 % (2/2)"]
    assert md_row(md, "operon", "0")[2:5] == ["0.0 % (0/2)", "50.0 % (1/2)",
                                             "1 failed/timeout"]
    assert md_row(md, "kan", "0.01")[2:4] == ["0.0 % (0/1)", "100.0 % (1/1)"]
    assert md_row(md, "operon", "0.01")[2:4] == ["0.0 % (0/1)", "0.0 % (0/1)"]
    pysr = md_row(md, "pysr", "0")
    assert pysr[2:4] == ["–", "–"] and pysr[4].startswith("unavailable: Julia runtime")
    assert "0.0 % (0/0)" not in md
    # per-equation table: one row per task, the truth on the first row of a group
    per_eq = md.split("## Per-equation results")[1].split("## Failed")[0]
    rows = [line for line in per_eq.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 8
    kan_theta = md_row(per_eq, "I.6.2a_th", "0", "1", "`sin(theta_1)*x_a`", "kan")
    assert kan_theta[5:] == ["`x_a*sin(theta_1)`", "1.000000", "4", "3.5", "yes", "yes"]
    assert "|  |  |  |  | operon | – | – | – | 90.0 | timeout | timeout |" in per_eq
    assert "|  |  |  |  | operon | – | – | – | 0.2 | failed | failed |" in per_eq
    assert "|  |  |  |  | pysr | – | – | – | – | n/a | n/a |" in per_eq
    # the errors are listed at the end, on one line each
    tail = md.split("## Failed and timed-out tasks")[1]
    assert "timeout after 90.0 s: no result within 60 s" in tail
    assert "failed after 0.2 s: ValueError: bad_input #3 in {x} line two" in tail
    # figures embedded with relative links
    for name in ("recovery.png", "time.png", "pareto.png"):
        assert f"]({name})" in md


def test_figures_are_pngs(report):
    store, out, written = report
    assert set(written) == {"report.md", "report.tex", "recovery.png", "time.png",
                            "pareto.png"}
    for name, path in written.items():
        assert path.parent == out and path.is_file() and path.name == name
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == PNG and path.stat().st_size > 2000
    assert sorted(p.name for p in out.iterdir()) == sorted(written)  # no temporary files


def test_tex_is_balanced_and_escaped(report):
    store, out, written = report
    tex = (out / "report.tex").read_text()
    assert tex.isascii()
    begins = re.findall(r"\\begin\{(\w+)\}", tex)
    ends = re.findall(r"\\end\{(\w+)\}", tex)
    assert sorted(begins) == sorted(ends) and begins[0] == "document"
    assert "booktabs" not in tex and tex.count(r"\begin{longtable}") == 2
    assert r"I.6.2a\_th" in tex and r"\theta_{1}" in tex  # truth via the project's LaTeX
    assert r"$x_{a} \sin{\left(\theta_{1} \right)}$" in tex
    assert r"(long formula, 400 characters)" in tex and "x" * 301 not in tex
    assert r"bad\_input \#3 in \{x\}" in tex and r"\& 100\% used" in tex
    assert "100.0 \\% (2/2)" in tex


def test_latex_escape():
    assert latex_escape("a_b 5% #1 & {c} ~ ^ \\") == (
        r"a\_b 5\% \#1 \& \{c\} \textasciitilde{} \textasciicircum{} \textbackslash{}")
    assert latex_escape("θ – é").isascii()


def test_empty_store(tmp_path):
    store = ResultStore(tmp_path / "results.h5", "feynman", DEFINITION)
    written = write_report(store, tmp_path / "out")
    assert set(written) == {"report.md", "report.tex"}
    assert "tasks stored**: 0" in written["report.md"].read_text()


def test_tex_compiles_with_pdflatex(report):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: apt-get install texlive-latex-base)")
    store, out, written = report
    for _ in range(2):  # longtable needs two passes for its column widths
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                               "report.tex"], cwd=out, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stdout[-3000:]
    pdf = out / "report.pdf"
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"


def test_a_partial_study_says_so(tmp_path):
    store = ResultStore(tmp_path / "results.h5", "feynman", DEFINITION)
    recs = records()
    for key, attrs in recs.items():
        store.add(key, attrs)
    store.add("plan", {"keys": list(recs) + ["I.9.18__kan__noise0__seed0"]}, group="extra")
    write_report(store, tmp_path)
    md = (tmp_path / "report.md").read_text()
    bad = sum(a["status"] in ("failed", "timeout") for a in recs.values())
    assert bad >= 1
    assert (f"{len(recs)} of {len(recs) + 1} planned, {bad} of them failed or timed out"
            in md)
    assert "(PARTIAL" in md
    # every planned task stored: finished, not partial, even with failures
    store.add("plan", {"keys": list(recs)}, group="extra")
    write_report(store, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert f"{len(recs)} of {len(recs)} planned, {bad} of them failed" in md
    assert "PARTIAL" not in md


def test_failed_task_without_truth_still_counts_against_recovery(tmp_path):
    from kandiscover.study.report import recovery_table
    runs = [{"dataset": "a", "method": "m", "noise": 0.0, "status": "ok", "truth": "x",
             "symbolic_solution": True, "accuracy_solution": True},
            {"dataset": "b", "method": "m", "noise": 0.0, "status": "ok", "truth": "y",
             "symbolic_solution": True, "accuracy_solution": True},
            {"dataset": "b", "method": "k", "noise": 0.0, "status": "failed", "truth": "",
             "symbolic_solution": False, "accuracy_solution": False},
            {"dataset": "c", "method": "k", "noise": 0.0, "status": "ok", "truth": "",
             "symbolic_solution": False, "accuracy_solution": True}]
    t = recovery_table(runs)
    assert t[("k", 0.0)]["n"] == 2 and t[("k", 0.0)]["n_checked"] == 1
    assert t[("k", 0.0)]["symbolic"] == 0 and t[("k", 0.0)]["failed"] == 1
    assert t[("m", 0.0)]["n_checked"] == 2 and t[("m", 0.0)]["symbolic"] == 2


def test_results_store_open_remove_and_report_command(tmp_path):
    from kandiscover.cli import main
    from kandiscover.study.results import ResultStore

    store = ResultStore(tmp_path / "results.h5", "recovery", {"budget": 1.0})
    for k in ("a", "b", "c"):
        store.add(k, {"dataset": k, "method": "m", "noise": 0.0, "seed": 0, "status": "ok",
                      "truth": "x", "expression": "x", "symbolic_solution": True,
                      "accuracy_solution": True, "test_r2": 1.0, "seconds": 1.0})
    opened = ResultStore.open(tmp_path)
    assert opened.study == "recovery" and opened.definition == {"budget": 1.0}
    assert opened.remove(["b", "zz"]) == ["b"]
    assert ResultStore.open(tmp_path / "results.h5").keys() == ["a", "c"]
    assert main(["study", "report", str(tmp_path)]) == 0
    text = (tmp_path / "report.md").read_text()
    assert "100.0 % (2/2)" in text
    assert main(["study", "report", str(tmp_path / "nowhere")]) == 2
    other = ResultStore(tmp_path / "pend" / "results.h5", "pendulum", {})
    other.add("x", {"status": "ok"})
    assert main(["study", "report", str(tmp_path / "pend")]) == 2
    assert not (tmp_path / "pend" / "report.md").exists()
