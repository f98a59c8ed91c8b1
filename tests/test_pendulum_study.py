"""Hidden-state analysis, seqKAN rules, the results store and the pendulum study."""

import copy
import os
import shutil
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest
import sympy
import torch

from kandiscover import hidden_state_analysis
from kandiscover.data import pendulum
from kandiscover.data.dataset import SequenceDataset, TabularDataset, save_dataset
from kandiscover.study.executors import pooled, worker_shared
from kandiscover.errors import InputError, InputTypeError
from kandiscover.kan.seqkan import SeqKAN
from kandiscover.study import pendulum as study
from kandiscover.study.results import ResultStore, differences
from kandiscover.kan.train import torch_threads
from kandiscover.symbolic.seqrules import _bce, refine_rules, symbolify_seqkan


@pytest.fixture(scope="module")
def small():
    return pendulum.make_pendulum(seed=3, n_train=12, n_val=4, n_interp=4, n_extrap=4,
                                  duration=6.0)


@pytest.fixture(scope="module")
def trained(small):
    ds = pendulum.pendulum_view(small)
    w, v = ds.windows("train", 50, 5), ds.windows("val", 50, 5)
    m = SeqKAN(2, 2, 2, seed=0)
    with torch_threads(1):
        m.fit(w.inputs, w.labels, v.inputs, v.labels, epochs=2, batch_size=64)
    return m


# ------------------------------------------------------------------ windows
def test_windows_locate_their_last_step(small):
    w = pendulum.pendulum_view(small).windows("test_extrap", 50, 5)
    assert w.feature_names == ["theta", "omega"]
    assert w.label_names == list(pendulum.LABELS)
    np.testing.assert_array_equal(w.inputs[:, -1, 0], small["sequences/theta"][w.sequence,
                                                                                w.last_step])
    np.testing.assert_array_equal(w.hidden["L"][:, -1], small["hidden/L"][w.sequence,
                                                                         w.last_step])


def test_empty_split_is_refused(small):
    groups = dict(small.groups)
    groups["splits"] = dict(small.groups["splits"], test_extrap=np.zeros(0, dtype=np.int64))
    with pytest.raises(InputError, match="split 'test_extrap' is empty"):
        SequenceDataset(groups, small.attrs).windows("test_extrap")


def test_analytic_decisions_reproduce_the_labels(small):
    dec = pendulum.analytic_decisions(small)
    for lab in pendulum.LABELS:
        np.testing.assert_array_equal(dec[lab] > 0, small[f"labels/{lab}"])


# -------------------------------------------------------------------- rules
def test_rules_reproduce_the_symbolic_model(small, trained):
    ds = pendulum.pendulum_view(small)
    X = ds.windows("train", 50, 5).inputs
    rules = symbolify_seqkan(trained, X, input_names=["theta", "omega"],
                             output_names=list(pendulum.LABELS), digits=12)
    assert len(rules.update) == 2 and len(rules.output) == 2
    assert all(isinstance(e, sympy.Expr) for e in rules.update + rules.output)
    assert rules.r2["phi_h"] > 0.9 and rules.r2["phi_o"] > 0.9
    # first step: h_prev = 0; the rule in raw units equals the symbolic copy
    x = X[:50]
    h = rules.model.hidden_states(x).numpy()
    th, om = sympy.symbols("theta omega")
    hp = sympy.symbols("h1_prev h2_prev")
    for k, e in enumerate(rules.update):
        f = sympy.lambdify([th, om, *hp], e, "numpy")
        got = f(x[:, 0, 0], x[:, 0, 1], 0.0, 0.0)
        np.testing.assert_allclose(got, h[:, 0, k], atol=2e-3)
        # and a later step, from the model's own previous state
        got = f(x[:, 5, 0], x[:, 5, 1], h[:, 4, 0], h[:, 4, 1])
        np.testing.assert_allclose(got, h[:, 5, k], atol=2e-3)
    assert all("h_{1,\\mathrm{prev}}" in t or "h_{2,\\mathrm{prev}}" in t
               for t in rules.update_latex())
    assert trained.phi_h.layers[0].symbolic == {}  # the trained model is untouched


@pytest.mark.parametrize("scale", ["rms", "oscillator"])
def test_window_scaled_rules_are_in_raw_variables(small, scale):
    """With window_scale the rules read theta / theta_rms and log(theta_rms)
    (or theta / theta_amp, omega / (theta_w0 theta_amp)); evaluated on raw
    windows they give the symbolic copy's states and logits."""
    from kandiscover.kan.seqkan import oscillator_stats
    ds = pendulum.pendulum_view(small)
    w = ds.windows("train", 50, 5)
    m = SeqKAN(2, 2, 2, window_scale=scale, dt=0.05 if scale == "oscillator" else None, seed=0)
    with torch_threads(1):
        m.fit(w.inputs, w.labels, epochs=1, batch_size=64)
    rules = symbolify_seqkan(m, w.inputs, input_names=["theta", "omega"],
                             output_names=list(pendulum.LABELS), digits=12)
    x = w.inputs[:40]
    if scale == "rms":
        stat_names, stats = "theta_rms omega_rms", np.sqrt((x ** 2).mean(1)).T
    else:
        a, w0 = oscillator_stats(x, 0.05)
        stat_names, stats = "theta_amp theta_w0", (a[:, 0, 0], w0[:, 0, 0])
    names = f"theta omega {stat_names} h1_prev h2_prev"
    assert {str(s) for e in rules.update for s in e.free_symbols} <= set(names.split())
    first = sympy.Symbol(stat_names.split()[0])
    assert any(e.has(first) for e in rules.update + rules.output)
    h = rules.model.hidden_states(x).numpy()
    logits = rules.model.decision_function(x)
    upd = [sympy.lambdify(sympy.symbols(names), e, "numpy") for e in rules.update]
    for k, f in enumerate(upd):
        got = f(x[:, 7, 0], x[:, 7, 1], *stats, h[:, 6, 0], h[:, 6, 1])
        np.testing.assert_allclose(got, h[:, 7, k], atol=2e-3)
    out_names = f"theta_prev omega_prev {stat_names} h1 h2"
    for j, e in enumerate(rules.output):
        f = sympy.lambdify(sympy.symbols(out_names), e, "numpy")
        got = f(x[:, -2, 0], x[:, -2, 1], *stats, h[:, -1, 0], h[:, -1, 1])
        np.testing.assert_allclose(got, logits[:, j], atol=2e-3)
    with pytest.raises(InputError, match="clash"):
        symbolify_seqkan(m, w.inputs, input_names=[stat_names.split()[0], "omega"])


