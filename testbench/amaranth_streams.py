"""``lib.stream`` drivers for Amaranth-simulator testbenches, with random idles and stalls."""

__all__ = ["put", "take", "run_streams"]


async def put(ctx, port, payload, rng, idle: float = 0.0):
    """Offer one beat after random idle cycles; hold it, unchanged, until it is taken."""
    while rng.random() < idle:
        await ctx.tick()
    ctx.set(port.valid, 1)
    ctx.set(port.payload, payload)
    await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


async def take(ctx, port, rng, stall: float = 0.0):
    """Take one beat after random stall cycles; returns its payload."""
    while rng.random() < stall:
        await ctx.tick()
    ctx.set(port.ready, 1)
    payload, = await ctx.tick().sample(port.payload).until(port.valid)
    ctx.set(port.ready, 0)
    return payload


async def run_streams(ctx, sources, sinks, done, rng, *, idle: float = 0.0,
                      stall: float = 0.0, limit: int = 50_000):
    """Drive several streams from one process, cycle by cycle, until ``done(received)``.

    ``sources`` maps an input port to its list of payloads, ``sinks`` is a list of output
    ports. A source offers its next beat after idling (chance ``idle`` a cycle) and holds it
    until it is taken; a sink is ready unless it stalls (chance ``stall`` a cycle). Returns
    ``(received, first_in, last_out)``: the payloads taken per sink, and the cycles of the
    first input beat offered and of the last output handshake.
    """
    pending = {port: list(beats) for port, beats in sources.items()}
    offering = dict.fromkeys(sources, False)      # a beat once offered stays until taken
    received = {port: [] for port in sinks}
    first_in = last_out = None
    signals = []
    for port in sources:
        signals += [port.ready]
    for port in sinks:
        signals += [port.valid, port.payload]
    for cycle in range(limit):
        if done(received) and not any(pending.values()):
            break
        offers = {}
        for port, beats in pending.items():
            offers[port] = bool(beats) and (offering[port] or rng.random() >= idle)
            offering[port] = offers[port]
            ctx.set(port.valid, offers[port])
            if offers[port]:
                ctx.set(port.payload, beats[0])
                first_in = cycle if first_in is None else first_in
        wants = {port: rng.random() >= stall for port in sinks}
        for port, want in wants.items():
            ctx.set(port.ready, want)
        _, _, *sampled = await ctx.tick().sample(*signals)
        for port in sources:
            ready = sampled.pop(0)
            if offers[port] and ready:
                pending[port].pop(0)
                offering[port] = False
        for port in sinks:
            valid, payload = sampled.pop(0), sampled.pop(0)
            if wants[port] and valid:
                received[port].append(payload)
                last_out = cycle
    else:
        left = {str(p.payload): len(b) for p, b in pending.items() if b}
        raise AssertionError(f"streams still running after {limit} cycles; beats left to "
                             f"send: {left}, received: "
                             f"{ {str(p.payload): len(r) for p, r in received.items()} }")
    for port in sources:
        ctx.set(port.valid, 0)
    for port in sinks:
        ctx.set(port.ready, 0)
    return received, first_in, last_out
