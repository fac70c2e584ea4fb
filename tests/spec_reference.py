"""A second, deliberately naive reading of SPEC.md: plain Python loops over Python ints.

The golden model is vectorised for speed; this file is written line by line from the spec text
(and the SPEC 5 schedule, walked one digit at a time) so that the tests can hold the two against
each other. It favours being obviously right over being fast.
"""

import functools
from dataclasses import dataclass


def popcount(x: int) -> int:
    return bin(x).count("1")


# --- SPEC 2 -----------------------------------------------------------------------------------

@dataclass
class HcuRef:
    cluster: list
    counts: list
    hashes: list
    overflow: bool
    compare_cycles: int


def hcu(hashes, cfg, *, early_exit=True, state=None) -> HcuRef:
    st = state or HcuRef([], [], [], False, 0)
    for x in (int(h) for h in hashes):
        n = len(st.hashes)
        full = n == cfg.max_clusters
        d = [popcount(x ^ h) for h in st.hashes]
        st.compare_cycles += _compare_walk(x, st.hashes, cfg, full, early_exit)
        near = [c for c in range(n) if d[c] < cfg.th_hd]
        if near:
            best = min(d)
            c = d.index(best)                       # smallest id among the nearest
        elif not full:
            c = n
            st.hashes.append(x)
            st.counts.append(0)
        else:
            c = d.index(min(d))
            st.overflow = True
        st.counts[c] = min(st.counts[c] + 1, (1 << cfg.count_bits) - 1)
        st.cluster.append(c)
    return st


