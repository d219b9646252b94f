"""The Wikipedia-reference classifier trained as the paper's: the URLs articles cite (from literal
wikitext), the Wikipedia job writing them, and `make classifier` joining them with the crawl on
the sample (the positives are exactly the crawl pages an article cites), with its fallback."""

from __future__ import annotations

import gzip
import html
import json
import os

import pytest

from pipeline.assets import asset_path
from pipeline.dedup import normalize_url
from pipeline.document import Document
from pipeline.files import expand_inputs
from pipeline.warc import read_warc
from samples import commoncrawl as cc_sample
from samples.cited_pages import CITED_PAGES
from samples.wikipedia import split_real_dump, write_multistream
from scripts.report import classifier_note
from sources.c4 import source as c4_source
from sources.commoncrawl import classifier, references
from sources.commoncrawl.lm import ENWIKI_ASSET
from sources.commoncrawl.source import CommonCrawl, CommonCrawlConfig
from sources.wikipedia.citations import cited_urls, raw_cited_urls
from sources.wikipedia.source import WikipediaSource
from tests.fixtures.helpers import run_source

IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


# --- the URLs an article cites, from literal wikitext -----------------------------------------
def test_citation_templates_in_refs_give_their_url_not_the_archive_copy():
    text = ('Text.<ref name="bbc">{{cite news |title=A |url=https://www.bbc.co.uk/news/a-1 |work=BBC '
            '|archive-url=https://web.archive.org/web/2019/https://www.bbc.co.uk/news/a-1 |url-status=live}}</ref> '
            'More.<ref>{{Cite web|url= http://example.org/b |title={{lang|fr|Le b}}|access-date=2020}}</ref> '
            'And.<ref>{{cite book |title=C |chapter-url=https://books.example/c/ch2 |dead-url=no}}</ref>')
    assert raw_cited_urls(text) == ["https://www.bbc.co.uk/news/a-1", "http://example.org/b",
                                    "https://books.example/c/ch2"]


def test_bracketed_and_bare_links_count_inside_refs_only():
    text = ("A claim.<ref>[http://news.example.com/story?id=7&amp;p=2 The story], retrieved 2020.</ref> "
            "Another.<ref>See http://bare.example.net/page. Also (http://paren.example/x).</ref>\n"
            "== External links ==\n* [https://homepage.example/ Official site] http://loose.example/\n")
    assert raw_cited_urls(text) == ["http://news.example.com/story?id=7&p=2", "http://bare.example.net/page",
                                    "http://paren.example/x"]


def test_citation_templates_outside_refs_count_and_archives_name_the_page_archived():
    text = ("== Bibliography ==\n* {{cite book |last=Doe |title=Book |url=https://press.example/book "
            "|archiveurl=https://archive.example/x}}\n"
            "Fact.<ref>[https://web.archive.org/web/20100101000000/http://gone.example/page Gone page]</ref>\n"
            "{{Infobox person |website={{URL|https://person.example}}}}")
    assert raw_cited_urls(text) == ["http://gone.example/page", "https://press.example/book"]


def test_malformed_refs_comments_and_nowiki():
    text = ("Open ref.<ref>{{cite web |url=http://open.example/a |title=A}} never closed\n\n"
            "Later prose http://after-blank-line.example/ is not cited.\n"
            "<!-- <ref>http://commented.example/</ref> --><nowiki><ref>http://nowiki.example/</ref></nowiki>"
            "<ref name=x/> Reused.<ref name=\"y\">http://closed.example/b</ref>"
            "<ref>{{cite web |url=http://unbalanced.example/c |title=C</ref>"
            "<ref>{{cite web |url= |title=empty}}</ref><ref>http://</ref>")
    assert raw_cited_urls(text) == ["http://open.example/a", "http://closed.example/b", "http://unbalanced.example/c"]


def test_cited_urls_are_normalised_as_c4_and_counted_once():
    assert c4_source.normalize_url is normalize_url  # one function: the C4 job's and the join's
    text = ("<ref>{{cite web |url=https://www.site.example/a/ }}</ref><ref>http://site.example/a?utm_source=x</ref>"
            "<ref>https://site.example/b</ref>")
    assert cited_urls(text) == ["site.example/a", "site.example/b"]