def test_rules_of_a_phi_o_with_product_nodes(small):
    """seqKAN/wide with a hidden layer of sum and product nodes in Phi_o alone
    (the study's setting): the output rule multiplies hidden units and equals
    the symbolic copy's logits."""
    w = pendulum.pendulum_view(small).windows("train", 50, 5)
    m = SeqKAN(2, 2, 2, variant="wide", output_width=(2, 1), window_scale="oscillator",
               dt=0.05, seed=0)
    with torch_threads(1):
        m.fit(w.inputs, w.labels, epochs=1, batch_size=64)
    rules = symbolify_seqkan(m, w.inputs, input_names=["theta", "omega"],
                             output_names=list(pendulum.LABELS), digits=12)
    assert rules.model.phi_o.depth == 2 and rules.model.phi_h.depth == 1
    h1, h2 = sympy.symbols("h1 h2")
    assert all(e.free_symbols <= {h1, h2} for e in rules.output)
    x = w.inputs[:40]
    h = rules.model.hidden_states(x).numpy()
    logits = rules.model.decision_function(x)
    for j, e in enumerate(rules.output):
        got = sympy.lambdify([h1, h2], e, "numpy")(h[:, -1, 0], h[:, -1, 1])
        np.testing.assert_allclose(got, logits[:, j], atol=2e-3)
    # the product node: the output is not a sum of functions of h1 and of h2 alone
    assert any(sympy.diff(e, h1, h2) != 0 for e in rules.output)


def test_rms_names_are_free_without_window_scale(trained):
    rules = symbolify_seqkan(trained, np.random.default_rng(0).normal(size=(4, 6, 2)),
                             input_names=["a_rms", "b"], lib=["x", "x^2"])
    assert "a_rms" in {str(s) for e in rules.update for s in e.free_symbols}


def test_rounded_rules_write_unit_factors_as_such():
    from kandiscover.symbolic.seqrules import _rounded
    x, r = sympy.symbols("theta theta_rms")
    e = _rounded((sympy.Float(1.00002) * x / r + 0.1234567) ** 2 - sympy.Float(0.99999) * x, 4)
    assert "1.0" not in str(e) and e.has(x / r) and e.has(sympy.Float(0.1235))


def test_symbolify_rejects_bad_names(trained):
    with pytest.raises(InputError, match="input_names"):
        symbolify_seqkan(trained, np.zeros((2, 5, 2)), input_names=["a b", "c"])
    with pytest.raises(InputError, match="SeqKAN"):
        symbolify_seqkan(object(), np.zeros((2, 5, 2)))


# ----------------------------------------------------------------- analysis
def test_hidden_state_analysis(small, trained):
    a = hidden_state_analysis(trained, small, "test_extrap")
    n = len(pendulum.pendulum_view(small).windows("test_extrap", 50, 5))
    assert a.hidden.shape == (n, 50, 2)
    assert set(a.spearman) == {"L", "L_dot", "L_ddot"}
    for rho in a.spearman.values():
        assert rho.shape == (2,) and np.all(np.abs(rho[np.isfinite(rho)]) <= 1)
    unit, var, rho = a.best_unit()
    assert abs(rho) == max(np.nanmax(np.abs(r)) for r in a.spearman.values())
    for lab in pendulum.LABELS:
        d = a.labels[lab]
        assert set(d) == {"auc_model", "auc_symbolic", "auc_analytic", "rho_analytic"}
        assert d["auc_analytic"] == 1.0  # the labels are the analytic rule's sign
    # reuse the rules on another split: no refit, same expressions
    b = hidden_state_analysis(trained, small, "test_interp", symbolic=a.rules)
    assert b.rules is a.rules
    assert "Spearman" in a.summary()


def test_hidden_state_analysis_bad_input(small, trained):
    with pytest.raises(InputError, match="unknown split"):
        hidden_state_analysis(trained, small, "test", symbolic=False)
    with pytest.raises(InputError, match="unknown hidden variable"):
        hidden_state_analysis(trained, small, variables=["M"], symbolic=False)
    with pytest.raises(InputError, match="longer than the sequences"):
        hidden_state_analysis(trained, small, window=1000, symbolic=False)
    with pytest.raises(InputError, match="reads 3"):
        hidden_state_analysis(SeqKAN(3, 1, 2), small, symbolic=False)
    with pytest.raises(InputError, match="SequenceDataset"):
        hidden_state_analysis(trained, np.zeros((3, 3)), symbolic=False)


def _generic_dataset(labels, val):
    """A small non-pendulum SequenceDataset with one label and the given val split."""
    from kandiscover.data.dataset import SequenceDataset
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 20)), rng.normal(size=(30, 20))
    L = np.cumsum(a, 1) / 5
    return SequenceDataset({"sequences": {"a": a, "b": b}, "hidden": {"L": L},
                            "labels": {"pos": labels(L)},
                            "splits": {"train": np.arange(20), "val": val,
                                       "test": np.arange(25, 30)}},
                           {"window": 8, "stride": 4}), L


def test_hidden_state_analysis_refuses_labels_that_are_not_0_1():
    ds, _ = _generic_dataset(lambda L: np.where(L > 0, 1.0, -1.0), np.arange(20, 25))
    m = SeqKAN(2, 2, 1, seed=0)
    with pytest.raises(InputError, match="'test' split's labels must hold binary labels"):
        hidden_state_analysis(m, ds, "test", symbolic=False)


def test_refined_rules_without_validation_windows_when_val_is_empty():
    ds, _ = _generic_dataset(lambda L: (L > 0).astype(float), np.arange(0, dtype=np.int64))
    w = ds.windows("train", 8, 4)
    m = SeqKAN(2, 2, 1, seed=0)
    with torch_threads(1):
        m.fit(w.inputs, w.labels, epochs=1)
        a = hidden_state_analysis(m, ds, "test", lib=["x"], refined=True)
    assert a.refined is not None and not a.refined.history.val_loss


def test_refined_rules_fit_the_labels_through_the_recurrence(small, trained):
    ds = pendulum.pendulum_view(small)
    w, v = ds.windows("train", 50, 5), ds.windows("val", 50, 5)
    rules = symbolify_seqkan(trained, w.inputs, input_names=["theta", "omega"],
                             output_names=list(pendulum.LABELS))
    before = {k: v.detach().clone() for k, v in rules.model.state_dict().items()}
    with torch_threads(1):
        ref = refine_rules(rules, w.inputs, w.labels, v.inputs, v.labels, epochs=6,
                           digits=12)
        again = refine_rules(rules, w.inputs, w.labels, v.inputs, v.labels, epochs=6,
                             digits=12)
    # the given rules are untouched; the same call gives the same rules
    assert all(torch.equal(before[k], t) for k, t in rules.model.state_dict().items())
    assert [str(e) for e in ref.update + ref.output] == [
        str(e) for e in again.update + again.output]
    assert ref.history is not None and rules.history is None and not ref.kept_copy
    assert ref.r2 == rules.r2 and ref.output_names == list(pendulum.LABELS)
    # the edges keep their functions, the constants move, the loss falls
    for a in ("phi_h", "phi_o"):
        old, new = getattr(rules.model, a).layers[0], getattr(ref.model, a).layers[0]
        assert {k: e.name for k, e in old.symbolic.items()} == {
            k: e.name for k, e in new.symbolic.items()}
        assert not torch.equal(old.sym_params, new.sym_params)
    assert _bce(ref.model, v.inputs, v.labels) < _bce(rules.model, v.inputs, v.labels)
    assert _bce(ref.model, w.inputs, w.labels) < _bce(rules.model, w.inputs, w.labels)
    # the rules are read again: the update rule is the refined model's first step
    x = w.inputs[:20]
    h = ref.model.hidden_states(x).detach().numpy()
    th, om = sympy.symbols("theta omega")
    hp = sympy.symbols("h1_prev h2_prev")
    for k, e in enumerate(ref.update):
        got = sympy.lambdify([th, om, *hp], e, "numpy")(x[:, 0, 0], x[:, 0, 1], 0.0, 0.0)
        np.testing.assert_allclose(got, h[:, 0, k], atol=2e-3)
    assert ref.update != rules.update


