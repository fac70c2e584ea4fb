"""The stream registers between the DRE's units (rtl/skid.py), unbounded: under free beats
(the stream rule assumed) and free back-pressure, the output keeps the stream rule and carries
exactly the input's beats, in order, none lost or repeated."""

from amaranth.hdl import Assert, Cover, Signal, Value

from vrex.rtl.skid import Forward, Skid

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["stage_harness", "watch_stage"]


def stage_harness(*, kind="skid", width=3, unit=None):
    """``kind``: ``skid`` or ``forward``. A stage holds at most one beat, so a one-beat shadow
    of the oldest beat inside checks the order. ``unit``: the class (a test passes a broken
    one), by default the kind's."""
    m, ports = harness_module()
    m.submodules.dut = dut = (unit or {"skid": Skid, "forward": Forward}[kind])(width)
    free_inputs(m, dut)
    watch_stage(m, dut, kind=kind, name="stage", assume=True)
    m.d.comb += Cover(dut.i.valid & dut.i.ready & ~dut.o.ready, "a_beat_held")
    return m, ports


def watch_stage(m, dut, *, kind, name, assume):
    """The properties and the invariant of a stage in ``m``, the stream rule on its input
    assumed (``assume``, the stage alone) or asserted (inside the DRE). Returns how many
    beats are inside (0 or 1) and the one inside."""
    stream_rule(m, dut.i, assume=assume, name=f"{name}_i")
    stream_rule(m, dut.o, assume=False, name=f"{name}_o")
    width = len(Value.cast(dut.i.payload))
    taken_in = dut.i.valid & dut.i.ready
    taken_out = dut.o.valid & dut.o.ready
    inside = Signal(range(3), name=f"{name}_inside")
    shadow = Signal(width, name=f"{name}_shadow")     # the beat inside, if one is
    m.d.sync += inside.eq(inside + taken_in - taken_out)
    with m.If(taken_in):
        m.d.sync += shadow.eq(dut.i.payload)
    # The beat offered is the one inside or (a skid, empty) the one coming in this cycle.
    passing = Signal(name=f"{name}_passing")
    if kind == "skid":
        m.d.comb += passing.eq((inside == 0) & taken_in & (dut.o.payload == dut.i.payload))
    # The invariant that makes it inductive: the stage's own flag says whether a beat is
    # inside (a skid's ready is its empty flag, a forward register's valid its full flag).
    full = ~dut.i.ready if kind == "skid" else dut.o.valid
    m.d.comb += [
        Assert(inside == full, f"{name}_inside_as_the_stage_says"),
        Assert(inside <= 1, f"{name}_one_beat_inside"),
        Assert(~dut.o.valid | (inside == 1) | passing, f"{name}_no_beat_from_nowhere"),
        Assert(~(dut.o.valid & (inside == 1)) | (Value.cast(dut.o.payload) == shadow),
               f"{name}_in_order"),
    ]
    return dict(inside=inside, shadow=shadow)
