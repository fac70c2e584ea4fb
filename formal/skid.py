"""The stream registers between the DRE's units (rtl/skid.py), unbounded: under free beats
(the stream rule assumed) and free back-pressure, the output keeps the stream rule and carries
exactly the input's beats, in order, none lost or repeated."""

from amaranth.hdl import Assert, Cover, Signal

from vrex.rtl.skid import Forward, Skid

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["stage_harness"]


def stage_harness(*, kind="skid", width=3, unit=None):
    """``kind``: ``skid`` or ``forward``. A stage holds at most one beat, so a one-beat shadow
    of the oldest beat inside checks the order. ``unit``: the class (a test passes a broken
    one), by default the kind's."""
    m, ports = harness_module()
    m.submodules.dut = dut = (unit or {"skid": Skid, "forward": Forward}[kind])(width)
    free_inputs(m, dut)
    stream_rule(m, dut.i, assume=True, name="i")
    stream_rule(m, dut.o, assume=False, name="o")
    taken_in = dut.i.valid & dut.i.ready
    taken_out = dut.o.valid & dut.o.ready
    inside = Signal(range(3))
    shadow = Signal(width)                     # the beat inside, if one is
    m.d.sync += inside.eq(inside + taken_in - taken_out)
    with m.If(taken_in):
        m.d.sync += shadow.eq(dut.i.payload)
    # The beat offered is the one inside or (a skid, empty) the one coming in this cycle.
    passing = Signal()
    if kind == "skid":
        m.d.comb += passing.eq((inside == 0) & taken_in & (dut.o.payload == dut.i.payload))
    # The invariant that makes it inductive: the stage's own flag says whether a beat is
    # inside (a skid's ready is its empty flag, a forward register's valid its full flag).
    full = ~dut.i.ready if kind == "skid" else dut.o.valid
    m.d.comb += Assert(inside == full, "inside_as_the_stage_says")
    m.d.comb += [
        Assert(inside <= 1, "one_beat_inside"),
        Assert(~dut.o.valid | (inside == 1) | passing, "no_beat_from_nowhere"),
        Assert(~(dut.o.valid & (inside == 1)) | (dut.o.payload == shadow), "in_order"),
        Cover(taken_in & ~dut.o.ready, "a_beat_held"),
    ]
    return m, ports
