"""The WiCSum threshold unit (WTU): bucketed WiCSum selection of clusters for a query batch.

Function: SPEC 3 (golden model ``vrex.golden.wtu``). Schedule (docs/wtu.md, cycle model in
``vrex.golden.wtu.wtu_cycles``): per row a load pass that folds min, max and the weighted total
as the beats arrive, the row setup (threshold and bucket width), then selection passes from
the top bucket that stop as soon as the running sum passes the threshold (early exit). The
row's mask leaves while the next row loads; the OR of the rows' masks leaves after the last
row. A batch is ``ceil(columns / lanes)`` count beats, then per row as many score beats, the
last beat of the last row flagged ``last``.

The stages, each a component with its latency as a property (``WTU.latencies``, which a test
holds equal to the cycle model's constants):

- ``lanes.LanePipeline``: operands, products and adder trees of every beat, and the row's
  statistics;
- ``setup.RowSetup``: from the statistics to the bucket width, total and threshold;
- ``schedule.Selection``: which beats to issue, and the exit bucket (scan or histogram);
- ``emitter.MaskEmitter``: the row's mask and ``o_row`` beat, then the final mask;
- ``unit.WTU``: the ports, the row buffers and the batch's sequence of them.

Mode ``exp`` (SPEC 3.1) weighs a cluster by ``E[d mod 2**q] >> (d >> q)``, ``d`` its score's
distance below the row's maximum: a ROM and a shifter in each lane, no multiplier. The ROM's
words come from ``vrex.golden.expweight.exp_table``, the spec's one definition of them.
"""

from .unit import WTU

__all__ = ["WTU"]
