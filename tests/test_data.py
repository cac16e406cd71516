"""Corpora, token caches (checksums, atomic writes), samples and deterministic minibatches."""

import pytest
import torch

import holograd.data as data
from holograd.data import (
    DataUnavailableError,
    SampleSet,
    TokenCacheError,
    batch_ids,
    embedded_corpus,
    load_token_cache,
    prepare_token_cache,
    wikitext2_corpus,
)


def test_embedded_corpus_is_real_english_split_in_two():
    corpus = embedded_corpus()
    assert len(corpus["train"]) > 300_000 and len(corpus["validation"]) > 20_000
    assert corpus["train"].count(" the ") > 1000
    assert corpus == embedded_corpus()


def test_token_cache_roundtrip_is_deterministic(tmp_path, token_cache):
    meta = prepare_token_cache("embedded", tmp_path / "c.pt", vocab_size=300, tokenizer_path=tmp_path / "tok.json")
    assert meta["sha256"] == token_cache.meta["sha256"]  # tokenizer training and encoding are deterministic
    assert meta["vocab_size"] == 300 and (tmp_path / "tok.json").is_file()
    assert meta["python"] and set(meta["text_sha256"]) == {"train", "validation"}
    loaded = load_token_cache(tmp_path / "c.pt")
    assert all(torch.equal(loaded.splits[k], token_cache.splits[k]) for k in ("train", "validation"))
    assert int(loaded.splits["train"].max()) < 300


def test_corrupted_and_truncated_caches_are_refused(tmp_path):
    path = tmp_path / "c.pt"
    prepare_token_cache("embedded", path, vocab_size=300)
    original = path.read_bytes()
    obj = torch.load(path, weights_only=True)
    obj["splits"]["train"][100] += 1  # one token changed, file still well-formed
    torch.save(obj, path)
    with pytest.raises(TokenCacheError, match="SHA-256"):
        load_token_cache(path)
    path.write_bytes(original[: len(original) // 2])
    with pytest.raises(TokenCacheError, match="truncated"):
        load_token_cache(path)
    with pytest.raises(TokenCacheError, match="does not exist"):
        load_token_cache(tmp_path / "missing.pt")


def test_failed_preparation_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_save(obj, f):
        with open(f, "wb") as out:
            out.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(data.torch, "save", broken_save)
    with pytest.raises(OSError):
        prepare_token_cache("embedded", tmp_path / "c.pt", vocab_size=300)
    assert list(tmp_path.iterdir()) == []


def test_failed_tokenizer_write_leaves_nothing_behind(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(OSError):
        prepare_token_cache("embedded", tmp_path / "c.pt", vocab_size=300, tokenizer_path=blocker / "tok.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_paper_dataset_unavailable_offline_says_so_in_one_line():
    with pytest.raises(DataUnavailableError) as err:
        wikitext2_corpus()
    message = str(err.value)
    assert "WikiText-2" in message and "embedded" in message and "\n" not in message


def test_unknown_corpus_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="corpus"):
        prepare_token_cache("shakespeare", tmp_path / "c.pt")
    assert list(tmp_path.iterdir()) == []


def test_samples_are_consecutive_windows():
    tokens = torch.arange(100, dtype=torch.int32)
    s = SampleSet(tokens, block_size=8)
    assert s.n_samples == 12
    b = s.batch([0, 3, 11])
    assert b.ids == (0, 3, 11) and b.tokens.shape == (3, 9)
    assert b.tokens[1].tolist() == list(range(24, 33))
    with pytest.raises(ValueError, match="outside"):
        s.batch([12])


def test_batch_ids_are_deterministic_distinct_and_in_range():
    ids = batch_ids(seed=3, step=10, batch_size=16, n_samples=50)
    assert ids == batch_ids(3, 10, 16, 50)
    assert len(set(ids)) == 16 and all(0 <= i < 50 for i in ids)
    assert ids != batch_ids(3, 11, 16, 50) and ids != batch_ids(3, 10, 16, 50, stream=1)
    assert sorted(batch_ids(0, 0, 50, 50)) == list(range(50))
    with pytest.raises(ValueError, match="batch_size"):
        batch_ids(0, 0, 51, 50)


def test_batch_ids_cover_the_samples_uniformly():
    # 2000 batches of 8 from 40 samples: each id appears Binomial(2000, 0.2) times; 5 sd bound.
    # A modulo-biased or step-only (seed-ignoring) draw shows up here.
    counts = torch.zeros(40)
    for t in range(2000):
        counts[batch_ids(1, t, 8, 40)] += 1
    assert (counts - 400).abs().max().item() < 5 * (2000 * 0.2 * 0.8) ** 0.5
