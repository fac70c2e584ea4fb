"""``lib.stream`` drivers for Amaranth-simulator testbenches, with random idles and stalls."""

__all__ = ["put", "take"]


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
