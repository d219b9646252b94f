"""MinHash signatures and the LSH design (sources/books/minhash.py): the S-curve, signatures equal to
datasketch's, verified near-duplicates on real text (Botchan, PG #8868), containment size classes."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from datasketch import MinHash

from pipeline.assets import asset_path
from samples.books import drop_chapter, edit_paragraphs, first_chapters, lee_anthologies, lee_book
from sources.books.minhash import (
    LshParams,
    Signer,
    band_keys,
    candidate_probability,
    containment_candidate_probability,
    containment_keys,
    estimate_overlap,
    false_candidate_rates,
    is_duplicate,
    shingle_hash32,
    size_class,
)
from sources.books.source import BooksConfig
from tests.fixtures.books import omnibus

PARAMS = LshParams()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(PARAMS)


def exact_shingles(text: str, k: int = 5) -> set:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


# --- the LSH design ---------------------------------------------------------------------------
def test_s_curve_meets_the_design():
    # README numbers: b=46 bands x r=22 rows (1012 permutations).
    p = {j: candidate_probability(j, PARAMS.bands, PARAMS.rows) for j in (0.5, 0.7, 0.8, 0.9, 0.95)}
    assert p[0.9] >= 0.99 and p[0.95] > 0.99999
    assert p[0.7] < 0.02 and p[0.5] < 1e-4
    assert round(p[0.9], 4) == 0.9915 and round(p[0.7], 4) == 0.0178 and round(p[0.8], 4) == 0.2887
    cfg = BooksConfig()
    assert cfg.lsh() == PARAMS and PARAMS.num_perm == 1012


def test_signature_equals_datasketch_update_batch(botchan, signer):
    chapter = botchan[:30_000]
    ours, distinct = signer.sign(chapter)
    reference = MinHash(num_perm=PARAMS.num_perm, seed=PARAMS.seed, hashfunc=shingle_hash32)
    shingles = exact_shingles(chapter)
    reference.update_batch(shingles)
    assert np.array_equal(ours, reference.hashvalues) and signer.minhash(ours).jaccard(reference) == 1.0
    assert distinct == len(shingles)
    # small tokenising windows (chunk borders inside the book) give the same signature
    windowed, distinct_windowed = signer.sign(chapter, window=997)
    assert np.array_equal(windowed, ours) and distinct_windowed == distinct


def _pair(signer, a: str, b: str):
    (sa, na), (sb, nb) = signer.sign(a), signer.sign(b)
    shared_bands = len(set(band_keys(sa, PARAMS)) & set(band_keys(sb, PARAMS)))
    jaccard, containment = estimate_overlap(sa, na, sb, nb)
    return shared_bands, jaccard, containment


def test_five_percent_edited_is_a_verified_candidate(botchan, signer):
    edited = edit_paragraphs(botchan, 0.05, seed=7)
    exact_a, exact_b = exact_shingles(botchan), exact_shingles(edited)
    exact_j = len(exact_a & exact_b) / len(exact_a | exact_b)
    shared, jaccard, containment = _pair(signer, botchan, edited)
    assert 0.88 < exact_j < 0.95 and abs(jaccard - exact_j) < 0.03  # the estimate tracks the truth
    assert shared > 0 and is_duplicate(jaccard, containment, PARAMS.threshold)


def test_forty_percent_edited_is_not_a_duplicate(botchan, signer):
    shared, jaccard, containment = _pair(signer, botchan, edit_paragraphs(botchan, 0.40, seed=7))
    assert shared == 0 and jaccard < 0.6 and not is_duplicate(jaccard, containment, PARAMS.threshold)


def test_subset_with_a_chapter_missing_is_a_duplicate(botchan, signer):
    abridged = drop_chapter(botchan, "II")
    assert 0.9 < len(abridged) / len(botchan) < 0.95
    shared, jaccard, containment = _pair(signer, botchan, abridged)
    assert shared > 0 and containment > 0.97 and is_duplicate(jaccard, containment, PARAMS.threshold)


# --- containment: a book inside a larger one (LSH Ensemble-style size classes) ---------------------
def test_containment_design_numbers():
    # README table: containment 0.9 at size ratios 1.5x, 3x, 10x (averaged over where the size
    # classes fall), and the per-pair false-candidate rate of unrelated books
    p = {t: containment_candidate_probability(0.9, t, PARAMS) for t in (1.0, 1.5, 3.0, 4.0, 8.0, 10.0, 15.0, 25.0)}
    assert p[1.0] > 0.9999 and p[1.5] > 0.9999 and p[3.0] > 0.999 and p[4.0] > 0.99 and p[8.0] > 0.99
    assert round(p[10.0], 3) == 0.982 and p[15.0] < 0.5 and p[25.0] == 0.0
    false = {j: false_candidate_rates(j, PARAMS) for j in (0.001, 0.003, 0.01)}
    assert false[0.001]["near"] < 1e-6 and false[0.001]["far"] < 1e-3 and false[0.01]["near"] < 1e-3
    assert round(false[0.003]["far"], 4) == 0.0045 and false[0.01]["far"] < 0.05
    # the Jaccard family alone: a 90% subset of an equal-sized book (Jaccard 0.82) was a coin toss
    assert candidate_probability(0.9 / 1.1, PARAMS.bands, PARAMS.rows) < 0.5


def test_size_classes_are_exact_and_bound_the_ratio():
    assert [size_class(n) for n in (1, 2, 3, 10, 21, 22, 99, 100, 5464, 48392)] == [0, 0, 1, 3, 3, 4, 5, 6, 11, 14]
    # ratios <= 10 are always within 3 classes, ratios >= 21.6 never
    for small in range(50, 5000, 7):
        assert size_class(small * 10) - size_class(small) <= 3 and size_class(small * 22) - size_class(small) >= 4


def _shared_containment_pairs(signer, small: str, large: str):
    """How many containment buckets would hold a candidate pair of these two books."""
    (sa, na), (sb, nb) = signer.sign(small), signer.sign(large)
    keys_a, keys_b = dict(containment_keys(sa, na, PARAMS)), dict(containment_keys(sb, nb, PARAMS))
    return sum(1 for key, role in keys_a.items() if key in keys_b and (key[0] == 1 or role != keys_b[key]))


def test_a_chapter_and_a_volume_of_an_omnibus_are_candidates(botchan, signer):
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    volumes = [lee_book(articles, n + 1, "test") for n, articles in enumerate(lee)]
    chapter = first_chapters(botchan, "I")  # a ninth of the book: Jaccard 0.11, containment 1
    assert _shared_containment_pairs(signer, chapter, botchan) > 0
    assert _shared_containment_pairs(signer, volumes[0], omnibus(*volumes)) > 0  # 3x larger, Jaccard 0.33
    shared, jaccard, containment = _pair(signer, volumes[0], omnibus(*volumes))
    assert shared == 0 and jaccard < 0.4 and containment > 0.9  # the Jaccard bands alone never saw it


def test_unrelated_books_never_pair(botchan, signer):
    # Lee news volumes share up to 1% of their 5-grams (the corpus repeats some stories), Botchan
    # a handful; selections of volume 1's articles (30, 12, 5) against the whole volumes 2, 3 and
    # Botchan give every size class distance from 0 to 4
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    books = [botchan, lee_book(lee[1], 2, "test"), lee_book(lee[2], 3, "test"), lee_book(lee[0][:30], 4, "selected"),
             lee_book(lee[0][30:42], 5, "selected"), lee_book(lee[0][42:47], 6, "selected")]
    signs = [signer.sign(b) for b in books]
    classes = [size_class(n) for _, n in signs]
    assert {abs(a - b) for a in classes for b in classes} >= {0, 1, 2, 3, 4}
    for i, (sa, na) in enumerate(signs):
        keys_a = dict(containment_keys(sa, na, PARAMS))
        for j, (sb, nb) in enumerate(signs[i + 1:], i + 1):
            keys_b = dict(containment_keys(sb, nb, PARAMS))
            shared = [k for k, role in keys_a.items() if k in keys_b and (k[0] == 1 or role != keys_b[k])]
            assert not shared, (i, j)
            assert not is_duplicate(*estimate_overlap(sa, na, sb, nb), PARAMS.threshold)