def test_refinement_that_does_not_lower_the_validation_loss_keeps_the_copy(small, trained):
    ds = pendulum.pendulum_view(small)
    w, v = ds.windows("train", 50, 5), ds.windows("val", 50, 5)
    rules = symbolify_seqkan(trained, w.inputs, input_names=["theta", "omega"], digits=12)
    # trained on flipped labels, every epoch is worse on the true validation labels
    kept = refine_rules(rules, w.inputs, 1.0 - w.labels, v.inputs, v.labels, epochs=3,
                        digits=12)
    assert kept.kept_copy and len(kept.history.val_loss) >= 1
    assert [str(e) for e in kept.update] == [str(e) for e in rules.update]
    assert _bce(kept.model, v.inputs, v.labels) == _bce(rules.model, v.inputs, v.labels)
    # without validation data the trained constants are kept as they are
    free = refine_rules(rules, w.inputs, w.labels, epochs=2, digits=12)
    assert not free.kept_copy and len(free.history.train_loss) == 2
    assert _bce(free.model, w.inputs, w.labels) < _bce(rules.model, w.inputs, w.labels)


def test_refine_rules_bad_input(small, trained):
    ds = pendulum.pendulum_view(small)
    w = ds.windows("train", 50, 5)
    with pytest.raises(InputError, match="SeqKANRules"):
        refine_rules(trained, w.inputs, w.labels)
    rules = symbolify_seqkan(trained, w.inputs[:8], input_names=["theta", "omega"])
    loose = rules.model.phi_h.layers[0]
    loose.set_spline(0, 0)
    with pytest.raises(InputError, match="phi_h still has spline edges"):
        refine_rules(rules, w.inputs, w.labels)
    rules = symbolify_seqkan(trained, w.inputs[:8], input_names=["theta", "omega"])
    with pytest.raises(InputError, match="binary labels"):
        refine_rules(rules, w.inputs, w.labels * 2.0)
    with pytest.raises(InputError, match="max_windows"):
        refine_rules(rules, w.inputs, w.labels, max_windows=0)


def test_hidden_state_analysis_with_refined_rules(small, trained):
    a = hidden_state_analysis(trained, small, "test_extrap", refined=True)
    assert a.refined is not None and a.refined.history is not None
    for lab in pendulum.LABELS:
        assert set(a.labels[lab]) == {"auc_model", "auc_symbolic", "auc_analytic",
                                      "rho_analytic", "auc_refined", "rho_analytic_refined"}
    assert "refined rules" in a.summary()
    # the logits the AUCs were computed from, one column per label
    from sklearn.metrics import roc_auc_score
    w = pendulum.pendulum_view(small).windows("test_extrap", 50, 5)
    assert set(a.decisions) == {"model", "symbolic", "refined"}
    for j, lab in enumerate(pendulum.LABELS):
        for name in a.decisions:
            key = "auc_symbolic" if name == "symbolic" else f"auc_{name}"
            assert a.labels[lab][key] == pytest.approx(
                roc_auc_score(w.labels[:, j], a.decisions[name][:, j]), nan_ok=True)
    np.testing.assert_allclose(a.refined.model.predict_proba(w.inputs),
                               torch.sigmoid(torch.as_tensor(a.decisions["refined"])), rtol=1e-6)
    b = hidden_state_analysis(trained, small, "test_interp", symbolic=a.rules,
                              refined=a.refined)
    assert b.refined is a.refined
    with pytest.raises(InputError, match="symbolic=False"):
        hidden_state_analysis(trained, small, symbolic=False, refined=True)


# -------------------------------------------------------------------- store

def test_result_store_attributes_round_trip(tmp_path):
    st = ResultStore(tmp_path / "r.h5", "demo", {"a": 1})
    values = {"flag": np.bool_(True), "tag": "json:not json", "arr": np.array([1.0, 2.5]),
              "big": 2 ** 70, "f": np.float32(0.5), "plain": "text"}
    st.add("k", values)
    got = st.get("k")
    assert got["flag"] is True and got["tag"] == "json:not json" and got["plain"] == "text"
    assert got["arr"] == [1.0, 2.5] and got["big"] == 2 ** 70 and got["f"] == 0.5
    assert [r["key"] for r in st.runs(arrays=False)] == ["k"]

def test_result_store_round_trip_and_refusals(tmp_path):
    path = tmp_path / "r" / "results.h5"
    st = ResultStore(path, "demo", {"a": 1, "b": [1, 2]})
    assert st.keys() == [] and not st.has("x")
    st.add("x", {"status": "ok", "metrics": {"auc": 0.5}, "seed": 3},
           {"p": np.arange(4.0), "s": np.float32(2.0)})
    st.add("y", {"status": "failed", "error": "boom"})
    st.add("x", {"status": "ok", "seed": 4})  # replaced, not duplicated
    again = ResultStore(path, "demo", {"b": [1, 2], "a": 1})
    assert sorted(again.keys()) == ["x", "y"]
    assert again.get("x")["seed"] == 4 and again.get("y")["error"] == "boom"
    assert [r["key"] for r in again.runs(arrays=False)] == again.keys() == ["y", "x"]
    assert "arrays" not in again.runs(arrays=False)[0] and "arrays" in again.runs()[0]
    assert [p.name for p in path.parent.iterdir()] == ["results.h5"]  # no temp left
    with pytest.raises(InputError, match="different study definition.*differs in: a"):
        ResultStore(path, "demo", {"a": 2, "b": [1, 2]})
    with pytest.raises(InputError, match="not a results file of the 'other' study"):
        ResultStore(path, "other", {"a": 1, "b": [1, 2]})
    with pytest.raises(InputError, match="without '/'"):
        again.add("a/b", {})
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(InputError, match="not a readable HDF5"):
        ResultStore(bad, "demo", {})


