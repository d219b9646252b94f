"""The CommonCrawl source: CCNet line dedup, language ID, KenLM perplexity buckets, the
Wikipedia-reference classifier, and the whole job on the sample WET files.

The models are trained here, small, from the real assets (a slice of the enwiki dump, the
sample's raw pages), the same functions `make lm` / `make classifier` run.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import pickle
import zlib

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.assets import asset_path
from pipeline.document import Document
from pipeline.filters import Filter
from samples import commoncrawl as sample
from sources.commoncrawl import classifier, lm
from sources.commoncrawl.line_dedup import dedup_lines_in_memory, group_of, line_dedup, line_hash
from sources.commoncrawl.normalize import normalize_for_dedup
from sources.commoncrawl.perplexity import (
    CCNET_EN_CUTOFFS,
    PerplexityBuckets,
    PerplexityModel,
    bucket,
    load_cutoffs,
    require_lm,
)
from sources.commoncrawl.source import CommonCrawl, CommonCrawlConfig
from tests.fixtures import fuzz
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source

WIKI = ("Anarchism is a political philosophy and movement that is sceptical of authority and rejects all "
        "involuntary, coercive forms of hierarchy. It calls for the abolition of the state.")
SALAD = "cheap bonus replica discount viagra loans win big seo services hot deals click here free shipping"


def doc(i: int, text: str, file: str = "a.warc.wet.gz") -> Document:
    return Document(id=f"commoncrawl/{i:04d}", text=text, source="commoncrawl", meta={"file": file})


@pytest.fixture(scope="module")
def articles():
    """Real English Wikipedia articles: the first 20 train the models, the next 10 are held out."""
    return list(itertools.islice(lm.dump_texts(asset_path(lm.ENWIKI_ASSET)), 30))


@pytest.fixture(scope="module")
def data(tmp_path_factory, articles):
    """DATA root with the sample raw WET files and small models trained from real text."""
    root = tmp_path_factory.mktemp("cc")
    raw = root / "raw" / "commoncrawl"
    raw.mkdir(parents=True)
    sample.build(str(raw), os.path.dirname(asset_path("lid.176.ftz")), 1234)
    models = root / "models"
    models.mkdir()
    wiki = articles[:20]
    lm.train_lm(iter(wiki), str(models), vocab_size=1000)
    lm.write_cutoffs(str(models), str(raw))
    classifier.train(wiki, classifier.cc_pages(str(raw)), str(models / classifier.MODEL_NAME))
    return root


def config(data, **overrides) -> CommonCrawlConfig:
    return CommonCrawlConfig(lm_dir=str(data / "models"),
                             classifier_model=str(data / "models" / classifier.MODEL_NAME), **overrides)


# --- line dedup ---------------------------------------------------------------------------

def test_normalize_for_dedup_as_ccnet():
    assert normalize_for_dedup("  Hello, World 2023!  ") == "hello, world 0000!"
    assert normalize_for_dedup("Copyright «2019» — All\x07 rights") == "copyright 0000  all rights"
    assert line_hash("We use COOKIES, 3 of them…") == line_hash("we use cookies, 7 of them")
    assert line_hash("we use cookies") != line_hash("we use biscuits")
    assert 0 <= line_hash("x") < 2**64


def test_normalisers_ascii_path_matches_the_general_one():
    """ASCII lines take one str.translate; the result is the regex path's (a non-ASCII character
    appended sends the same line down that path)."""
    import sources.commoncrawl.normalize as norm

    lines = ["  Price: $1,234.50 (2023)", "Tab\there\x07 bell \x7f del 0-9", "K", "", "MiXeD 42\x1fCaSe"]
    for line in lines:
        for fn in (norm.normalize, norm.normalize_for_dedup):
            assert fn(line) + "ж" == fn(line + "ж"), (fn.__name__, line)
    assert norm.normalize("Ünïcode 12 — “quoted”") == 'unicode 00  -  "quoted"'  # CCNet: — -> " - "


def test_line_dedup_removes_every_copy_as_ccnet():
    docs = [doc(1, "Story one.\nAccept all cookies\nEnd one."), doc(2, "Story two.\nACCEPT ALL COOKIES"),
            doc(3, "Accept all cookies\nStory one.")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | line_dedup()
        assert_that(out["kept"] | "Kept" >> beam.Map(lambda d: (d.id, d.text)),
                    equal_to([("commoncrawl/0001", "End one."), ("commoncrawl/0002", "Story two.")]), label="kept")
        assert_that(out["rejected"] | "Rejected" >> beam.Map(lambda r: (r.doc.id, r.reason, r.doc.text)),
                    equal_to([("commoncrawl/0003", "empty_after_dedup", "Accept all cookies\nStory one.")]),
                    label="rejected")  # rejected with the text it had, for data/rejected/


def test_line_dedup_keep_first_keeps_the_lowest_id_copy():
    docs = [doc(2, "Shared line\nOwn two"), doc(1, "Shared line\nOwn one"), doc(3, "Shared line")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | line_dedup(keep_first=True)
        assert_that(out["kept"] | "Kept" >> beam.Map(lambda d: (d.id, d.text)),
                    equal_to([("commoncrawl/0001", "Shared line\nOwn one"), ("commoncrawl/0002", "Own two")]))


def test_line_dedup_counts_within_file_groups():
    names = [f"f{i}.warc.wet.gz" for i in range(20)]
    a = names[0]
    b = next(n for n in names if group_of(doc(0, "", n), 4) != group_of(doc(0, "", a), 4))
    docs = [doc(1, "Nav bar\nStory one", a), doc(2, "Nav bar\nStory two", b)]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | line_dedup(groups=4)
        assert_that(out["kept"] | beam.Map(lambda d: d.text), equal_to(["Nav bar\nStory one", "Nav bar\nStory two"]))
    kept, emptied = dedup_lines_in_memory([doc(1, "Nav bar\nStory one", a), doc(2, "Nav bar\nStory two", b)])
    assert [d.text for d in kept] == ["Story one", "Story two"] and emptied == []  # one group: removed


# --- perplexity ------------------------------------------------------------------------------

def test_perplexity_orders_wikipedia_below_word_salad(data):
    model = PerplexityModel(str(data / "models"))
    assert model.perplexity(WIKI) < model.perplexity(SALAD)
    assert model.perplexity("") == float("inf")
    clone = pickle.loads(pickle.dumps(model))
    assert clone._lm is None and clone.perplexity(WIKI) == pytest.approx(model.perplexity(WIKI))


def test_perplexity_of_a_page_is_ccnets_sum_over_its_lines(data):
    """One SentencePiece call a page gives CCNet's DocLM formula computed line by line."""
    model = PerplexityModel(str(data / "models"))
    text = f"{WIKI}\n\n  \x07\n{SALAD}\nThe 3 cats — “sat”."
    pieces = [model.pieces(line) for line in text.split("\n")]
    log_score = sum(model._lm.score(p) for p in pieces if p)
    length = sum(len(p.split()) + 1 for p in pieces if p)
    assert model.perplexity(text) == 10.0 ** (-log_score / length)


