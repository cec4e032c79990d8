"""Static look at the fused kernels without a GPU: compile for sm_90 and count the SASS of their loops.

Usage: ``python benchmarks/kernel_static.py`` (triton installed, TRITON_INTERPRET unset).

For each kernel it prints the registers and stack (spills) per thread from ``cuobjdump
--dump-resource-usage``, and the instruction count of each loop (a backward branch's body). With
the work one loop iteration does per thread, that gives an issue-bound ceiling: an H200 issues
about 132 SMs x 4 schedulers x 1.98e9 cycles = 1.05e12 warp-instructions per second. It ignores
memory latency, occupancy and dual issue, so it is a ceiling to compare designs by, not a measurement.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import triton

from emastats.montecarlo.triton_kernels import compile_for_cuda

TOOL = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"


def loops(sass: str) -> list[tuple[int, Counter]]:
    """(length, opcode counts) of every loop body: the instructions from a backward branch's target to it."""
    found = [(int(m.group(1), 16), m.group(2).strip()) for m in re.finditer(r"/\*([0-9a-f]{4})\*/\s+(.*?);", sass)]
    where = {address: i for i, (address, _) in enumerate(found)}
    bodies = []
    for i, (address, text) in enumerate(found):
        target = re.search(r"BRA.*0x([0-9a-f]+)", text)
        if target and int(target.group(1), 16) <= address and int(target.group(1), 16) in where:
            start = where[int(target.group(1), 16)]
            ops = [t.split()[1] if t.startswith("@") else t.split()[0] for _, t in found[start:i + 1]]
            if len(ops) > 1:
                bodies.append((len(ops), Counter(op.split(".")[0] for op in ops)))
    return bodies


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for name, cubin in compile_for_cuda(90).items():
            path = Path(tmp) / f"{name}.cubin"
            path.write_bytes(cubin)
            usage = subprocess.run([TOOL, "--dump-resource-usage", path], capture_output=True, text=True).stdout
            regs = re.search(r"REG:(\d+) STACK:(\d+)", usage)
            sass = subprocess.run([TOOL, "-sass", path], capture_output=True, text=True).stdout
            print(f"{name}: {regs.group(1)} registers, {regs.group(2)} bytes of stack per thread")
            for length, ops in loops(sass):
                print(f"    loop of {length} instructions: {dict(ops.most_common(6))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
