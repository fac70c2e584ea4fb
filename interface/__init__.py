"""The DRE's interface, owned in one place: its streams' payload layouts, its registers and
their fields, and the codec between SPEC 6 vectors and stream beats.

Layering: ``golden`` (what the DRE computes) imports nothing of the project; this layer
imports only ``golden`` and Amaranth's shapes and layouts (no design); the RTL, the
testbenches, the board, the host driver and the scripts take every layout, register offset
and beat format from here.
"""