def test_redefine_replaces_the_definition_and_drops_entries_at_once(tmp_path):
    path = tmp_path / "results.h5"
    st = ResultStore(path, "demo", {"a": {"x": 1, "y": [1, 2]}, "b": 2})
    for k in "pqr":
        st.add(k, {"status": "ok"})
    st.add("an-p", {"status": "ok"}, group="extra")
    st.add("an-q", {"status": "ok"}, group="extra")
    st.redefine({"a": {"x": 1, "y": [1, 3]}, "b": 2}, drop={"runs": ["p", "zz"],
                                                          "extra": ["an-p"]})
    again = ResultStore.open(path)
    assert again.definition == {"a": {"x": 1, "y": [1, 3]}, "b": 2}
    assert again.keys() == ["q", "r"]
    assert not again.has("an-p", "extra") and again.has("an-q", "extra")
    with pytest.raises(InputError, match=r"differs in: a\.x, b\)"):
        ResultStore(path, "demo", {"a": {"x": 2, "y": [1, 3]}, "b": 3})
    assert differences({"a": {"x": 1}}, {"a": {"x": 1.0}, "c": None}) == []
    assert differences([1, 2], [1, 3]) == ["(all)"]
    assert differences({"w": None}, {}) == [] and differences({"w": 0}, {}) == ["w"]
    assert differences({"s": {"lr": 1}}, {"s": {"lr": 2, "k": 0}}, "m.") == ["m.s.k",
                                                                           "m.s.lr"]


# -------------------------------------------------------------------- study
def test_quick_study_writes_results_report_and_resumes(tmp_path, small, monkeypatch):
    out = tmp_path / "study"
    store = study.run_pendulum_study(out, seeds=1, quick=True, dataset=small,
                                     methods=["seqkan", "rnn", "operon"], verbose=False)
    runs = {r["key"]: r for r in store.runs()}
    assert set(runs) == {"seqkan-seed0", "rnn-seed0", "operon-seed0"}
    for r in runs.values():
        assert r["status"] == "ok", r["error"]
        for split in study.TEST_SPLITS:
            for lab in pendulum.LABELS:
                assert 0.0 <= r["metrics"][split][lab]["roc_auc"] <= 1.0
    for key in ("seqkan-seed0", "rnn-seed0"):      # what early stopping selected on
        assert 0.0 < runs[key]["best_val_loss"] < 5.0
        assert runs[key]["hyperparameters"]["lr_schedule"] == "cosine"
    assert store.has("analysis-seqkan-seed0", group="extra")
    report = (out / "report.md").read_text()
    assert "## ROC-AUC" in report and "seqKAN (ours)" in report and "$$" in report
    assert "## Extrapolation by string length" in report
    # the AUC by string length: one bin is the whole split's AUC; the bins cut
    # the extrapolation range into parts of equal numbers of windows
    from kandiscover.study.pendulum_report import auc_by_length
    view = pendulum.pendulum_view(small)
    edges, one = auc_by_length(store, view, bins=1)
    for key, r in runs.items():
        for lab in pendulum.LABELS:
            assert one[r["method"]][lab][0][0] == pytest.approx(
                r["metrics"]["test_extrap"][lab]["roc_auc"], abs=1e-6)
    edges, three = auc_by_length(store, view, bins=3)
    L0 = np.asarray(view.groups["params"]["L0"])[view.groups["splits"]["test_extrap"]]
    assert len(edges) == 4 and np.all(np.diff(edges) > 0)
    assert edges[0] == pytest.approx(L0.min()) and edges[-1] == pytest.approx(L0.max())
    assert all(len(three[m][lab]) == 3 for m in three for lab in pendulum.LABELS)
    with pytest.raises(InputError, match="bins"):
        auc_by_length(store, view, bins=0)
    for fig in ("roc_curves.png", "phi_h_seqkan-seed0.png", "phi_o_seqkan-seed0.png"):
        assert (out / fig).stat().st_size > 1000
    assert any(p.name.startswith("hidden_vs_") for p in out.iterdir())
    # every method read the per-window scaled inputs: the seqKAN inside the model
    assert runs["seqkan-seed0"]["model_config"]["window_scale"] == "oscillator"
    assert runs["seqkan-seed0"]["model_config"]["dt"] == pytest.approx(0.05)
    rules = store.get("analysis-seqkan-seed0", group="extra")["rules"]
    assert any("theta_amp" in e for e in rules["update"] + rules["output"]), rules
    assert "\\theta_{\\mathrm{amp}}" in report.split("## Extracted rules")[1]
    assert "swing amplitude theta_amp" in report
    an = store.get("analysis-seqkan-seed0", group="extra")
    assert an["refined"]["epochs_run"] >= 1 and "auc_refined" in an["test_extrap"]["labels"][
        "energy_increasing"]
    assert "AUC refined" in report and "Refined (" in report
    assert ("Per method: seqKAN (ours) grid 5, grid extended to 10 from epoch 1, "
            "hidden_size 4, hidden_width None, lr 0.003; RNN (tanh) hidden_size 8, "
            "lr 0.01.") in report
    # the quick study's seqKAN got its grid extension, and comes back from results.h5
    run = store.get("seqkan-seed0")
    assert run["model_config"]["grid"] == 10
    assert study.load_seqkan(run).phi_h.layers[0].num_grid == 10
    targets = report.split("## Targets")[1].split("##")[0]
    lines = [t for t in targets.splitlines() if t.startswith("- seqKAN")]
    assert "95 % interval [" in targets and len(lines) == 2
    # 4 test sequences: where too many resamples lack a class, the report says why
    assert all("95 % interval [" in t or "no interval for the difference: " in t
               for t in lines)
    # the stored model is the trained one
    m = study.load_seqkan(store.get("seqkan-seed0"))
    w = pendulum.pendulum_view(small).windows("test_extrap", 50, 5)
    np.testing.assert_allclose(m.predict_proba(w.inputs),
                               store.get("seqkan-seed0")["arrays"]["proba.test_extrap"],
                               atol=1e-6)

    # rerun: nothing is retrained
    calls = []
    monkeypatch.setitem(study._BUILDERS, "rnn", lambda *a: calls.append(a))
    study.run_pendulum_study(out, seeds=1, quick=True, dataset=small,
                             methods=["seqkan", "rnn", "operon"], verbose=False,
                             report=False)
    assert calls == []


