"""`make lm` and `make classifier` as commands: bounded samples from a data root that is a local
folder or an S3 URL (a moto server in this process), models written there, and one-line errors."""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
import os
import shutil

import pytest

from pipeline.assets import asset_path
from samples import commoncrawl as sample
from sources.commoncrawl import classifier, lm
from tests.fixtures.s3_server import s3_store

CAPS = ["--vocab-size", "1000", "--max-chars", "40000", "--min-chars", "5000", "--reference-pages", "60"]
MODELS = ["en.sp.model", "en.arpa.bin", "en.cutoffs.json"]
CLASSIFIER = [classifier.MODEL_NAME, "wiki_classifier.json"]  # the model and what it was trained on
IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]  # the classifier's Beam job, in-process


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A data root as the corpus jobs leave it: clean Wikipedia (40 real articles) and raw WET pages."""
    root = tmp_path_factory.mktemp("data")
    clean = root / "clean" / "wikipedia"
    clean.mkdir(parents=True)
    articles = itertools.islice(lm.dump_texts(asset_path(lm.ENWIKI_ASSET)), 40)
    with gzip.open(clean / "wikipedia-00000-of-00001.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, text in enumerate(articles):
            f.write(json.dumps({"id": f"wikipedia/{i}", "text": text, "source": "wikipedia",
                                "meta": {"language": "en"}}) + "\n")
    raw = root / "raw" / "commoncrawl"
    raw.mkdir(parents=True)
    sample.build(str(raw), os.path.dirname(asset_path("lid.176.ftz")), 1234)
    return root


@pytest.fixture(scope="module")
def local_models(root):
    """The commands run on the local root, models in DATA/models; returns (models folder, stdout)."""
    assert lm.main(["--data", str(root), *CAPS]) == 0
    assert classifier.main(["--data", str(root), "--max-examples", "25", "--epochs", "2", *IN_MEMORY]) == 0
    return root / "models"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err  # one line, no traceback
    return err[0]


def test_lm_trains_on_at_most_max_chars_and_scores_at_most_reference_pages(local_models, capsys):
    assert sorted(os.listdir(local_models)) == sorted(MODELS + CLASSIFIER)
    cutoffs = json.loads((local_models / "en.cutoffs.json").read_text())
    assert 10 <= cutoffs["pages"] <= 60 and cutoffs["head"] < cutoffs["tail"]
    docs = [(f"wikipedia/{i}", t) for i, t in enumerate(itertools.islice(lm.dump_texts(asset_path(lm.ENWIKI_ASSET)), 40))]
    whole = sum(len(line) + 1 for _, text in docs for line in lm.corpus_lines(text))
    assert whole > 40_000  # the cap is below the input, so it is what these models were trained on
    assert sum(len(line) + 1 for line in lm.sample_lines(docs, 40_000).items()) <= 40_000


def test_classifier_takes_at_most_max_examples_of_each_class(root, tmp_path, capsys):
    out = tmp_path / "wiki.bin"
    assert classifier.main(["--data", str(root), "--output", str(out), "--max-examples", "7", "--epochs", "2",
                            *IN_MEMORY]) == 0
    said = capsys.readouterr().out  # no cited URLs under this root: article text, said (tests/.../references)
    assert "positives: 7 Wikipedia articles (FALLBACK" in said and "negatives: 7 random CommonCrawl pages" in said
    info = json.loads((tmp_path / "wiki.json").read_text())
    assert (info["positives"], info["positives_used"], info["negatives_used"]) == (classifier.ARTICLE_TEXT, 7, 7)
    assert out.stat().st_size > 0 and not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_same_models_when_data_and_models_are_s3_urls(root, local_models, tmp_path):
    with s3_store() as store:
        data = store.bucket("cc-data") + "/data"
        store.upload_tree(str(root / "clean"), data + "/clean")
        store.upload_tree(str(root / "raw"), data + "/raw")
        assert lm.main(["--data", data, *CAPS, *store.flags]) == 0
        assert classifier.main(["--data", data, "--max-examples", "25", "--epochs", "2", *store.flags]) == 0
        assert store.keys(data + "/models/") == [f"data/models/{n}" for n in sorted(MODELS + CLASSIFIER)]
        assert store.get(f"{data}/models/en.arpa.bin") == (local_models / "en.arpa.bin").read_bytes()
        remote_bin = store.get(f"{data}/models/{classifier.MODEL_NAME}")
        assert remote_bin == (local_models / classifier.MODEL_NAME).read_bytes()
        remote = json.loads(store.get(f"{data}/models/en.cutoffs.json"))
    local = json.loads((local_models / "en.cutoffs.json").read_text())
    assert remote.pop("reference") == data + "/raw/commoncrawl"
    assert remote == {k: v for k, v in local.items() if k != "reference"}


def test_models_to_an_s3_lm_dir_from_local_data(root, local_models, tmp_path):
    with s3_store() as store:
        models = store.bucket("cc-models") + "/en"
        assert lm.main(["--data", str(root), "--lm-dir", models, *CAPS, *store.flags]) == 0
        assert store.get(models + "/en.arpa.bin") == (local_models / "en.arpa.bin").read_bytes()
        assert store.keys(models) == [f"en/{n}" for n in sorted(MODELS)]  # no temp file left behind


def test_an_output_that_cannot_be_written_is_one_error_line(root, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert lm.main(["--data", str(root), "--lm-dir", str(blocker / "models")]) == 2
    assert "--lm-dir" in one_error_line(capsys)
    assert classifier.main(["--data", str(root), "--output", str(blocker / "m" / "c.bin")]) == 2
    assert "--output" in one_error_line(capsys)
    with s3_store() as store:
        assert lm.main(["--data", str(root), "--lm-dir", "s3://no-such-bucket/models", *store.flags]) == 2
        assert "no-such-bucket" in one_error_line(capsys)


def test_data_that_cannot_be_read_is_one_error_line(root, tmp_path, capsys):
    bad = tmp_path / "data"
    shutil.copytree(root / "clean", bad / "clean")
    shard = bad / "clean" / "wikipedia" / "wikipedia-00000-of-00001.jsonl.gz"
    shard.write_bytes(shard.read_bytes()[:5000])  # a cut download
    assert lm.main(["--data", str(bad), *CAPS]) == 2
    assert "wikipedia-00000-of-00001.jsonl.gz" in one_error_line(capsys)
    assert classifier.main(["--data", str(bad), "--negatives", str(root / "raw"), *IN_MEMORY]) == 2
    assert "wikipedia-00000-of-00001.jsonl.gz" in one_error_line(capsys)
    assert not (bad / "models" / "en.arpa.bin").exists()


def test_classifier_without_negatives_is_one_error_line(root, tmp_path, capsys):
    assert classifier.main(["--data", str(root), "--negatives", str(tmp_path / "none"),
                            "--output", str(tmp_path / "c.bin")]) == 2
    assert "CommonCrawl pages (0 under" in one_error_line(capsys)


@pytest.mark.parametrize("command", [lm.main, classifier.main])
def test_an_unknown_flag_is_refused_and_beam_flags_are_taken(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        command(["--data", "x", "--sede", "3"])
    assert exit_.value.code == 2 and "--sede (did you mean --seed?)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        command(["--help"])  # --s3_* flags are Beam's: named in the help, not refused
    assert exit_.value.code == 0 and "--s3_endpoint_url" in capsys.readouterr().out


def test_the_classifier_is_the_same_model_trained_again_and_again_in_one_process(root, tmp_path):
    """fastText now and then stops with "Encountered NaN" on the same examples that train on the
    next call; the NaN used to halve the learning rate, so the model depended on the luck of the
    call (`make demo-cluster` got another classifier than `make demo`, and another CommonCrawl)."""
    docs, _ = lm.wikipedia_docs(str(root))
    wiki = classifier.sample_texts(docs)
    cc = classifier.cc_pages(str(root / "raw" / "commoncrawl"))
    models = set()
    for attempt in range(6):
        path = tmp_path / f"c{attempt}.bin"
        classifier.train(wiki, cc, str(path), epochs=25)
        models.add(path.read_bytes())
    assert len(models) == 1


# --- one model per language -----------------------------------------------------------------------

BGWIKI_ASSET = "bgwiki-latest-pages-articles-shortened.xml.bz2"


def spoken(texts) -> str:
    """The training lines of `texts` as SentencePiece sees them (NFKC, spaces as "▁"): every piece
    of a vocabulary learnt from these texts alone is a substring of this."""
    import unicodedata

    return "\n".join("▁" + unicodedata.normalize("NFKC", "▁".join(line.split()))
                     for text in texts for line in lm.corpus_lines(text))


def vocab(path) -> set[str]:
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
    return {sp.id_to_piece(i) for i in range(sp.get_piece_size())
            if not (sp.is_control(i) or sp.is_unknown(i)) and sp.id_to_piece(i) != "▁"}


@pytest.fixture(scope="module")
def two_languages(root, tmp_path_factory):
    """A data root whose clean Wikipedia holds English articles and a Bulgarian one (real dumps),
    in one shard, as the Wikipedia job writes them, and `make lm LANGUAGES=en,bg,fi` run on it.
    Returns (data root, models folder, stdout, {language: its texts})."""
    data = tmp_path_factory.mktemp("two")
    (data / "clean" / "wikipedia").mkdir(parents=True)
    (data / "raw").symlink_to(root / "raw")
    texts = {"en": list(itertools.islice(lm.dump_texts(asset_path(lm.ENWIKI_ASSET)), 15)),
             "bg": list(lm.dump_texts(asset_path(BGWIKI_ASSET)))}
    with gzip.open(data / "clean" / "wikipedia" / "wikipedia-00000-of-00001.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, (lang, text) in enumerate((lang, t) for lang in ("bg", "en") for t in texts[lang]):
            f.write(json.dumps({"id": f"wikipedia/{lang}/{i}", "text": text, "meta": {"language": lang}}) + "\n")
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert lm.main(["--data", str(data), "--languages", "en,bg,fi", *CAPS]) == 0
    return data, data / "models", said.getvalue(), texts


def test_each_language_is_trained_on_its_own_wikipedia_text_only(two_languages):
    _, models, said, texts = two_languages
    en, bg = vocab(models / "en.sp.model"), vocab(models / "bg.sp.model")
    en_text, bg_text = spoken(texts["en"]), spoken(texts["bg"])
    assert all(piece in bg_text for piece in bg)  # nothing of the English articles
    assert all(piece in en_text for piece in en)  # nothing of the Bulgarian one
    assert "▁the" in en and "▁the" not in bg and len([p for p in en if p not in bg_text]) > 100
    # cutoffs per language, from the raw pages fastText calls that language; the sample has fewer
    # than 10 Bulgarian ones, so bg gets none and a job keeping bg is stopped, as one without a model
    assert json.loads((models / "en.cutoffs.json").read_text())["language"] == "en"
    assert not (models / "bg.cutoffs.json").exists() and "fewer than 10: no bg.cutoffs.json" in said
    assert "fi: no model: 0 characters of fi Wikipedia text" in said
    assert sorted(os.listdir(models)) == sorted(MODELS + ["bg.sp.model", "bg.arpa.bin"])
    from sources.commoncrawl.perplexity import require_lm

    with pytest.raises(FileNotFoundError, match="no perplexity cutoffs for 'bg'"):
        require_lm(str(models), ("en", "bg"))
    with pytest.raises(FileNotFoundError, match="fi.sp.model.*LANGUAGES=en,fi"):
        require_lm(str(models), ("en", "fi"))


def test_reference_pages_are_the_pages_fasttext_calls_each_language(two_languages, root):
    from pipeline.langid import LanguageId
    from sources.commoncrawl.cutoffs import reference_perplexities
    from sources.commoncrawl.perplexity import PerplexityModel
    from sources.commoncrawl.sampling import raw_pages

    _, models, _, _ = two_languages
    raw = str(root / "raw" / "commoncrawl")
    lid, bg_lm = LanguageId(("en", "bg")), PerplexityModel(str(models), "bg")
    called = {}
    for _, text in raw_pages(raw):
        language, score = lid.predict(text)
        if score >= lid.threshold:
            called.setdefault(language, []).append(text)
    values = reference_perplexities(str(models), raw, 1000, languages=("en", "bg"))
    assert len(values["en"]) == len(called["en"]) and len(called["bg"]) > 0
    assert sorted(values["bg"]) == sorted(bg_lm.perplexity(text) for text in called["bg"])


def test_a_language_code_lid_does_not_know_or_without_text_is_one_error_line(two_languages, tmp_path, capsys):
    data = two_languages[0]
    out = ["--lm-dir", str(tmp_path / "m")]
    assert lm.main(["--data", str(data), *out, "--languages", "en,xx,english"]) == 2
    assert "unknown language codes 'xx', 'english' in --languages" in one_error_line(capsys)
    assert lm.main(["--data", str(data), *out, "--languages", "fi,sv", *CAPS]) == 2
    line = one_error_line(capsys)
    assert "fi: no model: 0 characters of fi Wikipedia text" in line and "sv: no model" in line
    assert lm.main(["--data", str(data), *out, "--languages", "bg", "--max-chars", "4000"]) == 2
    assert "--min-chars 100,000 is above --max-chars 4,000" in one_error_line(capsys)
    assert not os.listdir(tmp_path / "m")
