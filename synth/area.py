"""Silicon area at 14 nm from gate equivalents and memory bits, beside the paper's figures.

The V-Rex paper gives areas at 14 nm (SPEC 1): HCU 0.01 mm2, WTU 0.02 mm2, KVMU 0.01 mm2, with
about 20 KB of SRAM in the DRE. Yosys gives NAND2 equivalents and memory bits; the conversion
takes three figures, each stated with where it comes from:

- logic: a NAND2 equivalent is four transistors at the density of a foundry 14/16 nm process,
  about 28 million transistors per mm2 (Intel's 2017 comparison of "competing 14/16 nm"
  processes, in the NAND2/scan-flip-flop density metric Mark Bohr proposed; Intel's own 14 nm
  is 37.5), so 0.143 um2, placed at 70% utilisation (a usual standard-cell density, assumed);
- SRAM: the high-density 6T bit cell of Samsung's and GlobalFoundries' 14 nm process,
  0.064 um2 (WikiChip, 14 nm lithography process), at 50% array efficiency, assumed for
  macros of a few KB whose sense amplifiers and decoders weigh as much as their cells.

These are estimates to within a factor of about two, not a layout; they say whether the
generated logic is of the paper's order of size, not which is smaller.
"""

from __future__ import annotations

__all__ = ["NAND2_UM2", "UTILISATION", "SRAM_BIT_UM2", "ARRAY_EFFICIENCY", "logic_mm2",
           "sram_mm2", "PAPER_MM2", "paper_comparison"]

NAND2_UM2 = 4 / 28.0            # um2 per NAND2 equivalent: 4 transistors at 28 MTr/mm2
UTILISATION = 0.70              # placed cell area / block area
SRAM_BIT_UM2 = 0.064            # 14 nm high-density 6T bit cell
ARRAY_EFFICIENCY = 0.50         # bit cells / macro area for macros of a few KB

# The paper's areas at 14 nm (its KVMU is this project's retrieval controller).
PAPER_MM2 = {"hcu": 0.01, "wtu": 0.02, "controller": 0.01}


def logic_mm2(kge: float) -> float:
    return kge * 1000 * NAND2_UM2 / UTILISATION / 1e6


def sram_mm2(bits: int) -> float:
    return bits * SRAM_BIT_UM2 / ARRAY_EFFICIENCY / 1e6


def paper_comparison(figures: dict, *, with_paper: bool = True) -> dict:
    """Per unit of ``figures`` (kGE and memory bits, as ``vrex synth`` reports them) its area
    at 14 nm, logic and SRAM, beside the paper's (if ``with_paper``: the paper's figures are for
    its configuration, the ``default`` preset); prints the table."""
    rows = {}
    print(f"\nAt 14 nm (NAND2 {NAND2_UM2:.3f} um2 at {UTILISATION:.0%} utilisation; SRAM "
          f"{SRAM_BIT_UM2} um2/bit at {ARRAY_EFFICIENCY:.0%} efficiency; see docs/synth.md)")
    print(f"{'unit':12s} {'logic mm2':>10s} {'SRAM mm2':>9s} {'total mm2':>10s} "
          f"{'paper mm2':>10s} {'ours/paper':>11s}")
    for unit in figures:
        logic = logic_mm2(figures[unit]["kge"])
        sram = sram_mm2(figures[unit]["memory_bits"])
        paper = PAPER_MM2.get(unit, sum(PAPER_MM2.values()) if unit == "dre" else None) \
            if with_paper else None
        rows[unit] = {"logic_mm2": round(logic, 4), "sram_mm2": round(sram, 4),
                      "total_mm2": round(logic + sram, 4), "paper_mm2": paper}
        ratio = f"{(logic + sram) / paper:>10.1f}x" if paper else f"{'-':>11s}"
        print(f"{unit:12s} {logic:>10.4f} {sram:>9.4f} {logic + sram:>10.4f} "
              f"{paper if paper else '-':>10} {ratio}")
    return {"assumptions": {"nand2_um2": round(NAND2_UM2, 4), "utilisation": UTILISATION,
                            "sram_bit_um2": SRAM_BIT_UM2, "array_efficiency": ARRAY_EFFICIENCY},
            "units": rows}