def test_baselines_get_the_scaled_windows_seqkans_the_raw_ones(small, monkeypatch):
    from kandiscover.kan.seqkan import oscillator_scaled
    cfg = study.study_config(quick=True)
    assert cfg["windows"]["scale"] == "oscillator"
    ds = pendulum.pendulum_view(small)
    inputs = {"raw": study._window_data(ds, cfg)}
    inputs["scaled"] = study._scaled(inputs["raw"])
    raw = ds.windows("train", cfg["windows"]["length"], cfg["windows"]["stride"]).inputs
    np.testing.assert_array_equal(inputs["raw"]["X"], raw)
    np.testing.assert_allclose(inputs["scaled"]["X"], oscillator_scaled(raw, 0.05))
    seen = {}

    def spy(method):
        def build(cfg_m, tr, seed, data):
            seen[method] = (data["X"].shape[2], data["scale"], data["names"])
            raise RuntimeError("stop here")
        return build

    for method in ("seqkan", "rnn", "operon"):
        monkeypatch.setitem(study._BUILDERS, method, spy(method))
        with pytest.raises(RuntimeError, match="stop here"):
            study._run_one(method, cfg, 0, inputs)
    assert seen["seqkan"] == (2, "oscillator", ["theta", "omega"])   # scales in the model
    assert seen["rnn"][0] == 3 and seen["operon"][2][-1] == "log_theta_amp"


def test_rms_scaling_of_older_configurations(small):
    """``scale: true`` (results files written before the oscillator scaling) is the RMS one."""
    from kandiscover.kan.seqkan import window_scaled
    cfg = study.study_config(quick=True)
    cfg["windows"]["scale"] = True
    assert study.window_scaling(cfg) == "rms"
    raw = study._window_data(pendulum.pendulum_view(small), cfg)
    scaled = study._scaled(raw)
    assert raw["dt"] is None and scaled["names"][-1] == "log_omega_rms"
    np.testing.assert_allclose(scaled["X"], window_scaled(raw["X"]))


def test_interrupted_study_resumes(tmp_path, small, monkeypatch):
    out = tmp_path / "s"
    real = study._BUILDERS["lstm"]

    def interrupted(*a):
        raise KeyboardInterrupt

    monkeypatch.setitem(study._BUILDERS, "lstm", interrupted)
    with pytest.raises(KeyboardInterrupt):
        study.run_pendulum_study(out, seeds=1, quick=True, dataset=small,
                                 methods=["rnn", "lstm"], verbose=False)
    with h5py.File(out / "results.h5", "r") as f:
        assert list(f["runs"]) == ["rnn-seed0"]
        first = f["runs/rnn-seed0/proba.test_extrap"][()]
    counted = []

    def counting(*a):
        counted.append(1)
        return real(*a)

    monkeypatch.setitem(study._BUILDERS, "lstm", counting)
    monkeypatch.setitem(study._BUILDERS, "rnn", interrupted)  # must not run again
    study.run_pendulum_study(out, seeds=1, quick=True, dataset=small,
                             methods=["rnn", "lstm"], verbose=False, report=False)
    assert counted == [1]
    with h5py.File(out / "results.h5", "r") as f:
        assert sorted(f["runs"]) == ["lstm-seed0", "rnn-seed0"]
        np.testing.assert_array_equal(f["runs/rnn-seed0/proba.test_extrap"][()], first)


def test_parallel_workers_give_the_serial_results(tmp_path, small):
    stores = [study.run_pendulum_study(tmp_path / f"w{w}", seeds=1, quick=True, dataset=small,
                                       methods=["rnn", "lstm"], verbose=False, report=False,
                                       workers=w) for w in (1, 2)]
    for key in ("rnn-seed0", "lstm-seed0"):
        serial, parallel = (s.get(key) for s in stores)
        assert parallel["status"] == "ok" and parallel["workers"] == 2
        np.testing.assert_array_equal(parallel["arrays"]["proba.test_extrap"],
                                      serial["arrays"]["proba.test_extrap"])
    with pytest.raises(InputError, match="workers"):
        study.run_pendulum_study(tmp_path / "bad", quick=True, dataset=small, workers=0)


def test_parallel_analyses_give_the_serial_ones(tmp_path, small):
    # two seqKANs of the standard variant (seqKAN/wide's analysis, twice as long
    # here, is the same code; its rules are tested above)
    kw = dict(seeds=2, quick=True, dataset=small, methods=["seqkan"], verbose=False,
              report=False)
    serial = study.run_pendulum_study(tmp_path / "w1", workers=1, **kw)
    # the same trained runs with only the analyses left: a resume runs them in parallel
    (tmp_path / "w2").mkdir()
    shutil.copy(serial.path, tmp_path / "w2" / "results.h5")
    keys = ["analysis-seqkan-seed0", "analysis-seqkan-seed1"]
    assert ResultStore.open(tmp_path / "w2").remove(keys, group="extra") == keys
    parallel = study.run_pendulum_study(tmp_path / "w2", workers=2, **kw)
    for key in keys:
        s, p = (st.get(key, group="extra") for st in (serial, parallel))
        assert p["status"] == "ok", p.get("error")
        assert p["refined"]["update"] == s["refined"]["update"]
        np.testing.assert_array_equal(p["arrays"]["proba_refined.test_extrap"],
                                      s["arrays"]["proba_refined.test_extrap"])
        assert p["workers"] == 2 and s["workers"] == 1
    assert [r["train_seconds"] for r in parallel.runs()] == [
        r["train_seconds"] for r in serial.runs()]          # no run was trained again


def test_cli_runs_the_study_and_names_a_bad_worker_count(tmp_path, small, capsys):
    from kandiscover.cli import main
    data = tmp_path / "p.h5"
    save_dataset(small, data)
    args = ["study", "pendulum", "--quick", "--seeds", "1", "--methods", "rnn",
            "--dataset", str(data), "--out", str(tmp_path / "s"), "--quiet"]
    assert main(args + ["--workers", "0"]) == 2
    assert "workers" in capsys.readouterr().err
    assert main(args + ["--workers", "2"]) == 0
    assert "1 runs ok" in capsys.readouterr().out
    assert (tmp_path / "s" / "report.md").exists()


def test_failures_in_worker_processes_become_failed_runs_and_bugs_propagate(small):
    cfg = study.study_config(quick=True)
    cfg["rnn"]["hidden_size"] = 0           # InputError inside the guarded run
    inputs = {"raw": study._window_data(pendulum.pendulum_view(small), cfg)}
    inputs["scaled"] = study._scaled(inputs["raw"])
    got = {m: attrs for m, _, attrs, _ in study._runs([("rnn", 0)], cfg, inputs, 2)}
    assert got["rnn"]["status"] == "failed" and "hidden_size" in got["rnn"]["error"]
    del cfg["lstm"]                         # a KeyError is a bug: not a failed run
    for workers in (1, 2):
        with pytest.raises(KeyError, match="lstm"):
            list(study._runs([("lstm", 0)], cfg, inputs, workers))
    # a worker process that dies takes its job down with it, recorded as failed
    died = list(pooled(os._exit, [(3,)], None, 2, lambda job, exc, sec: type(exc).__name__))
    assert died == [((3,), "ChildProcessError")]


