"""Book-level near-duplicate removal as Beam transforms: signatures (`sources.books.minhash`),
LSH band keys grouped by a shuffle, verified candidate pairs, connected components, one
survivor per cluster.

Verified pairs are of two kinds. Near-copies (Jaccard >= 0.9) are joined into clusters, the
longest book kept. A book inside a larger one (containment only) is dropped in favour of the
larger, which the pair does not touch: two omnibuses that share one novel are both kept, the
novel alone is dropped (connected components would have merged all three into one survivor).
"""

from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam import pvalue

from pipeline import stats
from pipeline.document import ErrorRecord, Rejected
from pipeline.filters import ERRORS, REJECTED
from sources.books.minhash import FAR, LARGE, SMALL, LshParams, Signer, estimate_overlap, is_duplicate, lsh_keys

# A band bucket with more books than this emits a star (its survivor-ranked first book paired
# with each other) instead of all pairs, so a book copied 10,000 times costs 10,000 pairs and
# not 50 million; the other bands still offer the pairs the star leaves out. A far-family bucket
# is cut down the same way past as many small x large pairs (its largest book x each small one).
# What a star leaves out is counted (stats.json: lsh_buckets_capped, lsh_pairs_capped).
MAX_BUCKET_ALL_PAIRS = 50
MAX_BUCKET_PAIRS = MAX_BUCKET_ALL_PAIRS * (MAX_BUCKET_ALL_PAIRS - 1) // 2
REASON = "near_duplicate"


class SigRecord(NamedTuple):
    id: str
    chars: int
    hashvalues: bytes  # uint32 little-endian, num_perm values
    shingles: int  # exact number of distinct shingles


def node(record) -> tuple[int, str]:
    """Survivor order: the longest book first, then the lowest id (deterministic)."""
    return (-record.chars, record.id)


class SignFn(beam.DoFn):
    """doc -> doc (main) + its signature ("sigs"); a failure is a counted error, not a crash."""

    def __init__(self, params: LshParams):
        self.params = params

    def setup(self):
        self.signer = Signer(self.params)

    def process(self, doc):
        try:
            hashvalues, shingles = self.signer.sign(doc.text)
        except Exception as exc:  # one bad book must not stop the job
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(doc.source, doc.id, "signature_failed", exc, doc.text))
            return
        doc.meta["shingles"] = shingles
        if shingles:  # a book with no shingle has no signature and no near-duplicate
            yield pvalue.TaggedOutput("sigs", SigRecord(doc.id, len(doc.text), hashvalues.astype("<u4").tobytes(),
                                                        shingles))
        yield doc


def bucket_pairs(element):
    """(band key, [(chars, id[, role])...]) -> candidate pairs (node_a, node_b), node_a < node_b.
    A far-family key pairs its SMALL members with its LARGE ones only."""
    key, members = element
    if key[:1] == bytes([FAR]):
        small = sorted(set((-m[0], m[1]) for m in members if m[2] == SMALL))
        large = sorted(set((-m[0], m[1]) for m in members if m[2] == LARGE))
        if len(small) * len(large) > MAX_BUCKET_PAIRS:
            large = large[:1]
        for a in large:
            for b in small:
                if a != b:
                    yield min(a, b), max(a, b)
        return
    nodes = sorted(set((-m[0], m[1]) for m in members))
    if len(nodes) <= MAX_BUCKET_ALL_PAIRS:
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                yield a, b
    else:
        for b in nodes[1:]:
            yield nodes[0], b


def pairs_capped(element) -> int:
    """How many pairs `bucket_pairs` leaves out of this bucket (0 unless it is cut to a star)."""
    key, members = element
    if key[:1] == bytes([FAR]):
        small = len(set(m[1] for m in members if m[2] == SMALL))
        large = len(set(m[1] for m in members if m[2] == LARGE))
        return small * large - small if small * large > MAX_BUCKET_PAIRS else 0
    n = len(set(m[1] for m in members))
    return n * (n - 1) // 2 - (n - 1) if n > MAX_BUCKET_ALL_PAIRS else 0


