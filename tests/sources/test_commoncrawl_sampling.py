"""The seeded, bounded samples `make lm` and `make classifier` draw (sources/commoncrawl/sampling.py),
and the streamed readers they draw from."""

from __future__ import annotations

import gzip
import itertools
import json
import random

import pytest

from pipeline.assets import asset_path
from pipeline.files import stable_hash64
from sources.commoncrawl import classifier, lm
from sources.commoncrawl.sampling import SeededSample, clean_docs, clean_shards


def offer_all(sample: SeededSample, items: list[tuple[str, str]]) -> SeededSample:
    for key, text in items:
        sample.offer(key, text, len(text))
    return sample


def texts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"doc/{i}", "x" * rng.randint(1, 200)) for i in range(n)]


def bottom_k(items: list[tuple[str, str]], seed: int, max_items=None, max_size=None) -> list[str]:
    """The definition, written the slow way: items in hash order, taken while they fit."""
    ranked = sorted(items, key=lambda kv: stable_hash64(f"{seed}/{kv[0]}"))
    kept, size = [], 0
    for key, text in ranked:
        if (max_items is not None and len(kept) + 1 > max_items) or (max_size is not None and size + len(text) > max_size):
            break
        kept.append(key)
        size += len(text)
    return sorted(kept)


@pytest.mark.parametrize("max_items,max_size", [(50, None), (None, 3000), (40, 2500), (1, None), (None, 1)])
def test_the_sample_is_the_lowest_hashes_that_fit(max_items, max_size):
    items = texts(1000)
    sample = SeededSample(7, max_items, max_size)
    for key, text in items:
        sample.offer(key, key, len(text))  # the item is its key: the test sees which were kept
    expected = bottom_k(items, 7, max_items, max_size)
    assert sorted(sample.items()) == expected
    assert expected or max_size == 1  # (a size cap below every item keeps none)


def test_caps_are_honoured_at_every_step_not_only_at_the_end():
    sample = SeededSample(3, max_items=25, max_size=2000)
    for key, text in texts(2000, seed=1):
        sample.offer(key, text, len(text))
        assert len(sample) <= 25 and sample.size <= 2000
        assert sample.size == sum(len(t) for t in sample.items())
    assert not sample.complete()


def test_same_seed_same_sample_other_seed_another():
    items = texts(500)
    a = offer_all(SeededSample(11, max_items=40), [(k, k) for k, _ in items]).items()
    b = offer_all(SeededSample(11, max_items=40), [(k, k) for k, _ in items]).items()
    c = offer_all(SeededSample(12, max_items=40), [(k, k) for k, _ in items]).items()
    assert a == b and len(a) == 40
    assert set(a) != set(c)


def test_the_sample_does_not_depend_on_input_order_and_keeps_input_order():
    items = [(k, k) for k, _ in texts(300)]
    forward = offer_all(SeededSample(5, max_items=30), items).items()
    backward = offer_all(SeededSample(5, max_items=30), items[::-1]).items()
    assert sorted(forward) == sorted(backward)
    assert forward == [k for k, _ in items if k in set(forward)]  # kept in the order offered
    assert backward == [k for k, _ in items[::-1] if k in set(backward)]


def test_caps_above_the_input_keep_the_whole_input_in_its_order():
    items = texts(100)
    sample = offer_all(SeededSample(1, max_items=100, max_size=sum(len(t) for _, t in items)), items)
    assert sample.complete()
    assert sample.items() == [t for _, t in items]


def test_wants_refuses_exactly_what_offer_would_refuse():
    sample = SeededSample(9, max_items=10)
    for key, text in texts(400):
        wanted = sample.wants(key)
        kept = sample.offer(key, text)
        assert kept <= wanted  # never kept when not wanted
    refused = [k for k, _ in texts(400, seed=5) if not sample.wants(k + "/other")]
    assert len(refused) > 300  # ~10/400 of new keys fall under the cut-off


def test_sample_lines_caps_the_characters_of_real_wikipedia_text():
    docs = list(itertools.islice(lm.dump_texts(asset_path(lm.ENWIKI_ASSET)), 30))
    whole = lm.sample_lines(docs, max_chars=10**9).items()
    assert whole == [line for text in docs for line in lm.corpus_lines(text)]
    capped = lm.sample_lines(docs, max_chars=20_000, seed=1).items()
    assert 15_000 < sum(len(x) + 1 for x in capped) <= 20_000
    assert capped == lm.sample_lines(docs, max_chars=20_000, seed=1).items()
    assert capped != lm.sample_lines(docs, max_chars=20_000, seed=2).items()
    assert set(capped) <= set(whole)


def test_classifier_sample_caps_pages_and_cuts_each_to_what_the_model_sees():
    docs = [(f"cc/{i}", f"page {i} " + "word " * (i * 1000)) for i in range(60)] + [("cc/blank", " \n\t ")]
    sample = classifier.sample_texts(docs, max_examples=12, seed=3)
    assert len(sample) == 12
    assert all(len(t) <= classifier.MAX_CHARS for t in sample)
    assert sample == classifier.sample_texts(docs, max_examples=12, seed=3)
    assert len(classifier.sample_texts(docs, max_examples=1000)) == 60  # the page with no words is left out


def write_shard(path, lines: list[bytes]) -> None:
    with gzip.open(path, "wb") as f:
        f.writelines(line + b"\n" for line in lines)


def test_clean_docs_streams_a_shard_and_skips_lines_that_are_not_documents(tmp_path):
    folder = tmp_path / "clean" / "wikipedia"
    folder.mkdir(parents=True)
    good = [json.dumps({"id": f"wikipedia/{i}", "text": f"Article {i}."}).encode() for i in range(3)]
    write_shard(folder / "wikipedia-00000-of-00001.jsonl.gz", [good[0], b"{not json", b'["a list"]', *good[1:]])
    shards = clean_shards(str(folder))
    assert shards == [str(folder / "wikipedia-00000-of-00001.jsonl.gz")]
    assert list(clean_docs(shards[0])) == [(f"wikipedia/{i}", f"Article {i}.") for i in range(3)]
    assert clean_shards(str(tmp_path / "nothing")) == []


def test_a_truncated_shard_is_an_error_naming_it(tmp_path):
    path = tmp_path / "wikipedia-00000-of-00001.jsonl.gz"
    write_shard(path, [json.dumps({"id": str(i), "text": "t" * 500}).encode() for i in range(200)])
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(OSError, match="wikipedia-00000-of-00001.jsonl.gz"):
        list(clean_docs(str(path)))
