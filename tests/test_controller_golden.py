"""Cluster-paged layout and descriptors (SPEC 4)."""

from hypothesis import given
from hypothesis import strategies as st

from vrex.golden.controller import PagedLayout

import spec_reference as ref
from conftest import small_config


def test_hand_worked_example():
    # Two slots a page, three pages.
    cfg = small_config(page_tokens=2, max_pages=3)
    layout = PagedLayout(cfg)
    slots = layout.place([0, 0, 0, 1, 0, 1, 1, 2])
    ns = cfg.no_slot
    # c0 fills page 0 (slots 0, 1), links page 1 (slot 2); c1 takes page 2 (slot 4);
    # c0 finishes page 1 (slot 3); c1 finishes page 2 (slot 5); then the pool is empty.
    assert slots.tolist() == [0, 1, 2, 4, 3, 5, ns, ns]
    assert layout.overflow
    assert layout.descriptors([True, True, False]).tolist() == [[0, 2], [1, 2], [2, 2]]
    assert layout.descriptors([False, True, True]).tolist() == [[2, 2]]
    assert layout.descriptors([False, False, True]).shape == (0, 2)


@given(data=st.data())
def test_slots_unique_and_never_overwritten(data):
    cfg = small_config(page_tokens=data.draw(st.integers(1, 4)),
                       max_pages=data.draw(st.integers(1, 6)), max_clusters=5)
    clusters = data.draw(st.lists(st.integers(0, 4), max_size=40))
    layout = PagedLayout(cfg)
    slots = []
    for c in clusters:                              # one token at a time, as the HCU emits
        slots += layout.place([c]).tolist()
    stored = [s for s in slots if s != cfg.no_slot]
    assert len(stored) == len(set(stored))          # no slot handed out twice
    assert all(0 <= s < cfg.max_pages * cfg.page_tokens for s in stored)
    assert layout.overflow == (len(stored) < len(slots))
    # Every stored token sits in a page of its own cluster's chain.
    for c, s in zip(clusters, slots):
        if s != cfg.no_slot:
            assert s // cfg.page_tokens in layout.chains[c]
    # Descriptors of everything cover exactly the stored tokens.
    every = layout.descriptors([True] * 5)
    assert every[:, 1].sum() == len(stored)
    r = ref.LayoutRef(cfg)
    assert [r.place(c) for c in clusters] == slots
    assert every.tolist() == [list(d) for d in r.descriptors([True] * 5)]
