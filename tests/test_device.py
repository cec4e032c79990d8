"""Device handling in one place: normalisation, equality, ``auto``, and the device-scaled budget."""
from __future__ import annotations

import pytest
import torch

from emastats.errors import UsageError
from emastats.montecarlo import device as device_module
from emastats.montecarlo.context import CUDA_BUDGET_MULTIPLIER, budget_multiplier
from emastats.montecarlo.device import normalize_device, resolve_device, same_device
from emastats.montecarlo.sampling import uniform_indices


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend two CUDA devices exist, device 1 current (only torch.cuda's queries are replaced)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)


def test_cuda_without_index_is_the_current_device():
    # no CUDA here: the current device defaults to 0, so "cuda" is "cuda:0"
    assert normalize_device("cuda") == torch.device("cuda", 0)
    assert normalize_device(torch.device("cuda")) == torch.device("cuda:0")
    assert same_device("cuda", "cuda:0") and same_device(torch.device("cuda"), "CUDA:0")
    assert not same_device("cuda:1", "cuda") and not same_device("cpu", "cuda:0")
    # the bug this fixes: torch compares the index-less form unequal
    assert torch.device("cuda") != torch.device("cuda:0")


def test_cpu_and_none_normalise_to_the_cpu():
    assert normalize_device(None) == normalize_device("cpu") == normalize_device(torch.device("cpu"))
    assert same_device(torch.Generator().device, "cpu")


def test_unknown_device_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown device"):
        normalize_device("tpu:x")


def test_cuda_normalises_to_the_current_device_when_cuda_is_present(fake_cuda):
    assert normalize_device("cuda") == torch.device("cuda", 1)
    assert same_device("cuda", "cuda:1") and not same_device("cuda", "cuda:0")
    # resolve_device hands out indexed devices, so tensors and generators made from it agree
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(UsageError, match="not available"):
        resolve_device("cuda:2")


def test_auto_is_the_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(UsageError, match="no CUDA device"):
        resolve_device("cuda")


def test_index_buffer_on_the_generator_device_is_accepted():
    gen = torch.Generator(device=resolve_device("cpu")).manual_seed(3)
    out = torch.empty(64, dtype=torch.int64)
    assert uniform_indices(10, 64, gen, out=out) is out
    assert int(out.min()) >= 0 and int(out.max()) < 10
    with pytest.raises(UsageError, match="contiguous"):
        uniform_indices(10, 64, gen, out=torch.empty(65, dtype=torch.int64))


def test_budget_multiplier_is_1_on_the_cpu_and_100_on_cuda():
    assert budget_multiplier("cpu") == budget_multiplier(torch.device("cpu")) == budget_multiplier(None) == 1
    assert CUDA_BUDGET_MULTIPLIER == 100
    for name in ("cuda", "cuda:0", "cuda:3", torch.device("cuda")):
        assert budget_multiplier(name) == 100
    assert budget_multiplier("meta") == 1  # unmeasured device types keep the CPU budget


def test_device_module_compares_no_device_strings():
    # devices are compared through normalize_device only (the cuda / cuda:0 bug came from string equality)
    import inspect

    from emastats.montecarlo import bench, sampling
    for module in (device_module, sampling, bench):
        source = inspect.getsource(module)
        assert "str(device) ==" not in source and ".device !=" not in source and ".device ==" not in source