def test_buckets_and_cutoffs():
    assert [bucket(p, 340, 520) for p in (100, 339.9, 340, 519, 520, 5000)] == \
        ["head", "head", "middle", "middle", "tail", "tail"]
    assert load_cutoffs("/nonexistent")[:2] == CCNET_EN_CUTOFFS


def test_perplexity_filter_sets_meta_and_drops_tail(data):
    f = PerplexityBuckets(str(data / "models"), keep=("head", "middle"), head=1e6, tail=1e6 + 1)
    d = doc(1, WIKI)
    assert f(d) == (True, "") and d.meta["bucket"] == "head" and d.meta["perplexity"] > 0
    strict = PerplexityBuckets(str(data / "models"), keep=("head", "middle"), head=1.0, tail=2.0)
    assert strict(doc(2, SALAD)) == (False, "perplexity_tail")
    from_file = PerplexityBuckets(str(data / "models"))
    from_file.setup()
    head, tail, origin = load_cutoffs(str(data / "models"))
    assert (from_file.head, from_file.tail) == (head, tail) and origin.endswith("en.cutoffs.json") and head < tail


def test_missing_models_name_the_make_targets(tmp_path):
    with pytest.raises(FileNotFoundError, match="make lm"):
        require_lm(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make classifier"):
        classifier.WikiReference(str(tmp_path / "none.bin")).setup()
    with pytest.raises(FileNotFoundError, match="make lm"):
        CommonCrawl(CommonCrawlConfig(lm_dir=str(tmp_path))).steps()


# --- Wikipedia-reference classifier --------------------------------------------------------

def test_classifier_prefers_wikipedia_text(data, articles):
    f = classifier.WikiReference(str(data / "models" / classifier.MODEL_NAME), threshold=0.25)
    held_out = articles[20:]  # not trained on
    spam = [doc(i, "\n".join([SALAD] * (i + 2))) for i in range(5)]
    wiki_scores = sorted(f.score(t) for t in held_out)
    assert wiki_scores[len(wiki_scores) // 2] > 10 * max(f.score(d.text) for d in spam)
    kept = doc(1, max(held_out, key=f.score))
    assert f(kept) == (True, "") and kept.meta["wiki_score"] >= 0.25
    assert f(spam[0]) == (False, "not_wiki_reference") and spam[0].meta["wiki_score"] < 0.25
    assert len(pickle.dumps(f)) < 2000


# --- the whole job on the sample --------------------------------------------------------------

@pytest.fixture(scope="module")
def job(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("cc_out")
    inputs = sorted(glob.glob(str(data / "raw" / "commoncrawl" / "*")))
    stats = run_source(CommonCrawl(config(data)), inputs, str(out))
    return stats, out, inputs


def raw_pages(inputs):
    source = CommonCrawl(CommonCrawlConfig())
    return [r for path in inputs for r in source.read(path) if isinstance(r, Document)]


def test_every_non_english_page_is_dropped(job):
    stats, out, inputs = job
    foreign = {d.id for d in raw_pages(inputs) if d.meta.get("cc_language", "eng") != "eng"}
    # Bulgarian pages always; German and Russian ones when Debian's fortunes-de/-ru are installed
    assert len(foreign) >= (40 if os.path.isdir(os.path.join(sample.FORTUNES, "de")) else 8)
    clean = clean_docs(str(out), "commoncrawl")
    assert clean and not foreign & {d["id"] for d in clean}
    assert all(d["meta"]["language"] == "en" and d["meta"]["language_score"] >= 0.5 for d in clean)
    assert stats["dropped"]["not_english"] >= len(foreign) - 4  # a few foreign pages are emptied by dedup first


def test_boilerplate_lines_are_gone_from_every_kept_page(job):
    stats, out, inputs = job
    boilerplate = set(sample.NAV + sample.COOKIES + sample.FOOTERS)
    raw_hits = sum(1 for d in raw_pages(inputs) for line in d.text.split("\n") if line in boilerplate)
    assert raw_hits > 100
    clean = clean_docs(str(out), "commoncrawl")
    assert not [d["id"] for d in clean for line in d["text"].split("\n") if line.strip() in boilerplate]
    assert all(d["meta"]["dedup_lines_removed"] >= 0 for d in clean if "dedup_lines_removed" in d["meta"])


def test_stats_add_up_with_every_reason_and_error(job):
    stats, out, inputs = job
    accounted = stats["documents_out"] + sum(stats["dropped"].values()) + sum(stats["errors"].values())
    source = CommonCrawl(CommonCrawlConfig())
    assert stats["documents_in"] == accounted == sum(1 for path in inputs for _ in source.read(path))
    for reason in ("too_short", "empty_after_dedup", "not_english", "perplexity_tail"):
        assert stats["dropped"].get(reason, 0) > 0, reason
    assert stats["errors"] == {"invalid_utf8": 1, "truncated_record": 2}  # bad bytes, lying length, cut file
    errors = read_jsonl_gz(str(out / "errors" / "commoncrawl" / "*.jsonl.gz"))
    assert sorted(e["kind"] for e in errors) == ["invalid_utf8", "truncated_record", "truncated_record"]
    clean = clean_docs(str(out), "commoncrawl")
    assert all(d["meta"]["bucket"] in ("head", "middle") and d["meta"]["wiki_score"] >= 0.25 for d in clean)
    rejected = read_jsonl_gz(str(out / "rejected" / "commoncrawl" / "*.jsonl.gz"))
    assert {r["drop_reason"] for r in rejected} == set(stats["dropped"])


def test_wet_file_gzipped_whole_is_read_in_full(job):
    """The sample's `-00005.warc.wet.gz` is one gzip member (recompressed by `gzip`): every page of
    it is read, and each is kept or dropped with a reason, none lost and no error."""
    stats, out, inputs = job
    whole = next(p for p in inputs if p.endswith("-00005.warc.wet.gz"))
    with open(whole, "rb") as f:
        inflate = zlib.decompressobj(wbits=31)
        inflate.decompress(f.read())
    assert inflate.eof and not inflate.unused_data  # a single gzip member
    pages = raw_pages([whole])
    assert [d.meta["url"] for d in pages] == [f"http://www.dailychronicle.example/news/{n}" for n in
                                              range(sample.NEWS_PAGES, sample.NEWS_PAGES + sample.NEWS_WHOLE_GZIP)]
    fates = {d["id"]: "kept" for d in clean_docs(str(out), "commoncrawl")}
    fates.update((r["id"], r["drop_reason"]) for r in read_jsonl_gz(str(out / "rejected" / "commoncrawl" / "*.jsonl.gz")))
    assert all(d.id in fates for d in pages)
    errors = read_jsonl_gz(str(out / "errors" / "commoncrawl" / "*.jsonl.gz"))
    assert not [e for e in errors if "-00005." in e["input"]]


def test_plain_loop_agrees_with_the_beam_job(job, data):
    stats, out, inputs = job
    kept, dropped, errors = CommonCrawl(config(data)).plain_loop(inputs)
    assert sorted(d.id for d in kept) == sorted(d["id"] for d in clean_docs(str(out), "commoncrawl"))
    assert dropped == stats["dropped"] and errors == stats["errors"]


# --- languages other than English ---------------------------------------------------------------

BGWIKI_ASSET = "bgwiki-latest-pages-articles-shortened.xml.bz2"


@pytest.fixture(scope="module")
def bg_lm_dir(data, tmp_path_factory):
    """data/models plus a small Bulgarian LM trained on the real bgwiki dump, under CCNet's names."""
    lm_dir = tmp_path_factory.mktemp("lm_bg")
    for name in os.listdir(data / "models"):
        (lm_dir / name).write_bytes((data / "models" / name).read_bytes())
    train = tmp_path_factory.mktemp("bg_train")
    lm.train_lm(lm.dump_texts(asset_path(BGWIKI_ASSET)), str(train), vocab_size=400)
    for en_name, bg_name in (("en.sp.model", "bg.sp.model"), ("en.arpa.bin", "bg.arpa.bin")):
        (lm_dir / bg_name).write_bytes((train / en_name).read_bytes())
    return lm_dir


def test_each_page_is_scored_with_its_own_languages_lm(bg_lm_dir):
    text = next(t for t in lm.dump_texts(asset_path(BGWIKI_ASSET)))[:3000]
    en_model, bg_model = PerplexityModel(str(bg_lm_dir)), PerplexityModel(str(bg_lm_dir), "bg")
    assert bg_model.perplexity(text) < en_model.perplexity(text) / 5  # the English LM cannot judge Bulgarian
    (bg_lm_dir / "bg.cutoffs.json").write_text(json.dumps({"head": 1e9, "tail": 2e9}))
    f = PerplexityBuckets(str(bg_lm_dir), languages=("en", "bg"))
    bg_page = doc(1, text)
    bg_page.meta["language"] = "bg"
    assert f(bg_page) == (True, "")
    assert bg_page.meta["perplexity"] == pytest.approx(bg_model.perplexity(text), abs=0.1)
    assert bg_page.meta["bucket"] == "head"  # by the Bulgarian cutoffs, not English ones
    en_page = doc(2, WIKI)
    en_page.meta["language"] = "en"
    f(en_page)
    head, tail, _ = load_cutoffs(str(bg_lm_dir))
    assert en_page.meta["bucket"] == bucket(en_model.perplexity(WIKI), head, tail)
    (bg_lm_dir / "bg.cutoffs.json").unlink()


def test_a_language_without_its_lm_or_cutoffs_stops_the_job_before_it_starts(data, bg_lm_dir, tmp_path):
    inputs = sorted(glob.glob(str(data / "raw" / "commoncrawl" / "*")))
    with pytest.raises(FileNotFoundError, match="de.sp.model"):
        run_source(CommonCrawl(config(data, languages=("en", "de"))), inputs, str(tmp_path / "a"))
    cfg = config(data, languages=("en", "bg"))
    cfg.lm_dir = str(bg_lm_dir)
    with pytest.raises(FileNotFoundError, match="no perplexity cutoffs for 'bg'"):
        run_source(CommonCrawl(cfg), inputs, str(tmp_path / "b"))


# --- fuzzing: mutants of the sample's files, read and filtered (tests/fixtures/fuzz.py) ------------

IANA_MEMBERS = [*range(0, 7), *range(9, 15), *range(19, 31), 43, 44]  # three HTML pages and what they load


def gzip_members(data: bytes) -> list[bytes]:
    """A file's gzip members, each as its bytes in the file (a cut last one as it is)."""
    members = []
    while data:
        inflate = zlib.decompressobj(wbits=31)
        inflate.decompress(data)
        end = len(data) - len(inflate.unused_data) if inflate.eof else len(data)
        members.append(data[:end])
        data = data[end:]
    return members


def fuzz_seeds(raw) -> list[tuple[str, bytes]]:
    """The sample's Common Crawl files in all their formats: WET gzipped a record a member (the first
    16 members of each), the WET cut short, the WET gzipped whole, and the real WARC crawl
    iana.warc.gz (IANA_MEMBERS: its warcinfo, three HTML pages with their requests, scripts,
    images, style sheets and revisits; the 100 KB fonts left out). Whole members, so each seed is
    still the real format; cut so that a few hundred mutants fit the suite's time budget."""
    seeds = []
    for rel, data in fuzz.seed_files(str(raw)):
        if rel.endswith(("-00009.warc.wet.gz", "-00005.warc.wet.gz")):
            seeds.append((rel, data))
        elif rel.endswith(".warc.wet.gz"):
            seeds.append((rel, b"".join(gzip_members(data)[:16])))
        elif rel == "iana.warc.gz":
            members = gzip_members(data)
            seeds.append((rel, b"".join(members[i] for i in IANA_MEMBERS)))
    return seeds


def test_fuzz_commoncrawl_reader(data, tmp_path):
    """Mutants of every format, read and run through every filter step (TooShort, LanguageId,
    Perplexity and WikiReference, with the small models of `data`): nothing escapes, no mutant is
    slow or grows memory, nothing outside the mutant is opened."""
    source = CommonCrawl(config(data))
    seeds = fuzz_seeds(data / "raw" / "commoncrawl")
    assert sorted(rel.rsplit("-", 1)[-1] for rel, _ in seeds) == sorted(
        ["00000.warc.wet.gz", "00001.warc.wet.gz", "00002.warc.wet.gz", "00003.warc.wet.gz",
         "00005.warc.wet.gz", "00009.warc.wet.gz", "iana.warc.gz"])
    for rel, seed in seeds:  # each seed, unchanged, holds pages
        (tmp_path / "seeds" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "seeds" / rel).write_bytes(seed)
        assert any(isinstance(r, Document) for r in source.read(str(tmp_path / "seeds" / rel))), rel
    filters = [step for _, step in source.steps() if isinstance(step, Filter)]
    report = fuzz.fuzz(source.read, filters, seeds, str(tmp_path / "work"), count=fuzz.iterations(300), seed=24)
    print(report.summary("commoncrawl"))
    assert report.failures == []
    assert report.documents > 0 and {"corrupt_gzip", "truncated_record", "digest_mismatch"} <= set(report.errors)


def test_fuzz_commoncrawl_job(data, tmp_path):
    """The whole Beam job over 30 mutants: its accounting holds (run_source checks documents_in ==
    out + dropped + errors), the plain loop reads the same, and pages reach every step (the first
    copy of a line is kept: mutants of one seed share most of their lines)."""
    paths = fuzz.write_mutants(fuzz_seeds(data / "raw" / "commoncrawl"), 30, seed=7, workdir=str(tmp_path / "in"))
    source = CommonCrawl(config(data, dedup_keep_first=True))
    stats = run_source(source, paths, str(tmp_path / "out"))
    assert stats["documents_out"] > 0 and stats["errors"]
    assert {"too_short", "not_english", "perplexity_tail", "not_wiki_reference"} <= set(stats["dropped"])
    kept, dropped, errors = source.plain_loop(paths)
    assert errors == stats["errors"] and len(kept) + sum(dropped.values()) + sum(errors.values()) == stats["documents_in"]
