"""The parts of the flow's report.md that make it read on its own: the configuration with units
and meanings, the clock its cycle counts are turned into time at, and a glossary of every term
its tables use."""

from __future__ import annotations

from vrex.golden.config import PARAMETER_DOCS, Config

__all__ = ["config_markdown", "report_clock", "glossary_markdown"]

_TERMS = [
    ("head", "one KV head of the trace; each runs through the DRE on its own"),
    ("tokens", "keys (with their values) of one KV head entering the cache"),
    ("clusters", "groups of tokens whose hashes are within th_hd bits of their first token's "
                "(the HCU's grouping; `vrex eval` counts the clusters a selection keeps)"),
    ("tokens/cluster", "tokens clustered divided by clusters formed"),
    ("queries", "points where the model attends to the cache: here a frame's sampled query "
              "rows, or the text's"),
    ("retrieval ratio", "per query, the tokens its descriptors fetch divided by the tokens "
                        "stored at that moment, averaged over queries (lower fetches less)"),
    ("descriptors", "(page, tokens) fetch requests the controller emits, one per page of "
                    "a selected cluster"),
    ("overflow", "cluster_overflow: a token found the cluster table full and joined the "
                 "nearest cluster; page_overflow: a token found no free page (no slot)"),
    ("HCU cycles", "clock cycles the golden cycle model gives the HCU for the head's tokens, "
                   "with the early exit; 'no early exit' compares every digit"),
    ("WTU cycles", "clock cycles of the WTU for the last query's rows (golden cycle model)"),
    ("DRE cycles", "clock cycles of the whole DRE for the head's stream, first input beat to "
                   "last output beat, streams never stalled (the RTL equals it)"),
    ("time", "DRE cycles at the clock stated above the table"),
    ("tokens/s", "tokens divided by that time: the rate the DRE keeps up with"),
    ("kGE", "thousand NAND2 gate equivalents of the unit's logic (Yosys, generic cells)"),
    ("memory bits", "bits of RAM and ROM, counted apart from the logic"),
    ("area at 14 nm", "logic at 0.143 um2 a NAND2 and 70% utilisation plus SRAM at 0.064 um2 "
                      "a bit and 50% efficiency (docs/synth.md); the paper's figures are at "
                      "14 nm"),
    ("LUT4 / FF / Fmax", "FPGA look-up tables, flip-flops and the highest clock nextpnr's "
                         "timing analysis allows after place and route"),
    ("perplexity", "exp of the mean negative log-likelihood of the next token (lower is "
                   "better)"),
    ("KL", "mean Kullback-Leibler divergence of the next-token distribution from full "
           "attention's, in nats"),
    ("top-1 agreement", "share of positions where the most likely next token is full "
                        "attention's"),
    ("keep-all choices", "layer and head choices where the selection kept every older token"),
    ("vs full", "perplexity change against full attention"),
    ("accuracy", "share of positions where the most likely next token is the text's"),
    ("retrieved", "share of the older tokens (beyond the recent window) a method kept, mean "
                  "over layer and head choices; prefill and text steps apart, with medians"),
    ("paper mm2", "the V-Rex paper's area for the unit at 14 nm (its configuration)"),
]


def config_markdown(config: Config) -> list[str]:
    """The configuration as a table: value, unit, meaning; ratio as a fraction."""
    lines = ["## Configuration", "", "| parameter | value | unit | meaning |", "|---|---|---|---|"]
    for name in config.names():
        value = getattr(config, name)
        shown = (f"{value / 65536:.4f} (Q0.16 {value})" if name == "ratio"
                 else value.name.lower() if hasattr(value, "name") else str(value))
        unit, meaning = PARAMETER_DOCS[name]
        lines.append(f"| {name} | {shown} | {unit} | {meaning} |")
    return lines


def report_clock(synth: dict | None) -> tuple[float, str]:
    """The clock the report turns cycles into time at: the DRE's ECP5 Fmax when the flow placed
    and routed it, else the ECP5 target of 100 MHz, said as such."""
    ecp5 = ((synth or {}).get("units", {}).get("dre") or {}).get("ecp5") or {}
    if ecp5.get("fmax_mhz"):
        return ecp5["fmax_mhz"], f"the DRE's ECP5 Fmax from this flow, {ecp5['fmax_mhz']:.1f} MHz"
    return 100.0, ("100 MHz, the ECP5 target the default DRE meets (docs/synth.md; "
                   "`vrex flow --synth full` measures it)")


def glossary_markdown() -> list[str]:
    return ["## Glossary", ""] + [f"- **{term}**: {meaning}" for term, meaning in _TERMS]
