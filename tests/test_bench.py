"""The benchmark runs at a tiny size and reports the documented keys (speed itself is never asserted)."""
from __future__ import annotations

import functools
import json

import pytest

from emastats.cli import main
from emastats.montecarlo import bench, resolve_device

TINY = {"ema_replicas": 64, "ema_steps": 4, "examples": 50, "dim": 4, "batch": 8, "replicas": 16, "sgd_steps": 2,
        "repeats": 1, "curve_cap": 8}


def test_tiny_benchmark_reports_rates_and_ratios():
    report = bench.run_benchmarks(resolve_device("cpu"), **TINY).to_dict()
    assert report["device"].startswith("cpu")
    ema, sgd = report["ema"], report["sgd"]
    for value in (ema["ratio_to_rng"], ema["rng_normals_per_s"], ema["ema_replica_steps_per_s"],
                  sgd["speedup_vs_naive"], sgd["speedup_vs_naive_same_sampler"], sgd["speedup_vs_numpy"],
                  sgd["gradient_only_speedup_vs_naive"], sgd["kernel_replica_steps_per_s"],
                  sgd["naive_replica_steps_per_s"], sgd["naive_same_sampler_replica_steps_per_s"],
                  sgd["numpy_replica_steps_per_s"], sgd["sampler_indices_per_s"], sgd["randint_indices_per_s"]):
        assert value > 0
    assert "torch.randint" in sgd["sampling"] and "minibatch_indices" in sgd["sampling"]
    assert (sgd["examples"], sgd["dim"], sgd["batch"], sgd["replicas"]) == (50, 4, 8, 16)


def test_bench_command_prints_json(monkeypatch, capsys):
    monkeypatch.setattr(bench, "run_benchmarks", functools.partial(bench.run_benchmarks, **TINY))
    assert main(["bench", "--device", "cpu", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"ratio_to_rng"} <= set(payload["ema"])
    assert {"speedup_vs_naive", "speedup_vs_naive_same_sampler", "speedup_vs_numpy", "sampling"} <= set(payload["sgd"])
    assert payload["device"].startswith("cpu") and payload["meta"]["command"] == "bench"


def test_bench_text_output(monkeypatch, capsys):
    monkeypatch.setattr(bench, "run_benchmarks", functools.partial(bench.run_benchmarks, **TINY))
    assert main(["bench", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "ratio to RNG" in out and "vs naive" in out and "same sampler" in out and "sampling:" in out


@pytest.mark.parametrize("argv", [["bench", "--device", "tpu"], ["bench", "--device", "cuda:99"]])
def test_bad_device_is_a_one_line_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "device" in err


def test_bad_sizes_are_usage_errors():
    with pytest.raises(bench.UsageError):
        bench.run_benchmarks(resolve_device("cpu"), **{**TINY, "replicas": 1})
    with pytest.raises(bench.UsageError):
        bench.run_benchmarks(resolve_device("cpu"), **{**TINY, "repeats": 0})


def test_report_has_limits_curves_and_aims_per_device():
    report = bench.run_benchmarks(resolve_device("cpu"), **TINY)
    lim = report.limits
    assert lim.copy_bytes_per_s > 0 and lim.matmul_flops_per_s > 0
    assert lim.ema_limit() == lim.copy_bytes_per_s / 4
    assert lim.sgd_limit(8, 4) == min(lim.matmul_flops_per_s / (4 * 8 * 4), lim.copy_bytes_per_s / (8 * 4))
    assert report.ema_fraction_of_limit > 0 and report.sgd_fraction_of_limit > 0
    # on the CPU the fused kernels are not timed, and the report says why
    assert report.fused.backend == "torch" and "CUDA" in report.fused.note
    kinds = [(c.kernel, c.replicas) for c in report.curves]
    assert kinds == [("ema", 8), ("sgd", 8)]  # the cap of 8 replicas gives one point each
    for c in report.curves:
        assert c.replica_steps_per_s > 0 and c.baseline_replica_steps_per_s > 0
        assert c.ratio == pytest.approx(c.replica_steps_per_s / c.baseline_replica_steps_per_s)
    aims = {a.name: a for a in report.aims}
    assert set(aims) == set(bench.CPU_AIMS)
    assert aims["sgd_speedup_vs_naive"].value == report.sgd.speedup_vs_naive
    assert aims["sgd_speedup_vs_naive"].met == (report.sgd.speedup_vs_naive >= 4.0)


def test_curve_replicas_grow_by_four_up_to_the_memory_bound(monkeypatch):
    cpu = resolve_device("cpu")
    monkeypatch.setattr(bench, "free_memory", lambda device: 4 * 100 * 70_000)  # room for 70,000 replicas
    assert bench.curve_replicas(cpu, 100, None) == [4096, 16384, 65536]
    assert bench.curve_replicas(cpu, 100, 20_000) == [4096, 16384]
    assert bench.curve_replicas(cpu, 100, 100) == [100]
