"""report.md, report.tex and figures of a recovery study, from its results.h5 alone.

Each stored run is one task (dataset x method x noise x seed) with the
attributes written by the study runner: ``dataset, method, noise, seed,
status`` (``ok | failed | timeout | unavailable``), ``error, seconds,
expression, latex, complexity, train_r2, test_r2, symbolic_solution,
accuracy_solution, truth, variables, pareto`` (``[complexity, loss,
expression]`` rows) and ``raw``.

Rates follow SRBench: a task counts as recovered when its ``symbolic_solution``
(or ``accuracy_solution``) flag is set; failed and timed-out tasks count as not
recovered; tasks of an ``unavailable`` method are not counted at all, the
method is shown with its reason instead.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..data.store import atomic_path
from .results import ResultStore

__all__ = ["write_report", "recovery_table", "latex_escape"]

LONG_FORMULA = 300  # characters of LaTeX beyond which a formula is not typeset
_FAILED = ("failed", "timeout")
_DEF_LABELS = {"budget": "time budget per task (s)", "methods": "methods",
               "noise": "noise levels", "noise_levels": "noise levels", "seeds": "seeds",
               "n_samples": "sample size", "sample_size": "sample size",
               "samples": "sample size", "test_fraction": "test fraction"}


# ------------------------------------------------------------------ helpers
def _natkey(s: str) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t)
            for t in re.split(r"(\d+)", str(s)) if t]


def _f(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _noise(v: Any) -> str:
    return f"{_f(v):g}"


def _ok(run: dict) -> bool:
    return run.get("status") == "ok"


def _flag(run: dict, name: str) -> bool:
    return _ok(run) and bool(run.get(name, False))


def _methods(store: ResultStore, runs: list[dict]) -> list[str]:
    seen = list(dict.fromkeys(r["method"] for r in runs))
    given = store.definition.get("methods") if isinstance(store.definition, dict) else None
    order = [m for m in given if isinstance(m, str)] if isinstance(given, list) else []
    return [m for m in order if m in seen] + [m for m in seen if m not in order]


def _sorted(runs: Iterable[dict], methods: list[str]) -> list[dict]:
    rank = {m: i for i, m in enumerate(methods)}
    return sorted(runs, key=lambda r: (_natkey(r.get("dataset", "")), _f(r.get("noise")),
                                       int(r.get("seed", 0)), rank.get(r["method"], 99)))


def _r2(v: Any) -> str:
    v = _f(v)
    if not math.isfinite(v):
        return "–"
    if abs(v) >= 1e4:
        return f"{v:.3g}"
    return f"{v:.6f}" if v > 0.99 else f"{v:.3f}"


def _seconds(run: dict) -> float:
    """The method's search time, or the task's wall time when it did not finish."""
    s = _f(run.get("seconds"))
    return s if math.isfinite(s) else _f(run.get("wall_seconds"))


def _secs(run: dict) -> str:
    s = _seconds(run)
    if run.get("status") == "unavailable":
        return "–"
    return f"{s:.1f}" if math.isfinite(s) else "–"


def _rate(k: int, n: int) -> str:
    return f"{100.0 * k / n:.1f} % ({k}/{n})" if n else "– (0/0)"


def _oneline(text: Any, limit: int = 500) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[:limit] + " …"


def _reason(runs: list[dict]) -> str:
    reasons = Counter(_oneline(r.get("error"), 300) for r in runs)
    return "; ".join(r for r, _ in reasons.most_common(2) if r) or "no reason recorded"


def recovery_table(runs: list[dict]) -> dict[tuple[str, float], dict[str, Any]]:
    """(method, noise) -> counts: ``n`` tasks counted (ok, failed, timeout),
    ``symbolic``/``accuracy`` solutions, ``failed``, ``unavailable`` and the
    ``reason`` a method was unavailable."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["method"], _f(r.get("noise"))), []).append(r)
    # datasets with a known formula (a task that failed early stores no truth)
    known = {r.get("dataset") for r in runs if str(r.get("truth") or "")}
    out = {}
    for key, rs in groups.items():
        counted = [r for r in rs if r.get("status") != "unavailable"]
        unav = [r for r in rs if r.get("status") == "unavailable"]
        checked = [r for r in counted if r.get("dataset") in known]
        out[key] = {"n": len(counted), "n_checked": len(checked),
                    "symbolic": sum(_flag(r, "symbolic_solution") for r in checked),
                    "accuracy": sum(_flag(r, "accuracy_solution") for r in counted),
                    "failed": sum(r.get("status") in _FAILED for r in counted),
                    "unavailable": len(unav), "reason": _reason(unav) if unav else ""}
    return out


