"""Numeric parameters: non-finite or absurd values are refused with one message per option, whichever
command gets them (issue 11, part H)."""
from __future__ import annotations

import os

import pytest

from emastats import params
from emastats.cli import main
from emastats.errors import UsageError

# every command that takes each option
SEED_COMMANDS = (["verify", "--no-report"], ["study", "sgd-noise", "--quick"])
BAD_SEEDS = ["-1", "1e23", "2.5", "nan", "inf", str(2**63), "9" * 5000, "seven", ""]
BAD_TIME_LIMITS = ["nan", "inf", "-inf", "1e308", "0", "-1", "86401", "abc", ""]
BAD_JOBS = ["0", "-3", "1.5", "100000", "nan", "x"]


def _one_line_error(argv, capsys) -> str:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("emastats: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize("value", BAD_SEEDS)
def test_bad_seed_has_the_same_message_for_every_command(value, capsys, tmp_path):
    messages = {_one_line_error([*cmd, "--store", str(tmp_path), f"--seed={value}"], capsys) for cmd in SEED_COMMANDS}
    assert len(messages) == 1, messages
    assert "--seed must be an integer in [0, 2^63)" in messages.pop()


@pytest.mark.parametrize("value", BAD_TIME_LIMITS)
def test_bad_time_limit_is_refused(value, capsys):
    err = _one_line_error(["prove", f"--time-limit={value}"], capsys)
    assert "--time-limit must be a number of seconds in (0, 86400]" in err


@pytest.mark.parametrize("value", BAD_JOBS)
def test_bad_jobs_is_refused(value, capsys):
    assert "--jobs must be an integer from 1 to" in _one_line_error(["prove", f"--jobs={value}"], capsys)


@pytest.mark.parametrize("value", ["100000", "0", "-1", "1.5", "lots", "1e3"])
@pytest.mark.parametrize("argv", [["prove", "--claim", "ema.geometric_sum"], ["verify", "--no-report"],
                                  ["study", "sgd-noise", "--quick"], ["bench", "--quick"]])
def test_bad_thread_count_is_refused_by_every_command(value, argv, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("EMASTATS_CPU_THREADS", value)
    err = _one_line_error([*argv, *(["--store", str(tmp_path)] if argv[0] in ("verify", "study") else [])], capsys)
    assert "EMASTATS_CPU_THREADS must be an integer from 1 to" in err


def test_good_values_are_converted():
    class Args:
        seed, time_limit, jobs = "7", "2.5", "1"

    args = params.check(Args())
    assert (args.seed, args.time_limit, args.jobs) == (7, 2.5, 1)
    assert params.seed(0) == 0 and params.seed(2**63 - 1) == 2**63 - 1
    assert params.time_limit(30.0) == 30.0 and params.time_limit("86400") == 86400.0
    assert params.cpu_threads(str(os.cpu_count() or 1)) == (os.cpu_count() or 1)
    with pytest.raises(UsageError):
        params.seed(True)
