"""Bit-exact NumPy golden model of the DRE: the single definition of what it computes."""