def test_pooled_isolates_dying_and_overdue_jobs_and_reuses_its_workers():
    ran = {}

    def failed(job, exc, seconds):
        ran[job] = seconds
        return f"{type(exc).__name__}: {exc}"

    # each dying job fails alone, with its own exit code; the others finish
    got = dict(pooled(os._exit, [(3,), (4,)], None, 2, failed))
    assert "exit code 3" in got[(3,)] and "exit code 4" in got[(4,)]
    # an overdue job is killed at the timeout, and says how long it ran; the
    # jobs around it finish
    got = dict(pooled(time.sleep, [(0,), (120,), (0,), (0,)], None, 2, failed, timeout=3))
    assert got == {(0,): None, (120,): "TimeoutError: killed after the timeout of 3 s"}
    assert 3 <= ran[(120,)] < 60
    # the shared inputs go to each worker process once, and a process takes job
    # after job: 6 jobs, 2 processes
    assert [r for _, r in pooled(worker_shared, [()] * 3, {"big": 1}, 2, failed)] == \
        [{"big": 1}] * 3
    pids = {r for _, r in pooled(os.getpid, [()] * 6, None, 2, failed)}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids
    # fresh: a process per job, also with one worker, on torch's own threads
    for workers in (1, 2):
        got = list(pooled(os.getpid, [()] * 3, None, workers, failed, fresh=True))
        pids = {r for _, r in got}
        assert len(got) == 3 and len(pids) == 3 and os.getpid() not in pids
    fresh_default = int(subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        capture_output=True, text=True, check=True).stdout)
    for threads, expected in ((None, fresh_default), (3, 3), (1, 1)):
        got = [r for _, r in pooled(torch.get_num_threads, [()], None, 2, failed,
                                    torch_threads=threads)]
        assert got == [expected]
    with pytest.raises(InputError, match="timeout"):
        list(pooled(time.sleep, [(0,)], None, 2, failed, timeout=0))
    # a result that cannot be sent back is a bug, raised here
    with pytest.raises(RuntimeError, match="result could not be sent back"):
        list(pooled(threading.Lock, [()], None, 2, failed))


def test_an_overdue_run_is_killed_and_recorded_as_failed(tmp_path, small, capsys):
    from kandiscover.cli import main
    data = tmp_path / "p.h5"
    save_dataset(small, data)
    args = ["study", "pendulum", "--quick", "--seeds", "1", "--methods", "rnn,lstm",
            "--dataset", str(data), "--out", str(tmp_path / "s"), "--quiet", "--workers", "2",
            "--settings", '{"train": {"epochs": 500, "patience": 500}}']   # runs of seconds
    assert main(args + ["--timeout", "-1"]) == 2
    assert "timeout" in capsys.readouterr().err
    with pytest.raises(SystemExit):                 # the help names the default
        main(["study", "pendulum", "--help"])
    assert f"(default {study.RUN_TIMEOUT:g};" in " ".join(capsys.readouterr().out.split())
    assert main(args + ["--timeout", "0.01"]) == 0
    assert "0 runs ok, 2 not" in capsys.readouterr().out
    store = ResultStore.open(tmp_path / "s" / "results.h5")
    for run in store.runs():
        assert run["status"] == "failed"
        assert run["error"] == "TimeoutError: killed after the timeout of 0.01 s"
    assert "TimeoutError" in (tmp_path / "s" / "report.md").read_text()
    # the resume retries them; with no limit (0) they finish
    assert main(args + ["--timeout", "0"]) == 0
    assert "2 runs ok, 0 not" in capsys.readouterr().out
    # one run left, or one asked for, with --workers 2: still in a worker process,
    # under the timeout
    one = args[:args.index("--methods") + 1] + ["rnn"] + args[args.index("--methods") + 2:]
    one[one.index("--out") + 1] = str(tmp_path / "one")
    assert main(one + ["--timeout", "0.01"]) == 0
    assert "0 runs ok, 1 not (rnn-seed0: failed)" in capsys.readouterr().out


def test_failed_and_unavailable_runs_are_recorded(tmp_path, small, monkeypatch, capsys):
    from kandiscover.compare import seqkan_official

    def broken(*a):
        raise RuntimeError("diverged")

    def missing(*a):
        raise study._Unavailable("seqkan is not installed")

    monkeypatch.setitem(study._BUILDERS, "rnn", broken)
    monkeypatch.setitem(study._BUILDERS, "seqkan_official", missing)
    monkeypatch.setattr(seqkan_official, "available", lambda: (False, "no seqkan here"))
    store = study.run_pendulum_study(tmp_path, seeds=1, quick=True, dataset=small,
                                     methods=["rnn", "seqkan_official"], verbose=True)
    # the missing package is named before any run starts
    out = capsys.readouterr()
    notice = "seqkan_official's runs will be recorded as unavailable: no seqkan here"
    text = out.out + out.err
    assert notice in text and text.index(notice) < text.index("rnn-seed0: failed")
    runs = {r["key"]: r for r in store.runs()}
    assert runs["rnn-seed0"]["status"] == "failed"
    assert "diverged" in runs["rnn-seed0"]["error"]
    assert runs["seqkan_official-seed0"]["status"] == "unavailable"
    report = (tmp_path / "report.md").read_text()
    assert "seqkan is not installed" in report and "diverged" in report


def test_study_bad_input(tmp_path, small):
    with pytest.raises(InputError, match="unknown method.*'svm'"):
        study.run_pendulum_study(tmp_path, methods=["svm"], quick=True, verbose=False)
    with pytest.raises(InputError, match="seeds"):
        study.run_pendulum_study(tmp_path, seeds=0, quick=True, verbose=False)
    tab = TabularDataset(np.zeros((4, 2)), np.zeros(4), ["a", "b"], ["y"])
    save_dataset(tab, tmp_path / "tab.h5")
    with pytest.raises(InputError, match="table dataset.*sequence dataset"):
        study.run_pendulum_study(tmp_path / "o", dataset=tmp_path / "tab.h5", quick=True,
                                 verbose=False)
    nan = SequenceDataset({**small.groups, "sequences": {
        "theta": np.where(np.arange(small["sequences/theta"].shape[1]) == 7, np.nan,
                          small["sequences/theta"]),
        "omega": small["sequences/omega"]}}, small.attrs)
    store = study.run_pendulum_study(tmp_path / "n", dataset=nan, quick=True, seeds=1,
                                     methods=["rnn"], verbose=False, report=False)
    (run,) = store.runs()
    assert run["status"] == "failed" and "NaN" in run["error"]
    # a results file of another definition is refused
    study.run_pendulum_study(tmp_path / "d", dataset=small, quick=True, seeds=1,
                             methods=["rnn"], verbose=False, report=False)
    other = pendulum.make_pendulum(seed=4, n_train=12, n_val=4, n_interp=4, n_extrap=4,
                                   duration=6.0)
    with pytest.raises(InputError, match="different study definition"):
        study.run_pendulum_study(tmp_path / "d", dataset=other, quick=True, seeds=1,
                                 methods=["rnn"], verbose=False, report=False)


