"""The symbolic toolkit shared by the proofs in proofs/."""