def _gap(x, h, t, cfg) -> int:
    """SPEC 5's lower bound of digit t's differing bits: the popcount gaps of its whole
    hcu_segment-bit segments, from its least significant bit."""
    seg = cfg.hcu_segment
    total = 0
    for k in range(cfg.digit // seg if seg else 0):
        mask = ((1 << seg) - 1) << (t * cfg.digit + k * seg)
        total += abs(popcount(x & mask) - popcount(h & mask))
    return total


def _compare_walk(x, table, cfg, full, early_exit) -> int:
    """SPEC 5: lanes compare groups of clusters digit by digit, LSB digit first; a lane stops
    once the differing bits so far plus the later digits' gaps reach the bound."""
    n = len(table)
    digits = -(-cfg.hash_bits // cfg.digit)
    bound = cfg.hash_bits + 1 if full else cfg.th_hd
    cycles = 0
    for first in range(0, n, cfg.hcu_lanes):
        if early_exit and bound == 0:
            break                                   # a zero distance ends the search
        group = range(first, min(first + cfg.hcu_lanes, n))
        partial = {c: 0 for c in group}
        running = set(group)
        compared_all = set()
        t = 0
        while running:
            t += 1
            lo = (t - 1) * cfg.digit
            mask = ((1 << cfg.digit) - 1) << lo
            for c in sorted(running):
                partial[c] += popcount((x ^ table[c]) & mask)
                ahead = sum(_gap(x, table[c], u, cfg) for u in range(t, digits))
                if t == digits:
                    running.discard(c)
                    compared_all.add(c)
                elif early_exit and partial[c] + ahead >= bound:
                    running.discard(c)
        cycles += t
        finished = [partial[c] for c in group if c in compared_all and partial[c] < bound]
        if finished:
            bound = min(bound, min(finished))
    return cycles


# --- SPEC 3 -----------------------------------------------------------------------------------

@dataclass
class WtuRowRef:
    select: list
    exit_bucket: int
    threshold: int
    total: int


@functools.lru_cache(maxsize=None)
def exp_word(f, q, W):
    """SPEC 3.1: the largest integer e with e**(2**q) <= 2**(W * 2**q - f), capped at
    2**W - 1; a float estimate corrected by exact integer steps (a different search from
    the model's bisection)."""
    limit = 2 ** (W * 2 ** q - f)
    e = int(2.0 ** (W - f / 2 ** q))
    while e ** (2 ** q) > limit:
        e -= 1
    while (e + 1) ** (2 ** q) <= limit:
        e += 1
    return min(e, 2 ** W - 1)


def spec_values(s, cfg):
    """SPEC 3's v[j] of one row in each mode."""
    if cfg.mode == 0:
        low = min(s)
        return [x - low for x in s]
    if cfg.mode == 1:
        return [max(x, 0) for x in s]
    q, W = cfg.exp_frac, cfg.exp_bits
    top = max(s)
    return [exp_word((top - x) % 2 ** q, q, W) >> ((top - x) // 2 ** q) for x in s]


def wtu_row(scores, counts, cfg) -> WtuRowRef:
    s = [int(v) for v in scores]
    cnt = [int(v) for v in counts]
    v = spec_values(s, cfg)
    total = sum(vj * cj for vj, cj in zip(v, cnt))
    threshold = (total * cfg.ratio) >> 16
    # Buckets over the values; in mode exp over the scores.
    key = s if cfg.mode == 2 else v
    lo, hi = min(key), max(key)
    B = cfg.buckets
    w = (hi - lo) // B + 1
    b = [(hi - kj) // w for kj in key]
    e = B - 1
    for bucket in range(B):
        a = sum(v[j] * cnt[j] for j in range(len(v)) if b[j] <= bucket)
        if a > threshold:
            e = bucket
            break
    return WtuRowRef([bj <= e for bj in b], e, threshold, total)


def wtu_exact_row(scores, counts, cfg) -> list:
    s = [int(v) for v in scores]
    cnt = [int(v) for v in counts]
    v = spec_values(s, cfg)
    threshold = (sum(a * c for a, c in zip(v, cnt)) * cfg.ratio) >> 16
    # Highest first: by value, in mode exp by score (values floor to ties there).
    rank = s if cfg.mode == 2 else v
    order = sorted(range(len(v)), key=lambda j: (-rank[j], j))
    chosen, running = [], 0
    for j in order:
        chosen.append(j)
        running += v[j] * cnt[j]
        if running > threshold:
            break
    return [j in chosen for j in range(len(v))]


# --- SPEC 4 -----------------------------------------------------------------------------------

class LayoutRef:
    def __init__(self, cfg):
        self.cfg = cfg
        self.chains = {}
        self.fill = {}
        self.next_free = 0
        self.overflow = False
        self.written = set()

    def place(self, c) -> int:
        P = self.cfg.page_tokens
        chain = self.chains.setdefault(c, [])
        if chain and self.fill[chain[-1]] < P:
            page = chain[-1]
        elif self.next_free < self.cfg.max_pages:
            page = self.next_free
            self.next_free += 1
            chain.append(page)
            self.fill[page] = 0
        else:
            self.overflow = True
            return (1 << (self.cfg.max_pages * P).bit_length()) - 1
        slot = page * P + self.fill[page]
        self.fill[page] += 1
        return slot

    def descriptors(self, select):
        return [(page, self.fill[page])
                for c, chosen in enumerate(select) if chosen
                for page in self.chains.get(c, [])]


# --- SPEC 6 dre -------------------------------------------------------------------------------

def dre(hashes, frame_end, query_after, query_rows, scores, cfg):
    state = HcuRef([], [], [], False, 0)
    layout = LayoutRef(cfg)
    slots, selects, descriptors = [], [], []
    row, q, start = 0, 0, 0
    for f, end in enumerate(frame_end):
        before = len(state.cluster)
        hcu(hashes[start:end], cfg, state=state)
        for c in state.cluster[before:]:
            slots.append(layout.place(c))
        start = end
        while q < len(query_after) and query_after[q] == f:
            n = len(state.hashes)
            sel = [False] * cfg.max_clusters
            for r in range(row, row + query_rows[q]):
                if n:
                    rr = wtu_row(scores[r][:n], state.counts, cfg)
                    sel[:n] = [a or b for a, b in zip(sel[:n], rr.select)]
            row += query_rows[q]
            selects.append(sel)
            descriptors += [(q, page, t) for page, t in layout.descriptors(sel)]
            q += 1
    return {
        "cluster": state.cluster, "slot": slots, "select": selects, "descriptors": descriptors,
        "cluster_overflow": state.overflow, "page_overflow": layout.overflow,
    }
