"""Formal proofs of the DRE's units (SymbiYosys from YoWASP, with Yices from PyPI)."""