# ------------------------------------------------------------------ LaTeX text
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
        "|": r"\textbar{}"}


def latex_escape(text: Any) -> str:
    """Plain text for LaTeX: special characters escaped, non-ASCII transliterated
    (or replaced by ``?``) so that pdflatex never stops on an unknown character."""
    s = unicodedata.normalize("NFKD", str(text)).replace("–", "--").replace("…", "...")
    s = s.encode("ascii", "replace").decode()
    return "".join(_TEX.get(c, c) for c in s)


def _balanced(tex: str) -> bool:
    depth = 0
    i = 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            i += 2
            continue
        depth += (c == "{") - (c == "}")
        if depth < 0:
            return False
        i += 1
    return depth == 0


def _math(tex: Any, fallback: Any = "") -> str:
    """``$tex$`` if it is safe to typeset, else the fallback as escaped text."""
    tex = str(tex or "").strip()
    if len(tex) > LONG_FORMULA:
        return r"\textit{(long formula, %d characters)}" % len(tex)
    if (tex and tex.isascii() and _balanced(tex) and "$" not in tex
            and not re.search(r"(?<!\\)[%#]|\\\\|\\(begin|end|def|input|include)\b", tex)):
        return f"${tex}$"
    fb = str(fallback or tex)
    return r"\texttt{%s}" % latex_escape(fb[:LONG_FORMULA]) if fb else "--"


def _truth_latex(run: dict) -> str:
    truth = str(run.get("truth") or "")
    try:
        from ..symbolic.export import to_latex
        from ..symbolic.parse import parse_formula
        variables = run.get("variables") or None
        return to_latex(parse_formula(truth, list(variables) if variables else None))
    except Exception:  # an unparsable truth is shown as text, never breaks the report
        return ""


# ------------------------------------------------------------------ figures
def _save(fig, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def _recovery_figure(table: dict, methods: list[str], noises: list[float], path: Path) -> None:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(max(6.0, 1.6 * len(methods) * max(1, len(noises)) + 2), 4),
                 layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / max(1, len(noises))
    for ax, what, title in zip(axes, ("symbolic", "accuracy"),
                               ("symbolic solution", "accuracy solution (test R² > 0.999)")):
        for j, nz in enumerate(noises):
            xs, ys = [], []
            for i, m in enumerate(methods):
                c = table.get((m, nz))
                x = i - 0.4 + width * (j + 0.5)
                if c is None:
                    continue
                if c["n"] == 0:
                    ax.text(x, 2, "unavailable", rotation=90, ha="center", va="bottom",
                            fontsize=7, color="gray")
                    continue
                xs.append(x)
                n = c["n_checked"] if what == "symbolic" else c["n"]
                ys.append(100.0 * c[what] / n if n else 0.0)
            bars = ax.bar(xs, ys, width, label=f"noise {nz:g}")
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(range(len(methods)), methods)
        ax.set_xlim(-0.5, len(methods) - 0.5)
        ax.set_ylim(0, 108)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("tasks recovered (%)")
    axes[1].legend(fontsize=8)
    _save(fig, path)


def _time_figure(runs: list[dict], methods: list[str], path: Path) -> None:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(max(5.0, 1.5 * len(methods) + 2), 4), layout="constrained")
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for i, m in enumerate(methods):
        rs = [r for r in runs if r["method"] == m and r.get("status") != "unavailable"]
        ok = [s for s in (_seconds(r) for r in rs if _ok(r)) if math.isfinite(s)]
        bad = [s for s in (_seconds(r) for r in rs if not _ok(r)) if math.isfinite(s)]
        if ok:
            ax.boxplot([ok], positions=[i], widths=0.5, showfliers=False)
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(ok)), ok, s=10, alpha=0.6,
                       color="C0", label="ok" if i == 0 else None)
        if not rs:
            ax.text(i, 0.5, "unavailable", transform=ax.get_xaxis_transform(),
                    ha="center", color="gray")
        if bad:
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(bad)), bad, s=20, marker="x",
                       color="C3", label="failed / timeout")
    ax.set_xticks(range(len(methods)), methods)
    ax.set_xlim(-0.6, len(methods) - 0.4)
    ax.set_ylabel("seconds per task")
    ax.set_title("time per task")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(dict(zip(labels, handles)).values(), dict(zip(labels, handles)).keys(),
                  fontsize=8)
    _save(fig, path)


