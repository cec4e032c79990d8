"""Every output file goes through one exclusive-create, fsync, rename helper (issue 11, part F)."""
from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

import pytest

from emastats import files as files_module
from emastats.cli import main
from emastats.errors import OutputFileError
from emastats.files import write_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def umask():
    def set_mask(mask: int) -> None:
        os.umask(mask)

    old = os.umask(0o022)
    yield set_mask
    os.umask(old)


def test_permissions_follow_the_umask(tmp_path, umask):
    umask(0o022)
    assert _mode(write_atomic(tmp_path / "a.json", "{}")) == 0o644
    umask(0o027)
    assert _mode(write_atomic(tmp_path / "b.json", "{}")) == 0o640
    assert _mode(write_atomic(tmp_path / "a.json", "[]")) == 0o640  # a rewrite takes the current umask too


def test_planted_symlinks_are_never_followed(tmp_path, monkeypatch):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    # the old predictable temporary name, and the next random name the helper will draw
    (out / ".fig.png.tmp").symlink_to(outside)
    names = itertools.chain(["0" * 16], (f"{i:016x}" for i in itertools.count(1)))
    monkeypatch.setattr(files_module.secrets, "token_hex", lambda n: next(names))
    (out / f".fig.png.{'0' * 16}.tmp").symlink_to(outside)
    write_atomic(out / "fig.png", b"\x89PNG new")
    assert outside.read_text() == "precious"
    assert (out / "fig.png").read_bytes() == b"\x89PNG new"
    # a symlink at the target itself is replaced by a regular file, never written through
    (out / "index.html").symlink_to(outside)
    write_atomic(out / "index.html", "<p>report</p>")
    assert outside.read_text() == "precious"
    assert not (out / "index.html").is_symlink() and (out / "index.html").read_text() == "<p>report</p>"


def test_disk_full_keeps_the_old_file_names_the_path_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    write_atomic(target, "old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "fsync", disk_full)
    with pytest.raises(OutputFileError, match=r"summary\.json: No space left on device"):
        write_atomic(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert _temporaries(tmp_path) == []


def test_interrupt_between_write_and_rename_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "fig.png"
    write_atomic(target, b"old")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(files_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and _temporaries(tmp_path) == []


def test_unwritable_output_is_exit_2_with_the_path(tmp_path, capsys):
    """A folder that cannot be created (a file is in the way) is the user's error, not an internal one."""
    from emastats.report.store import ResultStore

    store = tmp_path / "store"
    ResultStore(store).save_document({"schema": "emastats.study/1", "name": "s", "meta": {}})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", "--store", str(store), "--out", str(blocker / "reports")]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and str(blocker / "reports") in err and err.count("\n") == 1


def test_disk_full_during_report_is_exit_2_with_the_path(tmp_path, capsys, monkeypatch):
    from emastats.report.store import ResultStore

    store = tmp_path / "store"
    ResultStore(store).save_document({"schema": "emastats.study/1", "name": "s", "meta": {}})

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "fsync", disk_full)
    assert main(["report", "--store", str(store), "--out", str(tmp_path / "out")]) == 2
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "No space left on device" in err and str(tmp_path / "out") in err and "internal error" not in err
    assert _temporaries(tmp_path / "out") == []


def test_report_files_are_readable_by_others(tmp_path, umask):
    from emastats.report import render
    from emastats.report.store import ResultStore

    umask(0o022)
    store = tmp_path / "store"
    record = ResultStore(store).save_document({"schema": "emastats.study/1", "name": "s", "meta": {}})
    report = render(store, tmp_path / "out", hasher=lambda cid: None)
    for path in (record, report.html, report.markdown, report.summary, *report.figures):
        assert _mode(path) == 0o644, path


def test_figures_folder_planted_as_a_symlink_is_refused(tmp_path, capsys):
    """Pruning old PNGs through a planted figures/ link would delete files elsewhere."""
    from emastats.report.store import ResultStore

    store = tmp_path / "store"
    ResultStore(store).save_document({"schema": "emastats.study/1", "name": "s", "meta": {}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "holiday.png").write_bytes(b"\x89PNG")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "figures").symlink_to(elsewhere)
    assert main(["report", "--store", str(store), "--out", str(tmp_path / "out")]) == 2
    assert "is a symbolic link" in capsys.readouterr().err
    assert (elsewhere / "holiday.png").read_bytes() == b"\x89PNG"
