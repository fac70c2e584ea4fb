"""Stimulus and checkers that show the RTL and the golden model agree."""