def _pareto_points(run: dict) -> list[tuple[float, float]]:
    pts = []
    for row in run.get("pareto") or []:
        try:
            c, loss = float(row[0]), float(row[1])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(c) and math.isfinite(loss):
            pts.append((c, loss))
    return sorted(pts)


def _pareto_figure(runs: list[dict], path: Path, n: int = 4) -> list[str] | None:
    by_ds: dict[str, list[dict]] = {}
    for r in runs:
        if _ok(r) and _pareto_points(r):
            by_ds.setdefault(r["dataset"], []).append(r)
    if not by_ds:
        return None
    chosen = sorted(by_ds, key=lambda d: (-sum(len(_pareto_points(r)) for r in by_ds[d]),
                                          _natkey(d)))[:n]
    from matplotlib.figure import Figure
    cols = min(2, len(chosen))
    rows = math.ceil(len(chosen) / cols)
    fig = Figure(figsize=(5.5 * cols, 3.8 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, ds in zip(axes, chosen):
        log = True
        for r in by_ds[ds]:
            pts = _pareto_points(r)
            cs, ls = zip(*pts)
            log = log and min(ls) > 0
            ax.step(cs, ls, where="post", marker="o", ms=3,
                    label=f"{r['method']}, noise {_noise(r.get('noise'))}, seed {r.get('seed')}")
        if log:
            ax.set_yscale("log")
        ax.set_title(ds)
        ax.set_xlabel("complexity")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(chosen):]:
        ax.set_visible(False)
    _save(fig, path)
    return chosen


# ------------------------------------------------------------------ documents
def _definition_items(store: ResultStore, runs: list[dict]) -> list[tuple[str, str]]:
    d = store.definition if isinstance(store.definition, dict) else {}
    items = [(_DEF_LABELS.get(k, k.replace("_", " ")),
              ", ".join(map(str, v)) if isinstance(v, list) else
              (json.dumps(v, sort_keys=True) if isinstance(v, dict) else str(v)))
             for k, v in d.items()]
    dims = [len({r.get(k) for r in runs}) for k in ("dataset", "method", "noise", "seed")]
    items.append(("tasks stored", f"{len(runs)} (over {dims[0]} datasets, {dims[1]} methods, "
                                  f"{dims[2]} noise levels, {dims[3]} seeds)"))
    if store.path.exists() and store.has("plan", group="extra"):
        planned = list(store.get("plan", group="extra").get("keys", []))
        status = {r.get("key"): r.get("status") for r in runs}
        missing = sum(k not in status for k in planned)
        bad = sum(status.get(k) in _FAILED for k in planned)
        items.append(("tasks finished", f"{len(planned) - missing} of {len(planned)} planned"
                      + (f", {bad} of them failed or timed out (counted as not recovered; "
                         "a rerun of the command retries them)" if bad else "")
                      + (" (PARTIAL: the rates below cover the finished tasks only)"
                         if missing else "")))
    if "seeds" not in d:
        items.append(("seeds", ", ".join(str(s) for s in sorted({r.get("seed") for r in runs}))))
    if "noise" not in d and "noise_levels" not in d:
        items.append(("noise levels", ", ".join(f"{n:g}" for n in
                                                sorted({_f(r.get("noise")) for r in runs}))))
    return items


def _status_cell(run: dict, flag: str) -> str:
    st = run.get("status")
    if st == "ok":
        return "yes" if run.get(flag) else "no"
    return "n/a" if st == "unavailable" else str(st)


def _recovery_rows(table, methods, noises):
    for m in methods:
        for nz in noises:
            c = table.get((m, nz))
            if c is None:
                continue
            if c["n"] == 0:
                yield m, nz, None, None, f"unavailable: {c['reason']}"
                continue
            note = f"{c['failed']} failed/timeout" if c["failed"] else ""
            if c["unavailable"]:
                note += ("; " if note else "") + (f"{c['unavailable']} unavailable: "
                                                  f"{c['reason']}")
            sym = (_rate(c["symbolic"], c["n_checked"]) if c["n_checked"]
                   else "n/a (no true formula)")
            yield (m, nz, sym, _rate(c["accuracy"], c["n"]), note)


def _markdown(title, items, rec_rows, runs, figures, pareto_ds) -> str:
    L = [f"# {title}", "", "## Study definition", ""]
    L += [f"- **{k}**: {v}" for k, v in items]
    L += ["", "## Recovery", "",
          "A task counts as recovered when the found expression is a *symbolic solution* "
          "(SRBench rule); *accuracy solution* means test R² > 0.999. Failed and timed-out "
          "tasks count as not recovered; unavailable methods are not counted.", "",
          "| method | noise | symbolic solution | accuracy solution | notes |",
          "|---|---|---|---|---|"]
    for m, nz, s, a, note in rec_rows:
        L.append(f"| {m} | {nz:g} | {s or '–'} | {a or '–'} | {_md(note)} |")
    if figures.get("recovery.png"):
        L += ["", "![recovery rate by method and noise](recovery.png)"]
    if figures.get("time.png"):
        L += ["", "## Time per task", "", "![time per task](time.png)"]
    if figures.get("pareto.png"):
        L += ["", "## Pareto fronts", "", f"Datasets: {', '.join(pareto_ds)}.", "",
              "![Pareto fronts (loss vs complexity)](pareto.png)"]
    L += ["", "## Per-equation results", "",
          "| dataset | noise | seed | truth | method | expression | test R² | complexity "
          "| seconds | recovered | R² > 0.999 |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    last = None
    for r in runs:
        group = (r.get("dataset"), _f(r.get("noise")), r.get("seed"))
        first = group != last
        last = group
        expr = _oneline(r.get("expression"), LONG_FORMULA) if _ok(r) else ""
        L.append("| " + " | ".join([
            _md(r.get("dataset")) if first else "", _noise(r.get("noise")) if first else "",
            str(r.get("seed")) if first else "",
            f"`{_md(_oneline(r.get('truth'), LONG_FORMULA))}`" if first else "",
            _md(r["method"]), f"`{_md(expr)}`" if expr else "–",
            _r2(r.get("test_r2")) if _ok(r) else "–",
            str(r.get("complexity")) if _ok(r) else "–",
            _secs(r),
            _status_cell(r, "symbolic_solution"), _status_cell(r, "accuracy_solution")]) + " |")
    bad = [r for r in runs if r.get("status") in _FAILED]
    if bad:
        L += ["", "## Failed and timed-out tasks", ""]
        for r in bad:
            L.append(f"- **{_md(r.get('dataset'))}** {r['method']}, noise "
                     f"{_noise(r.get('noise'))}, seed {r.get('seed')}: {r.get('status')} "
                     f"after {_secs(r)} s: {_md(_oneline(r.get('error')))}")
    return "\n".join(L) + "\n"


def _md(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("`", "'")


def _tex(title, items, rec_rows, runs, figures) -> str:
    e = latex_escape
    L = [r"\documentclass[10pt]{article}",
         r"\usepackage[a4paper,landscape,margin=1.5cm]{geometry}",
         r"\usepackage{amsmath}", r"\usepackage{amssymb}", r"\usepackage{array}", r"\usepackage{longtable}",
         r"\usepackage{graphicx}", r"\setlength{\LTcapwidth}{\linewidth}",
         r"\begin{document}", r"\section*{%s}" % e(title), r"\subsection*{Study definition}",
         r"\begin{itemize}"]
    L += [r"\item \textbf{%s}: %s" % (e(k), e(v)) for k, v in items]
    L += [r"\end{itemize}", r"\subsection*{Recovery}",
          r"Failed and timed-out tasks count as not recovered; unavailable methods are not "
          r"counted. Accuracy solution: test $R^2 > 0.999$.", "",
          r"\begin{longtable}{|l|r|r|r|p{10cm}|}", r"\hline",
          r"method & noise & symbolic solution & accuracy solution & notes \\ \hline",
          r"\endhead"]
    for m, nz, s, a, note in rec_rows:
        L.append(r"%s & %s & %s & %s & %s \\ \hline" % (e(m), e(f"{nz:g}"), e(s or "--"),
                                                        e(a or "--"), e(note)))
    L.append(r"\end{longtable}")
    for name, cap in (("recovery.png", "Recovery rate by method and noise level."),
                      ("time.png", "Time per task."),
                      ("pareto.png", "Pareto fronts (loss vs complexity).")):
        if figures.get(name):
            L += [r"\begin{figure}[htbp]\centering",
                  r"\includegraphics[width=0.8\linewidth,height=0.38\textheight,"
                  r"keepaspectratio]{%s}" % name, r"\caption{%s}" % cap, r"\end{figure}"]
    L += [r"\clearpage", r"\subsection*{Per-equation results}",
          r"\begin{longtable}{|l|l|>{\raggedright\arraybackslash}p{11cm}|r|r|r|l|l|}",
          r"\hline", r"method & status & expression & test $R^2$ & complexity & seconds & "
                     r"recovered & $R^2>0.999$ \\ \hline", r"\endhead"]
    last = None
    for r in runs:
        group = (r.get("dataset"), _f(r.get("noise")), r.get("seed"))
        if group != last:
            last = group
            truth = _math(_truth_latex(r), r.get("truth"))
            L.append(r"\multicolumn{8}{|>{\raggedright\arraybackslash}p{0.95\linewidth}|}"
                     r"{\textbf{%s}, noise %s, seed %s: %s} \\ \hline"
                     % (e(r.get("dataset")), e(_noise(r.get("noise"))), e(r.get("seed")), truth))
        ok = _ok(r)
        L.append(" & ".join([
            e(r["method"]), e(r.get("status")),
            _math(r.get("latex"), r.get("expression")) if ok else "--",
            e(_r2(r.get("test_r2"))) if ok else "--", e(r.get("complexity")) if ok else "--",
            _secs(r).replace("–", "--"),
            e(_status_cell(r, "symbolic_solution")),
            e(_status_cell(r, "accuracy_solution"))]) + r" \\ \hline")
    L.append(r"\end{longtable}")
    bad = [r for r in runs if r.get("status") in _FAILED]
    if bad:
        L += [r"\subsection*{Failed and timed-out tasks}", r"\begin{itemize}"]
        L += [r"\item \textbf{%s} %s, noise %s, seed %s: %s after %s s: %s"
              % (e(r.get("dataset")), e(r["method"]), e(_noise(r.get("noise"))),
                 e(r.get("seed")), e(r.get("status")), _secs(r).replace("–", "--"),
                 e(_oneline(r.get("error"), 300))) for r in bad]
        L.append(r"\end{itemize}")
    L.append(r"\end{document}")
    return "\n".join(L) + "\n"


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path, suffix=path.suffix) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_report(store: ResultStore, out: str | Path, title: str | None = None
                 ) -> dict[str, Path]:
    """Write report.md, report.tex and the figures of ``store`` into ``out``.

    Parameters
    ----------
    store : the study's results (one run per task, see the module docstring)
    out : the folder (created if missing); files are replaced atomically
    title : the heading; default ``"<study> study"``

    Returns
    -------
    file name -> path of every file written (``report.md``, ``report.tex``,
    ``recovery.png``, ``time.png`` and, when some task has a Pareto front,
    ``pareto.png``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    title = title or f"{store.study} study"
    methods = _methods(store, store.runs()) if store.keys() else []
    runs = _sorted(store.runs(), methods)
    noises = sorted({_f(r.get("noise")) for r in runs})
    table = recovery_table(runs)
    rec_rows = list(_recovery_rows(table, methods, noises))
    written: dict[str, Path] = {}
    if runs:
        _recovery_figure(table, methods, noises, out / "recovery.png")
        written["recovery.png"] = out / "recovery.png"
        _time_figure(runs, methods, out / "time.png")
        written["time.png"] = out / "time.png"
    pareto_ds = _pareto_figure(runs, out / "pareto.png")
    if pareto_ds:
        written["pareto.png"] = out / "pareto.png"
    items = _definition_items(store, runs)
    _write_text(out / "report.md", _markdown(title, items, rec_rows, runs, written,
                                             pareto_ds or []))
    written["report.md"] = out / "report.md"
    _write_text(out / "report.tex", _tex(title, items, rec_rows, runs, written))
    written["report.tex"] = out / "report.tex"
    return written