# --- the chain on the sample: Wikipedia job -> cited URLs -> classifier ------------------------
@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """DATA root: the sample crawl, and the Wikipedia job's output for a slice of the sample's
    English dump: the articles that cite a page of the crawl (a dozen, not all 106: seconds)."""
    root = tmp_path_factory.mktemp("chain")
    crawl = root / "raw" / "commoncrawl"
    crawl.mkdir(parents=True)
    cc_sample.build(str(crawl), os.path.dirname(asset_path("lid.176.ftz")), 1234)
    in_crawl = {normalize_url(r.meta["url"]) for p in expand_inputs(str(crawl)) for r in read_warc(p, "commoncrawl")
                if isinstance(r, Document)}
    head, *pages, tail = split_real_dump(asset_path(ENWIKI_ASSET))
    citing = [page for page in pages if in_crawl & set(cited_urls(html.unescape(page)))]
    raw = root / "raw" / "wikipedia"
    raw.mkdir()
    dump = str(raw / "enwiki-latest-pages-articles-multistream1.xml-p10p30302.bz2")
    write_multistream(dump, [head, *citing, tail])
    stats = run_source(WikipediaSource(), [dump], str(root), keep_rejected=False)
    assert 5 < stats["documents_out"] == len(citing) < 20
    return root, stats, {url for page in citing for url in cited_urls(html.unescape(page))}