def test_cli_study_pendulum(tmp_path, small, capsys):
    from kandiscover.cli import main
    save_dataset(small, tmp_path / "p.h5")
    out = tmp_path / "out"
    rc = main(["study", "pendulum", "--quick", "--seeds", "1", "--methods", "rnn,lstm",
               "--dataset", str(tmp_path / "p.h5"), "--out", str(out), "--quiet"])
    assert rc == 0
    assert "2 runs ok, 0 not" in capsys.readouterr().out
    assert (out / "report.md").exists() and (out / "results.h5").exists()
    assert not (out / "pendulum.h5").exists()  # the given dataset is used, not copied
    rc = main(["study", "pendulum", "--quick", "--methods", "rnn", "--seeds", "0",
               "--out", str(out), "--quiet"])
    assert rc == 2 and "seeds must be" in capsys.readouterr().err


def test_settings_replace_the_study_defaults():
    settings = {"train": {"epochs": 60}, "seqkan": {"output_width": [4, 2]},
                "rnn": {"hidden_size": 4}}
    given = copy.deepcopy(settings)
    cfg = study.study_config(settings=settings)
    assert cfg["train"]["epochs"] == 60 and cfg["train"]["patience"] == 8
    assert cfg["seqkan"]["output_width"] == [4, 2] and cfg["seqkan"]["lr"] == 3e-3
    assert cfg["rnn"] == {"hidden_size": 4, "lr": 1e-2}
    assert settings == given                        # the caller's dict is not touched
    cfg["seqkan"]["output_width"].append(1)
    assert settings["seqkan"]["output_width"] == [4, 2]
    assert study.study_config() == study.study_config(settings={})
    assert study.study_config(True, {"train": {"epochs": 3}})["train"]["batch_size"] == 64
    with pytest.raises(InputError, match="unknown section 'svm'.*train, seqkan"):
        study.study_config(settings={"svm": {"C": 1}})
    with pytest.raises(InputError, match=r"settings\['seqkan'\] has unknown key\(s\) "
                                         r"'width'; it takes grid, grid_refine, hidden_size"):
        study.study_config(settings={"seqkan": {"width": 3}})
    refined = study.study_config(settings={"seqkan_wide": {"grid_refine": [[30, 10]]}})
    assert refined["seqkan_wide"]["grid_refine"] == [[30, 10]]
    smooth = study.study_config(settings={"seqkan_wide": {"lamb_smooth": [1e-3, 0.0]},
                                          "seqkan": {"lamb_smooth": 1e-4}})
    assert smooth["seqkan_wide"]["lamb_smooth"] == [1e-3, 0.0]
    assert smooth["seqkan"]["lamb_smooth"] == 1e-4
    with pytest.raises(InputError, match="'lamb_smooth'"):    # only the seqKANs read it
        study.study_config(settings={"tkan": {"lamb_smooth": 1.0}})
    with pytest.raises(InputError, match="'output_width'"):   # only the seqKANs read it
        study.study_config(settings={"lstm": {"output_width": 3}})
    with pytest.raises(InputTypeError, match="settings must be a dict"):
        study.study_config(settings=[("train", {})])
    with pytest.raises(InputTypeError, match=r"settings\['train'\] must be a dict"):
        study.study_config(settings={"train": 60})


def test_the_study_passes_lamb_smooth_to_the_seqkan_fit(small):
    from kandiscover.sparsify.regularize import spline_roughness
    rough = {}
    for w in (0.0, [10.0, 0.0]):
        cfg = study.study_config(True, {"seqkan": {"lamb_smooth": w}})
        inputs = {"raw": study._window_data(pendulum.pendulum_view(small), cfg)}
        attrs, arrays = study._run_one("seqkan", cfg, 0, inputs)
        assert attrs["hyperparameters"]["lamb_smooth"] == w
        m = study.load_seqkan({"model_config": attrs["model_config"], "arrays": arrays})
        rough[str(w)] = spline_roughness(m.phi_h).item()
    assert rough["[10.0, 0.0]"] < 0.7 * rough["0.0"]   # Adam: a bounded step


def test_the_study_passes_memory_to_the_seqkan(small):
    """``memory`` (the hidden units' starting time constants) reaches the model;
    without it the model keeps SeqKAN's own default."""
    import inspect
    default = list(inspect.signature(SeqKAN).parameters["memory"].default)
    for settings, expected in (({"memory": [1.5, 40.0]}, [1.5, 40.0]), ({}, default)):
        cfg = study.study_config(True, {"seqkan": settings})
        inputs = {"raw": study._window_data(pendulum.pendulum_view(small), cfg)}
        attrs, _ = study._run_one("seqkan", cfg, 0, inputs)
        assert attrs["model_config"]["memory"] == expected
    with pytest.raises(InputError, match="'memory'"):       # only the seqKANs read it
        study.study_config(settings={"lstm": {"memory": [2.0, 20.0]}})


def test_cli_settings_change_the_runs_and_the_study_definition(tmp_path, small, capsys):
    from kandiscover.cli import main
    save_dataset(small, tmp_path / "p.h5")
    args = ["study", "pendulum", "--quick", "--seeds", "1", "--methods", "rnn",
            "--dataset", str(tmp_path / "p.h5"), "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    rc = main([*args, "--out", str(tmp_path / "b"), "--settings",
               '{"rnn": {"hidden_size": 3}, "train": {"epochs": 1}}'])
    assert rc == 0
    capsys.readouterr()
    runs = {k: ResultStore.open(tmp_path / k).get("rnn-seed0")
            for k in "ab"}
    assert runs["a"]["hyperparameters"]["hidden_size"] == 8
    assert runs["b"]["hyperparameters"]["hidden_size"] == 3
    assert runs["a"]["epochs_run"] == 2 and runs["b"]["epochs_run"] == 1
    # another train section is another study: the first folder is not reused for it
    rc = main([*args, "--out", str(tmp_path / "a"), "--settings", '{"train": {"epochs": 1}}'])
    assert rc == 2 and "differs in: config.train.epochs" in capsys.readouterr().err
    # a method's changed settings replace its runs only when asked to
    rc = main([*args, "--out", str(tmp_path / "a"), "--settings", '{"rnn": {"lr": 0.1}}'])
    err = capsys.readouterr().err
    assert rc == 2 and "runs of rnn made with other settings (differ in: rnn.lr)" in err
    assert "--rerun-changed" in err
    assert ResultStore.open(tmp_path / "a").get("rnn-seed0")["hyperparameters"]["lr"] == 1e-2
    rc = main([*args, "--out", str(tmp_path / "a"), "--settings", '{"rnn": {"lr": 0.1}}',
               "--rerun-changed"])
    assert rc == 0
    capsys.readouterr()
    a = ResultStore.open(tmp_path / "a")
    assert a.get("rnn-seed0")["hyperparameters"]["lr"] == 0.1
    assert a.definition["config"]["rnn"]["lr"] == 0.1
    rc = main([*args, "--out", str(tmp_path / "c"), "--settings", "{rnn: 3}"])
    assert rc == 2 and "--settings must be JSON" in capsys.readouterr().err
    rc = main([*args, "--out", str(tmp_path / "c"), "--settings", '{"rnn": {"units": 3}}'])
    assert rc == 2 and "unknown key(s) 'units'" in capsys.readouterr().err


