"""The sample notes shipped in examples/ give exactly the findings examples/README.md lists."""
from __future__ import annotations

import json
import re

from conftest import REPO, run_cli


def test_sample_notes_give_the_documented_errors(tmp_path):
    listed = re.findall(r"^\| (\d+) \|.*\| (AUD\d{3}) ", (REPO / "examples" / "README.md").read_text(), re.M)
    result = run_cli("audit", "examples/optimisers-notes.md", "--format", "json")
    assert result.returncode == 1, result.stderr  # exit 1: the notes have errors
    payload = json.loads(result.stdout)
    doc = payload["documents"][0] if "documents" in payload else payload[0]
    errors = sorted((str(f["line"]), f["code"]) for f in doc["findings"] if f["severity"] == "error")
    assert errors == sorted(listed) and len(errors) == 4