def written_urls(root) -> list[str]:
    urls = []
    for path in sorted((root / "clean" / "wikipedia" / "cited_urls").glob("*.txt.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            urls += f.read().splitlines()
    return urls


def test_the_wikipedia_job_writes_each_cited_url_once_and_counts_them(chain):
    root, stats, articles_cite = chain
    urls = written_urls(root)
    assert len(urls) == len(set(urls)) == stats["cited_urls"]["distinct"] > 300
    assert set(urls) == articles_cite
    assert stats["cited_urls"]["found"] >= stats["cited_urls"]["distinct"]
    assert "amjbot.org/cgi/content/full/91/10/1481" in urls  # Algae's citation of "http://www.amjbot.org/cgi/..."
    docs = [json.loads(line) for p in (root / "clean" / "wikipedia").glob("*.jsonl.gz")
            for line in gzip.open(p, "rt", encoding="utf-8")]
    assert docs and not any(k.startswith("lines:") for d in docs for k in d["meta"])  # no private key leaks


def test_positives_are_exactly_the_crawl_pages_an_article_cites(chain, tmp_path):
    root, _, _ = chain
    cited = set(written_urls(root))
    pages = [r for p in expand_inputs(str(root / "raw" / "commoncrawl")) for r in read_warc(p, "commoncrawl")
             if isinstance(r, Document)]
    expected = {d.id for d in pages if normalize_url(d.meta["url"]) in cited}
    assert len(expected) == CITED_PAGES  # the sample's cited pages, some under another spelling of the URL
    # some are crawled under another spelling ("https://x/" for "http://www.x"): normalize_url joins them
    assert [d for d in pages if d.id in expected and d.meta["url"].endswith("/")]
    work = [(path, True) for path in expand_inputs(str(root / "raw" / "commoncrawl"))]
    glob = str(root / "clean" / "wikipedia" / "cited_urls" / "*.txt.gz")
    found = references.find_examples(references_options(), work, glob, 10_000, 7, str(tmp_path / "ex.jsonl.gz"),
                                     classifier.MAX_CHARS)
    assert set(found.ids[references.POSITIVE]) == expected and found.cited_pages == len(expected)
    others = {d.id for d in pages if d.id not in expected and classifier.classifier_text(d.text)}  # words to learn
    assert set(found.ids[references.NEGATIVE]) == others and found.other_pages == len(others)
    assert found.cited_urls == len(cited) and not os.path.exists(tmp_path / "ex.jsonl.gz")


def references_options():
    from pipeline.options import beam_options

    return beam_options(IN_MEMORY)


def cc_config(model: str) -> CommonCrawlConfig:
    return CommonCrawlConfig(lm_dir="no-lm-needed-for-stats", classifier_model=model)


def test_classifier_trained_on_cited_pages_says_so(chain, tmp_path, capsys):
    root, _, _ = chain
    out = tmp_path / "wiki_classifier.bin"
    args = ["--data", str(root), "--output", str(out), "--max-examples", "20", "--epochs", "2", *IN_MEMORY]
    assert classifier.main(args) == 0
    info = json.loads((tmp_path / "wiki_classifier.json").read_text())
    assert info["positives"] == classifier.CITED and "warning" not in info
    assert (info["cited_pages_found"], info["positives_used"], info["negatives_used"]) == (CITED_PAGES, 20, 20)
    assert "positives: 20 crawl pages Wikipedia cites" in capsys.readouterr().out
    stats = CommonCrawl(cc_config(str(out))).extra_stats({})
    assert stats["wiki_classifier"] == info
    assert "20 of the 60 crawl pages Wikipedia cites" in classifier_note(stats)


def test_negatives_from_another_segment_are_its_pages_only(chain, tmp_path):
    """The demo's classifier takes its negatives from the sample's second segment
    (`build_negatives`): pages of a crawl the job does not filter, none of them cited."""
    root, _, _ = chain
    other = root / "raw" / "commoncrawl-negatives"
    other.mkdir(exist_ok=True)
    cc_sample.build_negatives(str(other), os.path.dirname(asset_path("lid.176.ftz")), 1234)
    theirs = [r for p in expand_inputs(str(other)) for r in read_warc(p, "commoncrawl") if isinstance(r, Document)]
    ours = {r.meta["url"] for p in expand_inputs(str(root / "raw" / "commoncrawl"))
            for r in read_warc(p, "commoncrawl") if isinstance(r, Document)}
    assert len(theirs) > 60 and not {d.meta["url"] for d in theirs} & ours  # another segment's pages
    out = tmp_path / "wiki_classifier.bin"
    args = ["--data", str(root), "--output", str(out), "--negatives", str(other), "--max-examples", "200",
            "--epochs", "2", *IN_MEMORY]
    assert classifier.main(args) == 0
    info = json.loads((tmp_path / "wiki_classifier.json").read_text())
    assert info["negatives_from"] == str(other) and info["other_pages_found"] == len(theirs)
    assert (info["positives_used"], info["negatives_used"]) == (CITED_PAGES, len(theirs))


def test_too_few_cited_pages_fall_back_to_article_text_loudly(chain, tmp_path, capsys):
    root, wiki_stats, _ = chain
    out = tmp_path / "wiki_classifier.bin"
    args = ["--data", str(root), "--output", str(out), "--max-examples", "20", "--epochs", "2", "--min-cited", "61",
            *IN_MEMORY]
    assert classifier.main(args) == 0
    info = json.loads((tmp_path / "wiki_classifier.json").read_text())
    assert info["positives"] == classifier.ARTICLE_TEXT and info["cited_pages_found"] == CITED_PAGES
    assert info["warning"].startswith("FALLBACK: only 60 crawl pages are cited")
    said = capsys.readouterr()
    articles = wiki_stats["documents_out"]  # fewer than --max-examples: every article of the slice
    assert info["positives_used"] == articles and info["negatives_used"] == 20
    assert f"positives: {articles} Wikipedia articles (FALLBACK" in said.out and "WARNING: FALLBACK" in said.err
    stats = CommonCrawl(cc_config(str(out))).extra_stats({})
    assert stats["wiki_classifier"]["warning"] == info["warning"]
    assert 'class="warning"' in classifier_note(stats) and "FALLBACK" in classifier_note(stats)
    (tmp_path / "wiki_classifier.json").unlink()  # a model from before the JSON existed
    assert "rerun `make classifier`" in CommonCrawl(cc_config(str(out))).extra_stats({})["wiki_classifier"]["warning"]
