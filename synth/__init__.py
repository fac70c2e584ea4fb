"""Synthesis flows and area/timing reports for the DRE."""