class _CandidatePairs(beam.DoFn):
    """Bucket -> its candidate pairs, and a count of what a capped bucket left out ("capped")."""

    def process(self, element):
        yield from bucket_pairs(element)
        capped = pairs_capped(element)
        if capped:
            yield pvalue.TaggedOutput("capped", {"lsh_buckets_capped": 1, "lsh_pairs_capped": capped})


class _AttachFirst(beam.DoFn):
    def process(self, element):
        _, grouped = element
        sigs = list(grouped["sig"])
        if not sigs:
            return
        sig = sigs[0]
        for a, b in grouped["pairs"]:
            yield b[1], (a, b, sig.hashvalues, sig.shingles)


class _Verify(beam.DoFn):
    def __init__(self, threshold: float):
        self.threshold = threshold

    def process(self, element):
        _, grouped = element
        sigs = list(grouped["sig"])
        if not sigs:
            return
        sig_b = np.frombuffer(sigs[0].hashvalues, dtype="<u4")
        n_b = sigs[0].shingles
        for a, b, hv_a, n_a in grouped["halves"]:
            jaccard, containment = estimate_overlap(np.frombuffer(hv_a, dtype="<u4"), n_a, sig_b, n_b)
            if is_duplicate(jaccard, containment, self.threshold):
                yield a, b, round(jaccard, 4), round(containment, 4), edge_kind(jaccard, n_a, n_b, self.threshold)


def edge_kind(jaccard: float, n_a: int, n_b: int, threshold: float) -> str:
    """A verified pair (a before b in survivor order): SAME (near-copies, one cluster) or INSIDE
    (b, the smaller set, lies inside a: b is dropped, a is untouched). A pair whose smaller set
    is the longer book (it repeats itself) stays SAME, so INSIDE always points at an earlier node."""
    return SAME if jaccard >= threshold or n_b > n_a else INSIDE


SAME, INSIDE = "same", "inside"


class UnionFind(beam.CombineFn):
    """Connected components of the SAME edges, root = the smallest node; then every book with an
    INSIDE edge follows it to its container (the smallest one): a book's survivor is the end of
    root -> container -> root ... (each step goes to an earlier node, so it ends).

    Partial union-finds are built in parallel and merged; the final one holds every book that
    has a verified near-duplicate (~100 bytes each: 1M such books is ~100 MB in one worker).
    Books are few (PG ~70k, Books3 ~200k), so this bound is comfortable; a web-scale input
    would need iterative label propagation instead. The accumulator is the parent dict; INSIDE
    edges live in it under the key `INSIDE` (node -> smallest container).
    """

    def create_accumulator(self):
        return {INSIDE: {}}

    @staticmethod
    def _find(parent, x):
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def _union(self, parent, a, b):
        ra, rb = self._find(parent, a), self._find(parent, b)
        if ra != rb:
            low, high = (ra, rb) if ra < rb else (rb, ra)
            parent[high] = low
            parent.setdefault(low, low)

    def add_input(self, parent, edge):
        a, b = tuple(edge[0]), tuple(edge[1])
        if len(edge) > 4 and edge[4] == INSIDE:
            inside = parent[INSIDE]
            inside[b] = min(inside.get(b, a), a)
        else:
            self._union(parent, a, b)
        return parent

    def merge_accumulators(self, accs):
        accs = list(accs)
        out = accs[0]
        for acc in accs[1:]:
            for x in acc:
                if x != INSIDE:
                    self._union(out, x, self._find(acc, x))
            for x, container in acc[INSIDE].items():
                out[INSIDE][x] = min(out[INSIDE].get(x, container), container)
        return out

    def extract_output(self, parent):
        inside = parent[INSIDE]
        nodes = {x for x in parent if x != INSIDE} | set(inside) | set(inside.values())
        survivor: dict = {}
        for x in sorted(nodes):  # earlier nodes first: every step below lands on a settled one
            root = self._find(parent, x)
            if root != x:
                survivor[x] = survivor[root]
            elif x in inside:
                survivor[x] = survivor[inside[x]]
            else:
                survivor[x] = x
        sizes: dict = {}
        for end in survivor.values():
            sizes[end] = sizes.get(end, 0) + 1
        return {x[1]: (end[1], sizes[end]) for x, end in survivor.items()}


