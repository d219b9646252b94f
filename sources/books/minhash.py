"""Book-level near-duplicate removal, the maths: datasketch MinHash signatures, the band keys of
the three LSH families, their candidate probabilities (S-curves) and the duplicate test of a pair.
The Beam job built on them (band buckets, verified pairs, clusters) is `sources.books.lsh`.

Shingles are 5-word windows over lower-cased `\\w+` tokens (5-grams, as in Lee et al. 2022
"Deduplicating Training Data Makes Language Models Better" and datatrove's MinhashConfig).
A word hashes once (blake2b, cached per worker); a shingle's 32-bit hash is a Horner
polynomial of its five word hashes, computed for a whole chunk of the book at once in numpy.
The signature is datasketch's own "affine32" MinHash: the same permutations (`MinHash.permutations`
for the seed) and the same murmur pre-mix (`datasketch.minhash._fmix`) as `MinHash.update_batch`,
applied to chunks of shingles, so the result equals `MinHash(hashfunc=shingle_hash32)
.update_batch(shingles)` bit for bit (tested) and is a real `datasketch.MinHash`.

Memory per worker is one book plus its signature: the text is tokenised in 1 MB windows (no
list of all its words), the shingle hashes (4 bytes a word; a word is ~6 bytes of text) and
their pre-mixed copy are the only per-book arrays, and the permutations reuse one 4 MB buffer:
measured peak ~1.6x the book's size on top of the text (a 30 MB book: ~50 MB).

The criterion ("removing books with more than 90% content overlap", LLaMA §2): a pair is a
duplicate when its estimated Jaccard similarity is >= 0.9 or the smaller book's estimated
containment in the larger is >= 0.9 (|A n B| = J (|A| + |B|) / (1 + J), exact |A|, |B|).

Candidates come from three families of LSH bands over the SAME signature (num_perm = 1012):
  * Jaccard: b=46 bands of r=22 rows (threshold ~0.85), the pairs of near-copies;
  * containment, the idea of LSH Ensemble (Zhu et al., VLDB 2016: partition by set size, pick the
    bands per partition) kept simple. A book inside one t times its size has Jaccard c / (1 + t - c)
    (c = 0.9: 0.82 at t=1, 0.29 at 3x, 0.089 at 10x), far below what 22-row bands see. Books get a
    size class, floor(3 log10 distinct shingles) (classes 10^(1/3) = 2.15x wide), and the class
    goes into the band key, so a book meets only books in the classes its partition allows:
      - "near": r=3, 337 bands (1011 permutations), a book's own class and the next one up
        (class distance 0-1, ratios up to 4.6x);
      - "far": r=2, 506 bands, a book's bands as the small side go 2 and 3 classes up and meet
        there the bands a larger book writes into its own class (small x large only: ratios
        2.15x-21.5x, every ratio <= 10 included).
    P(candidate) for containment 0.9 (with the Jaccard family; averaged over where the classes
    fall; `containment_candidate_probability`): 1.5x 1.0, 3x 0.9999, 4x 0.995, 8x 0.998,
    10x 0.982, 15x 0.39 (classes 4 apart half the time), >= 21.6x 0. The worst case below 10x is
    0.90 (4.6x, the near family's far edge). Beyond ~10x the 1012-value signature could not judge
    the pair anyway: the estimated containment's standard error is ~0.08 at 10x.
    Unrelated books (5-gram Jaccard j ~0.001-0.01; measured here: Lee news volumes 0.0014-0.01,
    Botchan vs news < 0.0002; the 106 articles of the enwiki test dump, 55-17,000 shingles each,
    gave 0 candidates in 5,565 pairs) are candidates with probability 337 j^3 (near: 3.4e-7 at 0.001,
    3.4e-4 at 0.01) or 506 j^2 (far: 5.1e-4 at 0.001, 4.5e-3 at 0.003). A far pair is >= 2.15x
    apart, so its Jaccard is that of a small book's few common phrases over both sets, ~0.001.
    Per book of a 200k-book corpus with 20% of it in its far window: ~20 (at j=0.001) to ~180
    (j=0.003) false candidates, each one signature comparison; stats.json counts them
    (`lsh_candidate_pairs`) and the buckets cut down to a star (`lsh_buckets_capped`).
Each book writes 46 + 2 x 337 + 3 x 506 = 2,238 band keys (the families' keys are the raw band
values: 12 or 8 bytes, no digest).
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Iterator, NamedTuple

import numpy as np
from datasketch import MinHash
from datasketch.minhash import _fmix

SCHEME = "affine32"
_WORD = re.compile(r"\w+")
_MUL = np.uint64(0x9E3779B97F4A7C15)  # Horner multiplier (odd, the 64-bit golden ratio constant)
WINDOW_CHARS = 1 << 20
# Permutation tiles: 64 x 16,384 uint32 = 4 MB, reused for every tile of every book (measured
# fastest of 4k-64k shingles here; larger tiles fall out of cache).
PERM_TILE, SHINGLE_TILE = 64, 16384
MAX_WORD_CACHE = 1 << 20


class LshParams(NamedTuple):
    """b bands of r rows; num_perm = b * r. Defaults: see `candidate_probability` and the README.
    The containment families use `near_rows` / `far_rows` rows over the first num_perm // rows bands."""

    bands: int = 46
    rows: int = 22
    shingle_words: int = 5
    threshold: float = 0.9
    seed: int = 1
    near_rows: int = 3
    far_rows: int = 2

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def near_bands(self) -> int:
        return self.num_perm // self.near_rows

    @property
    def far_bands(self) -> int:
        return self.num_perm // self.far_rows


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """P(a pair with Jaccard J shares at least one band) = 1 - (1 - J^r)^b (the LSH S-curve)."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


def s_curve(params: LshParams, points=(0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)) -> dict[float, float]:
    return {j: candidate_probability(j, params.bands, params.rows) for j in points}


# --- containment candidates: size classes ------------------------------------------------------
JACCARD, NEAR, FAR = 0, 1, 2  # the first byte of a band key: families never share a bucket
NEAR_CLASSES = (0, 1)  # class distances the near family covers (both books write both)
FAR_CLASSES = (2, 3)  # class distances the far family covers (the smaller book writes these)
CLASSES_PER_DECADE = 3  # classes 10^(1/3) ~ 2.15x wide: a ratio <= 10 is <= 3 classes apart
SMALL, LARGE = 1, 0  # a far-family key's role: pairs are only small x large


def size_class(shingles: int) -> int:
    """floor(3 log10 n), exactly (digits of n^3 - 1: integers, the same on every worker)."""
    return len(str(int(shingles) ** CLASSES_PER_DECADE)) - 1


def containment_jaccard(containment: float, ratio: float) -> float:
    """Jaccard of a set of size n and one of size ratio * n holding `containment` of it."""
    return containment / (1.0 + ratio - containment)


def _family_probability(jaccard: float, distance: int, params: LshParams) -> float:
    if distance in NEAR_CLASSES:
        return candidate_probability(jaccard, params.near_bands, params.near_rows)
    if distance in FAR_CLASSES:
        return candidate_probability(jaccard, params.far_bands, params.far_rows)
    return 0.0


def containment_candidate_probability(containment: float, ratio: float, params: LshParams) -> float:
    """P(candidate) for a book whose `containment` lies in one `ratio` times its size, from any
    family, averaged over where the class borders fall (a ratio of 10^(k/3) * x, 1 <= x < 2.15,
    is k classes apart with probability 1 - log(x)/log(2.15), k + 1 otherwise)."""
    jaccard = containment_jaccard(containment, ratio)
    p_jaccard = candidate_probability(jaccard, params.bands, params.rows)
    steps = CLASSES_PER_DECADE * math.log10(ratio)
    low = math.floor(steps)
    total = 0.0
    for distance, weight in ((low, 1.0 - (steps - low)), (low + 1, steps - low)):
        total += weight * (1.0 - (1.0 - p_jaccard) * (1.0 - _family_probability(jaccard, distance, params)))
    return total


def false_candidate_rates(jaccard: float, params: LshParams) -> dict[str, float]:
    """P(candidate) per pair of unrelated books with this (small) Jaccard, per family."""
    return {"jaccard": candidate_probability(jaccard, params.bands, params.rows),
            "near": candidate_probability(jaccard, params.near_bands, params.near_rows),
            "far": candidate_probability(jaccard, params.far_bands, params.far_rows)}


# --- hashing --------------------------------------------------------------------------------
def word_hash64(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def shingle_hash32(words) -> int:
    """The reference (pure Python) hash of one shingle; `ShingleHasher` computes the same in numpy."""
    h = 0
    for word in words:
        h = (h * int(_MUL) + word_hash64(word)) & 0xFFFFFFFFFFFFFFFF
    return h >> 32


def words_of(text: str, window: int = WINDOW_CHARS) -> Iterator[list[str]]:
    """Lower-cased word tokens in lists of about `window` characters (never a word split)."""
    start, n = 0, len(text)
    while start < n:
        end = min(start + window, n)
        if end < n:
            space = text.rfind(" ", start, end)
            newline = text.rfind("\n", start, end)
            cut = max(space, newline)
            end = cut + 1 if cut > start else end
            while end < n and _WORD.match(text[end - 1]) and _WORD.match(text[end]):
                end += 1  # no whitespace in the window at all: extend to the end of the word
        yield _WORD.findall(text[start:end].lower())
        start = end


class ShingleHasher:
    """Book text -> array of 32-bit shingle hashes, one window at a time."""

    def __init__(self, shingle_words: int):
        self.k = shingle_words
        self.cache: dict[str, int] = {}

    def _ids(self, words: list[str]) -> np.ndarray:
        cache = self.cache
        if len(cache) > MAX_WORD_CACHE:
            cache.clear()
        missing = [w for w in set(words) if w not in cache]
        for w in missing:
            cache[w] = word_hash64(w)
        return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))

    def hashes(self, text: str, window: int = WINDOW_CHARS) -> Iterator[np.ndarray]:
        k = self.k
        carry = np.empty(0, dtype=np.uint64)
        for words in words_of(text, window):
            ids = np.concatenate([carry, self._ids(words)])
            if len(ids) >= k:
                n = len(ids) - k + 1
                h = ids[:n].copy()
                for j in range(1, k):
                    h = h * _MUL + ids[j:j + n]  # uint64 wraps: arithmetic mod 2^64, as in the reference
                yield (h >> np.uint64(32)).astype(np.uint32)
            carry = ids[-(k - 1):] if k > 1 else ids[:0]


class Signer:
    """Signature of a book: datasketch affine32 MinHash values + the exact distinct-shingle count."""

    def __init__(self, params: LshParams):
        self.params = params
        self.template = MinHash(num_perm=params.num_perm, seed=params.seed, scheme=SCHEME)
        self.a, self.b = self.template.permutations
        self.hasher = ShingleHasher(params.shingle_words)

    def permute_min(self, mixed: np.ndarray) -> np.ndarray:
        """`MinHash.update_batch`'s CPU path after the pre-mix (a*h + b mod 2^32, min per
        permutation), on tiles of 64 permutations x SHINGLE_TILE shingles in one reused buffer:
        no temporary per tile (allocating them costs ~10x the arithmetic) and the tile stays in cache."""
        mins = self.template.hashvalues.copy()
        buf = np.empty((PERM_TILE, min(SHINGLE_TILE, len(mixed))), dtype=np.uint32)
        a, b = self.a.reshape(-1, 1), self.b.reshape(-1, 1)
        for start in range(0, len(mixed), SHINGLE_TILE):
            tile = mixed[start:start + SHINGLE_TILE]
            for k in range(0, len(a), PERM_TILE):
                out = buf[: len(a[k:k + PERM_TILE]), : len(tile)]
                np.multiply(a[k:k + PERM_TILE], tile, out=out)
                np.add(out, b[k:k + PERM_TILE], out=out)
                np.minimum(mins[k:k + PERM_TILE], out.min(axis=1), out=mins[k:k + PERM_TILE])
        return mins

    def sign(self, text: str, window: int = WINDOW_CHARS) -> tuple[np.ndarray, int]:
        """text -> (num_perm uint32 MinHash values, exact number of distinct shingles)."""
        parts = list(self.hasher.hashes(text, window))
        hv = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint32)
        parts.clear()
        mixed = np.empty_like(hv)
        for start in range(0, len(hv), SHINGLE_TILE):  # datasketch's murmur pre-mix, tile by tile
            mixed[start:start + SHINGLE_TILE] = _fmix(hv[start:start + SHINGLE_TILE], 32)
        del hv
        # The min is order-free, so sort in place and count distinct shingles on the way (the
        # pre-mix is a bijection: distinct mixed values = distinct shingle hashes).
        mixed.sort()
        distinct = int(np.count_nonzero(mixed[1:] != mixed[:-1])) + 1 if len(mixed) else 0
        return self.permute_min(mixed), distinct

    def minhash(self, hashvalues: np.ndarray) -> MinHash:
        return MinHash(seed=self.params.seed, hashvalues=hashvalues, permutations=self.template.permutations,
                       scheme=SCHEME)


def band_keys(hashvalues: np.ndarray, params: LshParams) -> list[bytes]:
    """One key per band: band index + a 128-bit digest of its r values (equal bands, equal keys)."""
    r = params.rows
    return [i.to_bytes(2, "little") + hashlib.blake2b(hashvalues[i * r:(i + 1) * r].tobytes(), digest_size=16).digest()
            for i in range(params.bands)]


def containment_keys(hashvalues: np.ndarray, shingles: int, params: LshParams) -> list[tuple[bytes, int]]:
    """(key, role) per containment band: family, band index, size class, the band's raw values.
    Near: the book's class and the next (role LARGE, pairs with everyone in the bucket). Far: the
    book's own class as LARGE, 2 and 3 classes up as SMALL (a bucket pairs SMALL x LARGE only)."""
    k = size_class(shingles)
    values = hashvalues.astype("<u4")
    keys = []
    for family, rows, bands in ((NEAR, params.near_rows, params.near_bands), (FAR, params.far_rows, params.far_bands)):
        roles = ([(d, LARGE) for d in NEAR_CLASSES] if family == NEAR
                 else [(0, LARGE)] + [(d, SMALL) for d in FAR_CLASSES])
        for i in range(bands):
            band = values[i * rows:(i + 1) * rows].tobytes()
            head = bytes([family]) + i.to_bytes(2, "little")
            keys.extend((head + (k + d).to_bytes(1, "little") + band, role) for d, role in roles)
    return keys


def lsh_keys(hashvalues: np.ndarray, shingles: int, params: LshParams) -> list[tuple[bytes, int]]:
    """Every band key of a book, all three families, as (key, role)."""
    return [(bytes([JACCARD]) + key, LARGE) for key in band_keys(hashvalues, params)] + containment_keys(
        hashvalues, shingles, params)


def estimate_overlap(sig_a: np.ndarray, n_a: int, sig_b: np.ndarray, n_b: int) -> tuple[float, float]:
    """(estimated Jaccard, estimated containment of the smaller set in the larger)."""
    jaccard = float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)
    if min(n_a, n_b) == 0:
        return jaccard, 0.0
    intersection = jaccard * (n_a + n_b) / (1.0 + jaccard)
    return jaccard, min(1.0, intersection / min(n_a, n_b))


def is_duplicate(jaccard: float, containment: float, threshold: float) -> bool:
    return jaccard >= threshold or containment >= threshold