def test_changed_settings_replace_only_that_methods_runs(tmp_path, small):
    kw = dict(dataset=small, quick=True, seeds=1, verbose=False, report=False)
    first = study.run_pendulum_study(tmp_path, methods=["rnn", "lstm"], **kw)
    before = {r["key"]: r for r in first.runs()}
    lr = {"rnn": {"lr": 0.05}}
    with pytest.raises(InputError, match=r"runs of rnn made with other settings \(differ "
                                         r"in: rnn\.lr\).*rerun_changed=True"):
        study.run_pendulum_study(tmp_path, methods=["rnn", "lstm"], settings=lr, **kw)
    # a method not run keeps the section its stored runs were made with
    kept = study.run_pendulum_study(tmp_path, methods=["lstm"], settings=lr, **kw)
    assert kept.definition["config"]["rnn"]["lr"] == 1e-2
    assert {r["key"]: r["train_seconds"] for r in kept.runs()} == {
        k: r["train_seconds"] for k, r in before.items()}       # nothing was run again
    store = study.run_pendulum_study(tmp_path, methods=["rnn", "lstm"], settings=lr,
                                     rerun_changed=True, **kw)
    after = {r["key"]: r for r in store.runs()}
    assert after["rnn-seed0"]["hyperparameters"]["lr"] == 0.05
    assert after["lstm-seed0"]["train_seconds"] == before["lstm-seed0"]["train_seconds"]
    np.testing.assert_array_equal(after["lstm-seed0"]["arrays"]["proba.test_extrap"],
                                  before["lstm-seed0"]["arrays"]["proba.test_extrap"])
    assert ResultStore.open(tmp_path).definition["config"]["rnn"]["lr"] == 0.05
    # the new settings are now the stored ones: a plain resume runs nothing
    again = study.run_pendulum_study(tmp_path, methods=["rnn", "lstm"], settings=lr, **kw)
    assert {r["key"]: r["train_seconds"] for r in again.runs()} == {
        k: r["train_seconds"] for k, r in after.items()}


def test_a_cached_dataset_of_other_settings_is_refused(tmp_path, small):
    save_dataset(small, tmp_path / study.DATASET_FILE)  # seed 3, 6 s: not the quick settings
    with pytest.raises(InputError, match="other settings than this study's.*seed: 3"):
        study.run_pendulum_study(tmp_path, quick=True, seeds=1, methods=["rnn"],
                                 verbose=False)


def test_a_failed_analysis_is_recorded_and_reported(tmp_path, small, monkeypatch):
    def broken(*a):
        raise RuntimeError("symbolic fit exploded")

    monkeypatch.setattr(study, "_analysis", broken)
    store = study.run_pendulum_study(tmp_path, seeds=1, quick=True, dataset=small,
                                     methods=["seqkan"], verbose=False)
    assert store.get("analysis-seqkan-seed0", group="extra")["status"] == "failed"
    assert "symbolic fit exploded" in (tmp_path / "report.md").read_text()
    # the next run does it again
    monkeypatch.undo()
    store = study.run_pendulum_study(tmp_path, seeds=1, quick=True, dataset=small,
                                     methods=["seqkan"], verbose=False)
    assert store.get("analysis-seqkan-seed0", group="extra")["status"] == "ok"


def test_a_failed_refinement_keeps_the_rest_of_the_analysis(tmp_path, small, monkeypatch):
    from kandiscover.compare import hidden

    def diverged(*a, **k):
        raise RuntimeError("refinement diverged")

    monkeypatch.setattr(hidden, "refine_rules", diverged)
    store = study.run_pendulum_study(tmp_path, seeds=1, quick=True, dataset=small,
                                     methods=["seqkan"], verbose=False)
    an = store.get("analysis-seqkan-seed0", group="extra")
    assert an["status"] == "ok" and "refined" not in an and "diverged" in an["refined_error"]
    assert "auc_symbolic" in an["test_extrap"]["labels"]["energy_increasing"]
    assert "Refining failed: RuntimeError: refinement diverged" in (
        tmp_path / "report.md").read_text()
    # the next run tries the refinement again
    monkeypatch.undo()
    store = study.run_pendulum_study(tmp_path, seeds=1, quick=True, dataset=small,
                                     methods=["seqkan"], verbose=False, report=False)
    an = store.get("analysis-seqkan-seed0", group="extra")
    assert "refined" in an and "refined_error" not in an
    # a run trained again gets a new analysis, not the old model's (a stand-in
    # analysis here, which says which model it read)
    store.add("analysis-seqkan-seed0", {"run": "seqkan-seed0", "status": "ok",
                                        "refined": {"stale": 1}}, group="extra")
    store.remove(["seqkan-seed0"])
    monkeypatch.setattr(study, "_analysis", lambda run, ds, cfg: (
        {"run": run["key"], "status": "ok", "refined": {"of": run["train_seconds"]}}, {}))
    store = study.run_pendulum_study(tmp_path, seeds=1, quick=True, dataset=small,
                                     methods=["seqkan"], verbose=False, report=False)
    refined = store.get("analysis-seqkan-seed0", group="extra")["refined"]
    assert refined == {"of": store.get("seqkan-seed0")["train_seconds"]}


def test_report_says_how_the_refined_rules_were_chosen():
    from kandiscover.study.pendulum_report import _refined_lines

    rules = {"update_latex": ["h_{1} = a"], "output_latex": ["y_{1} = b"]}
    assert _refined_lines(None) == []
    kept = _refined_lines(dict(rules, kept_copy=True, epochs_run=5, best_epoch=-1))
    assert "copy is kept" in kept[0] and "5 epochs" in kept[0]
    assert not any("$$" in t for t in kept)                  # the copy's rules are above
    # a file written before kept_copy existed: best_epoch -1 meant the copy was kept
    assert _refined_lines(dict(rules, epochs_run=3, best_epoch=-1)) == _refined_lines(
        dict(rules, kept_copy=True, epochs_run=3))
    noval = _refined_lines(dict(rules, kept_copy=False, epochs_run=4, best_epoch=-1))
    assert "no validation split" in noval[0] and "$$ h_{1} = a $$" in noval
    best = _refined_lines(dict(rules, kept_copy=False, epochs_run=6, best_epoch=2,
                               best_val_loss=0.01234))
    assert "validation BCE 0.0123" in best[0] and "6 epochs" in best[0]
    assert best[2:4] == ["$$ h_{1} = a $$", "$$ y_{1} = b $$"]
