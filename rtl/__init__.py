"""Amaranth RTL of the DRE units (HCU, WTU, retrieval controller)."""
