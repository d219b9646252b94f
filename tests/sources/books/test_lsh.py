"""The near-duplicate job's parts (sources/books/lsh.py): band buckets to candidate pairs (stars past
the cap), connected components with containment edges."""

from __future__ import annotations

from sources.books.lsh import UnionFind, bucket_pairs, pairs_capped
from sources.books.minhash import FAR, LARGE, NEAR, SMALL


# --- components ---------------------------------------------------------------------------------
def _components(edges, split=1):
    fn = UnionFind()
    parts = [fn.create_accumulator() for _ in range(split)]
    for i, (a, b) in enumerate(edges):
        fn.add_input(parts[i % split], (a, b, 1.0, 1.0))
    return fn.extract_output(fn.merge_accumulators(parts))


def test_union_find_keeps_the_longest_then_lowest_id():
    a, b, c, d, e = (-100, "b/a"), (-300, "b/b"), (-300, "b/c"), (-50, "b/d"), (-60, "b/e")
    for split in (1, 2, 3):
        labels = _components([(a, b), (c, b), (d, e)], split)
        assert labels == {"b/a": ("b/b", 3), "b/b": ("b/b", 3), "b/c": ("b/b", 3),
                          "b/d": ("b/e", 2), "b/e": ("b/e", 2)}


def test_inside_edges_drop_only_the_contained_book():
    # omnibuses a (300) and b (200, a near-copy b2); novel x (and its copy x2) inside both; c inside b
    a, b, b2, c, x, x2 = (-300, "a"), (-200, "b"), (-190, "b2"), (-150, "c"), (-100, "x"), (-100, "x2")
    edges = [(x, x2, 0.95, 0.97, "same"), (b, x, 0.3, 1.0, "inside"), (a, x, 0.25, 1.0, "inside"),
             (b, x2, 0.3, 1.0, "inside"), (b, b2, 0.93, 0.97, "same"), (b, c, 0.5, 0.95, "inside")]
    fn = UnionFind()
    for split in (1, 2, 3):
        for order in (edges, edges[::-1]):
            parts = [fn.create_accumulator() for _ in range(split)]
            for i, edge in enumerate(order):
                fn.add_input(parts[i % split], edge)
            labels = fn.extract_output(fn.merge_accumulators(parts))
            assert labels == {"a": ("a", 3), "x": ("a", 3), "x2": ("a", 3),
                              "b": ("b", 3), "b2": ("b", 3), "c": ("b", 3)}, (split, order)


# --- band buckets -------------------------------------------------------------------------------
def test_big_bucket_emits_a_star_not_all_pairs():
    members = [(1000 - i, f"id{i:03d}") for i in range(200)]
    pairs = list(bucket_pairs(("k", members)))
    assert len(pairs) == 199 and all(a == (-1000, "id000") for a, _ in pairs)
    assert len(list(bucket_pairs(("k", members[:5])))) == 10


def test_far_bucket_pairs_small_with_large_only_and_counts_a_cap():
    far = bytes([FAR]) + b"\x00\x00\x0c" + b"\x01" * 8
    members = [(9000, "large1", LARGE), (8000, "large2", LARGE), (900, "small1", SMALL), (800, "small2", SMALL)]
    pairs = sorted(bucket_pairs((far, members)))
    assert pairs == sorted(((-c1, i1), (-c2, i2)) for c1, i1, r1 in members[:2] for c2, i2, r2 in members[2:])
    assert pairs_capped((far, members)) == 0
    # 60 large x 60 small: past the cap, the largest book meets each small one; the rest is counted
    crowd = [(10_000 + i, f"l{i:02d}", LARGE) for i in range(60)] + [(100 + i, f"s{i:02d}", SMALL) for i in range(60)]
    star = list(bucket_pairs((far, crowd)))
    assert len(star) == 60 and {a for a, _ in star} == {(-10_059, "l59")}
    assert pairs_capped((far, crowd)) == 60 * 60 - 60
    near = bytes([NEAR]) + b"\x00\x00\x0c" + b"\x01" * 12
    assert len(list(bucket_pairs((near, crowd)))) == 119 and pairs_capped((near, crowd)) == 120 * 119 // 2 - 119
