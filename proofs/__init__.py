"""Readable sympy proofs, one script per topic; run any of them on its own."""
