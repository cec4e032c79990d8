"""The digits studies' pieces: data split, networks, training cells, the S-E fit, and sweeps (serial and Dask)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from emastats.errors import UsageError
from emastats.studies.digits import load, split_indices
from emastats.studies.nets import make_model
from emastats.studies.sweep import SweepOptions, fingerprint, run_sweep
from emastats.studies.tradeoff import Tradeoff, best_steps, bootstrap_tradeoff, fit_tradeoff
from emastats.studies.training import train_cell


def test_digits_split_is_fixed_disjoint_and_stratified():
    train, held = split_indices()
    assert len(train) + len(held) == 1797 and not set(train) & set(held)
    assert np.array_equal(train, split_indices()[0])  # fixed, not seeded by the run
    a, b = load("train"), load("held-back")
    assert a.features.shape == (len(train), 64) and float(a.features.max()) <= 1.0
    counts_a, counts_b = torch.bincount(a.labels, minlength=10), torch.bincount(b.labels, minlength=10)
    assert int((counts_a - counts_b).abs().max()) <= 1
    with pytest.raises(UsageError, match="train"):
        load("test")


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_per_example_gradients_match_autograd(name):
    model = make_model(name)
    data = load("train")
    w = model.initial(torch.Generator().manual_seed(1))
    x, y = data.features[:6], data.labels[:6]
    per_example = model.per_example_gradients(w, x, y, chunk=4)
    assert per_example.shape == (6, model.size)
    for i in range(6):
        wi = w.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(model.loss(wi, x[i: i + 1], y[i: i + 1]), wi)
        assert torch.allclose(per_example[i], expected, atol=1e-12)
    with pytest.raises(UsageError, match="parameters must have shape"):
        model.per_example_gradients(w[:-1], x, y)
    with pytest.raises(UsageError, match="unknown model"):
        make_model("resnet")


CELL = dict(key="c", model="mlp", width=8, batch=16, lr=0.5, steps=30, seed=11, init_seed=5, record_every=10,
            checkpoints=[0, 30], pairs=4, b_small=4, b_big=32)


def test_training_cell_is_deterministic_and_its_snapshot_exact():
    a, b = train_cell(CELL), train_cell(CELL)
    assert a == b
    assert len(a["curve"]) == 4 and a["curve"][-1] < a["curve"][0]  # 30 steps of SGD lower the training loss
    first = a["snapshots"][0]
    model, data = make_model("mlp", 8), load("train")
    w = model.initial(torch.Generator().manual_seed(5))
    pe = model.per_example_gradients(w, data.features, data.labels)
    assert first["trace"] == pytest.approx(float(pe.var(0, unbiased=False).sum()), rel=1e-12)
    assert first["g2"] == pytest.approx(float((pe.mean(0) ** 2).sum()), rel=1e-12)
    assert first["b_simple"] == pytest.approx(first["trace"] / first["g2"])
    reached = train_cell(dict(CELL, target=a["curve"][1], checkpoints=[]))
    assert reached["steps_to_target"] is not None and 0 < reached["steps_to_target"] <= 10


def test_tradeoff_fit_recovers_the_frontier():
    true = Tradeoff(s_min=40.0, e_min=2000.0)
    b = np.array([2.0, 8, 32, 128, 512])
    fit = fit_tradeoff(b, true.steps(b))
    assert fit.s_min == pytest.approx(40.0) and fit.b_crit == pytest.approx(50.0)
    s = fit.steps(b)
    # the frontier identity (S/S_min - 1)(E/E_min - 1) = 1 with E = B S
    assert np.allclose((s / fit.s_min - 1) * (b * s / fit.e_min - 1), 1.0)
    assert np.allclose(fit.steps_at_examples(b * s), s)
    assert not fit_tradeoff(b, np.full(5, np.inf)).valid


def test_best_steps_and_bootstrap_over_seeds():
    steps = np.full((3, 2, 4), np.inf)  # (batch, lr, seed); lr 1 fails at the first batch
    batches = np.array([4.0, 16, 64])
    for i, bb in enumerate(batches):
        steps[i, 0] = 30 + 600 / bb + np.arange(4)
        if i:
            steps[i, 1] = 20 + 600 / bb + np.arange(4)
    mean, lr = best_steps(steps)
    assert lr.tolist() == [0, 1, 1] and mean[0] == pytest.approx(30 + 150 + 1.5)
    boot = bootstrap_tradeoff(batches, steps, 50, np.random.default_rng(0))
    assert boot.steps.shape == (50, 3) and boot.b_crit.size + boot.invalid == 50


def _cells(n: int) -> list[dict]:
    return [dict(CELL, key=f"k{i}", seed=100 + i, checkpoints=[10], steps=10) for i in range(n)]


def test_sweep_streams_to_the_store_and_resumes(tmp_path):
    cells = _cells(3)
    opts = SweepOptions(store=str(tmp_path))
    first = run_sweep("demo", train_cell, cells, opts)
    assert (first.ran, first.reused) == (3, 0)
    folder = tmp_path / "sweeps" / "demo" / fingerprint("demo", train_cell, cells)
    assert sorted(p.name for p in folder.glob("*.json")) == ["k0.json", "k1.json", "k2.json"]
    (folder / "k1.json").unlink()  # an interrupted run: one cell missing
    again = run_sweep("demo", train_cell, cells, opts)
    assert (again.ran, again.reused) == (1, 2) and again.results == first.results
    record = json.loads((folder / "k1.json").read_text())
    assert record["cell"]["key"] == "k1" and record["result"] == first.results["k1"]
    changed = run_sweep("demo", train_cell, [dict(cells[0], lr=0.25)], opts)
    assert changed.ran == 1  # other parameters: another fingerprint, nothing reused
    with pytest.raises(ValueError, match="unique"):
        run_sweep("demo", train_cell, [cells[0], cells[0]])


def test_sweep_on_a_two_worker_local_cluster_matches_serial(tmp_path):
    pytest.importorskip("distributed")
    cells = _cells(4)
    serial = run_sweep("demo", train_cell, cells)
    parallel = run_sweep("demo", train_cell, cells, SweepOptions(scheduler="local", workers=2, store=str(tmp_path)))
    assert parallel.ran == 4 and parallel.results == serial.results
    assert len(list((tmp_path / "sweeps" / "demo").glob("*/*.json"))) == 4


@pytest.mark.parametrize("option, message", [({"scheduler": "nowhere"}, "--scheduler must be"),
                                             ({"workers": 0}, "--workers must be at least 1")])
def test_study_cli_rejects_a_bad_scheduler_or_worker_count(tmp_path, option, message):
    from emastats.studies import run_cli as study_cli

    args = dict(name="critical-batch", quick=True, seed=1, store=str(tmp_path), device="cpu", format="text",
                scheduler="serial", workers=2, fresh=False)
    args.update(option)
    with pytest.raises(UsageError, match=message):
        study_cli(__import__("argparse").Namespace(**args))
    assert not (tmp_path / "sweeps").exists()  # rejected before any work


def test_clipping_stats_on_a_skewed_cloud():
    from emastats.studies.clipping_real import clip, clipping_stats, cosine_gap

    gen = torch.Generator().manual_seed(0)
    g = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    noise = torch.randn(400, 3, generator=gen, dtype=torch.float64)
    pe = g + noise * torch.tensor([4.0, 1.0, 1.0], dtype=torch.float64)
    pe[:, 1] += torch.distributions.Exponential(0.5).sample((400,)) - 2.0  # skew in a direction orthogonal to G
    pe = pe - pe.mean(0) + g  # full-batch gradient exactly G
    v = clip(pe, 1.0)
    assert float(v.norm(dim=1).max()) <= 1.0 + 1e-12
    assert torch.equal(clip(pe, 1e9), pe)
    rows = clipping_stats(pe, [0.5, 1e6], [4, 64], 4000, gen)
    tight, loose = rows
    assert tight["min_pair_inner"] >= 0  # symmetric pairs stay descent directions (Chen et al. 2020)
    assert tight["gap_per_example"] > 10 * tight["gap_symmetrised"]  # the skew, not clipping itself, biases
    assert loose["clipped_fraction"] == 0 and abs(loose["gap_per_example"]) < 1e-12
    assert loose["trace_clipped"] == pytest.approx(float(((pe - g) ** 2).sum(1).mean()))
    for b in loose["batches"]:
        assert b["trace_ratio_mean"] == pytest.approx(1.0, abs=0.1)  # tr Cov = tr Sigma / B, 4000 draws
        assert abs(b["gap_batch_clipping"]) < 0.01  # nothing clipped: the noise-floor-corrected gap is ~0
    assert cosine_gap(2 * g, g) == pytest.approx(0.0, abs=1e-15)


def test_training_cell_adam_matches_torch_optim_adam():
    cell = dict(CELL, optimizer="adam", lr=0.01, beta1=0.6, beta2=0.996, eps=1e-7, steps=5, checkpoints=[],
                record_every=5)
    got = train_cell(cell)["curve"][-1]
    from emastats.montecarlo.sampling import minibatch_indices
    from emastats.studies.training import CHUNK

    model, data = make_model("mlp", 8), load("train")
    w = model.initial(torch.Generator().manual_seed(5)).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.01, betas=(0.6, 0.996), eps=1e-7)
    gen = torch.Generator().manual_seed(11)
    batches = minibatch_indices(data.size, 16, CHUNK, gen, replacement=False)
    for t in range(5):
        opt.zero_grad()
        model.loss(w, data.features[batches[t]], data.labels[batches[t]]).backward()
        opt.step()
    with torch.no_grad():
        assert got == pytest.approx(float(model.loss(w, data.features, data.labels)), rel=1e-10)


def test_b_noise_by_hessian_vector_products_matches_the_explicit_hessian():
    from emastats.studies.training import hessian_noise_scale

    model, data = make_model("mlp", 3), load("train")
    x, y = data.features[:40], data.labels[:40]
    w = model.initial(torch.Generator().manual_seed(2))
    pe = model.per_example_gradients(w, x, y)
    h = torch.autograd.functional.hessian(lambda v: model.loss(v, x, y), w)
    g, xi = pe.mean(0), pe - pe.mean(0)
    out = hessian_noise_scale(model, w, x, y, pe, chunk=16)
    assert out["trace_h_sigma"] == pytest.approx(float(torch.trace(h @ (xi.T @ xi) / 40)), rel=1e-9)
    assert out["ghg"] == pytest.approx(float(g @ h @ g), rel=1e-9)
    assert out["b_noise"] == pytest.approx(out["trace_h_sigma"] / out["ghg"])
    sub = hessian_noise_scale(model, w, x, y, pe, examples=10, gen=torch.Generator().manual_seed(0))
    assert sub["ghg"] == out["ghg"] and math.isfinite(sub["trace_h_sigma"])