class _Decide(beam.DoFn):
    def process(self, element):
        doc_id, grouped = element
        labels = list(grouped["label"])
        root, size = labels[0] if labels else (doc_id, 1)
        winner = None
        for doc in grouped["doc"]:  # one, unless the same file was given twice (e.g. a .txt and its .zip)
            doc.meta["cluster_size"] = size
            if root != doc_id:
                doc.meta["duplicate_of"] = root
                yield pvalue.TaggedOutput(REJECTED, Rejected(doc, REASON))
            elif winner is None:
                winner = doc
                yield doc
            else:
                yield pvalue.TaggedOutput(REJECTED, Rejected(doc, "duplicate_id"))


class NearDuplicates(beam.PTransform):
    """docs -> {"kept", "rejected", "errors", "extra", "edges"} (see the module docstrings, this
    one's and `sources.books.minhash`'s); "extra" is one dict of cluster and candidate counts for
    stats.json."""

    def __init__(self, params: LshParams):
        super().__init__()
        self.params = params

    def expand(self, docs):
        params = self.params
        signed = docs | "Signatures" >> beam.ParDo(SignFn(params)).with_outputs("sigs", ERRORS, main="docs")
        sigs = signed["sigs"]
        sigs_by_id = sigs | "SigById" >> beam.Map(lambda s: (s.id, s))
        buckets = (
            sigs
            | "BandKeys" >> beam.FlatMap(lambda s: ((key, (s.chars, s.id, role)) for key, role in lsh_keys(
                np.frombuffer(s.hashvalues, "<u4"), s.shingles, params)))
            | "GroupBands" >> beam.GroupByKey()
            | "CandidatePairs" >> beam.ParDo(_CandidatePairs()).with_outputs("capped", main="pairs")
        )
        pairs = buckets["pairs"] | "DistinctPairs" >> beam.Distinct()
        halves = (
            {"sig": sigs_by_id, "pairs": pairs | "PairByFirst" >> beam.Map(lambda ab: (ab[0][1], ab))}
            | "JoinFirst" >> beam.CoGroupByKey()
            | "AttachFirst" >> beam.ParDo(_AttachFirst())
        )
        edges = (
            {"sig": sigs_by_id, "halves": halves}
            | "JoinSecond" >> beam.CoGroupByKey()
            | "VerifyPairs" >> beam.ParDo(_Verify(params.threshold))
        )
        components = edges | "Components" >> beam.CombineGlobally(UnionFind())
        labels = components | "Labels" >> beam.FlatMap(lambda c: c.items())
        decided = (
            {"doc": signed["docs"] | "DocById" >> beam.Map(lambda d: (d.id, d)), "label": labels}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "KeepOnePerCluster" >> beam.ParDo(_Decide()).with_outputs(REJECTED, main="kept")
        )
        cluster_stats = components | "ClusterStats" >> beam.Map(lambda c: {
            "near_duplicate_clusters": len({root for root, _ in c.values()}),
            "books_in_clusters": len(c)})
        candidate_stats = pairs | "CountPairs" >> beam.combiners.Count.Globally() | "PairStats" >> beam.Map(
            lambda n: {"lsh_candidate_pairs": n, "lsh_buckets_capped": 0, "lsh_pairs_capped": 0})
        edge_stats = edges | "CountEdges" >> beam.combiners.Count.Globally() | "EdgeStats" >> beam.Map(
            lambda n: {"near_duplicate_pairs": n})
        clusters = ((cluster_stats, candidate_stats, edge_stats, buckets["capped"])
                    | "FlattenClusterStats" >> beam.Flatten()
                    | "SumClusterStats" >> beam.CombineGlobally(stats.SumCounts()))
        return {"kept": decided["kept"], "rejected": decided[REJECTED], "errors": signed[ERRORS],
                "extra": clusters, "edges": edges}
