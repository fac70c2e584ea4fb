"""The KV memory engine (SPEC 7): the KVMU's memory side, an AXI4 manager that stores each
token's K and V at its slot and fetches the selected clusters' pages in bursts."""

from .bursts import BurstSplitter
from .fetch import KvFetch
from .store import KvStore

__all__ = ["BurstSplitter", "KvFetch", "KvStore"]
