"""Corpora, tokenizers, token caches, samples and deterministic minibatches.

Two corpora:
- "wikitext2": WikiText-2 (`wikitext-2-raw-v1`) through `datasets`, tokenised with the
  GPT-2 tokenizer through `transformers` (the paper's setting; needs the Hugging Face hub
  once, then its cache);
- "embedded": the Python Language Reference topics that ship with CPython
  (`pydoc_data.topics`, about 465K characters of English prose), tokenised with a
  byte-level BPE tokenizer trained locally with `tokenizers`.  It needs no network at all.
  Its text changes a little between CPython minor versions, so the cache records the
  Python version and the text's SHA-256.

A token cache holds each split as one int32 stream and a SHA-256 checksum of the tokens,
verified at every load.  A stream is cut into non-overlapping samples of block_size + 1
tokens (inputs and next-token targets) with integer sample ids; a minibatch is a list of
sample ids drawn from (seed, step, stream) by SHA-256, so it is the same on every machine
and is what the protocol commits to (H(B)).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from holograd.files import atomic_write, write_text

log = logging.getLogger(__name__)

CORPORA = ("embedded", "wikitext2")
SPLITS = ("train", "validation")
EOT = "<|endoftext|>"
_OFFLINE_HINT = "run offline with the embedded default instead (corpus: embedded)"


class DataUnavailableError(RuntimeError):
    """The paper dataset or tokenizer cannot be fetched (no network, no local cache)."""


class TokenCacheError(ValueError):
    """A token cache file is missing, truncated, corrupted or of an unexpected format."""


# --- corpora -------------------------------------------------------------------------


def embedded_corpus(validation_fraction: float = 0.1) -> dict[str, str]:
    """The Python Language Reference topics shipped with CPython, split into train/validation.

    Topics are joined in sorted order; the last `validation_fraction` of the text (cut at a
    topic boundary) is the validation split.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {validation_fraction}")
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # stripped-down Python builds
        raise DataUnavailableError(
            f"the embedded corpus (pydoc_data.topics) is missing from this Python: {exc}"
        ) from exc
    docs = [topics[k].strip() for k in sorted(topics)]
    total = sum(len(d) for d in docs)
    train, seen = [], 0
    while docs and seen + len(docs[0]) <= (1.0 - validation_fraction) * total:
        seen += len(docs[0])
        train.append(docs.pop(0))
    if not train or not docs:
        raise DataUnavailableError("the embedded corpus is too small to split")
    return {"train": "\n\n".join(train), "validation": "\n\n".join(docs)}


def wikitext2_corpus() -> dict[str, str]:
    """WikiText-2 (raw) train and validation text from the Hugging Face hub via `datasets`."""
    try:
        import datasets

        ds = datasets.load_dataset("Salesforce/wikitext", "wikitext-2-raw-v1")
    except Exception as exc:  # network, hub or cache failures all mean the same to the user
        raise DataUnavailableError(
            f"WikiText-2 could not be loaded from the Hugging Face hub ({type(exc).__name__}); {_OFFLINE_HINT}"
        ) from exc
    return {split: "".join(ds[split]["text"]) for split in SPLITS}


# --- tokenizers ----------------------------------------------------------------------


def train_bpe_tokenizer(text: str, vocab_size: int):
    """A byte-level BPE tokenizer (`tokenizers`) trained on `text`, with `<|endoftext|>` as id 0."""
    from tokenizers import ByteLevelBPETokenizer

    if vocab_size < 257 + 1:
        raise ValueError(f"a byte-level BPE vocabulary needs at least 258 entries, got {vocab_size}")
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator([text], vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT], show_progress=False)
    return tok


def gpt2_tokenizer():
    """The GPT-2 tokenizer from the Hugging Face hub via `transformers`."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained("openai-community/gpt2")
    except Exception as exc:
        raise DataUnavailableError(
            f"the GPT-2 tokenizer could not be loaded from the Hugging Face hub ({type(exc).__name__}); {_OFFLINE_HINT}"
        ) from exc


# --- token caches ----------------------------------------------------------------------


def tokens_checksum(splits: dict[str, Tensor]) -> str:
    """SHA-256 over the split names and their int32 token bytes."""
    h = hashlib.sha256()
    for name in sorted(splits):
        h.update(name.encode() + b"\0")
        h.update(splits[name].to(torch.int32).contiguous().numpy().tobytes())
    return h.hexdigest()


def save_atomically(obj: object, path: Path) -> None:
    """torch.save, atomically (holograd.files.atomic_write): a crash or a kill leaves the old
    file or the new one, never a half-written one."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def prepare_token_cache(
    corpus: str,
    path: str | Path,
    *,
    vocab_size: int = 1024,
    tokenizer_path: str | Path | None = None,
) -> dict:
    """Tokenise a corpus and write its token cache to `path`; returns the cache's metadata.

    corpus "embedded": trains a byte-level BPE tokenizer of `vocab_size` on the train split
    (saved to `tokenizer_path` when given); corpus "wikitext2": GPT-2 tokenizer, whose
    vocabulary size (50257) replaces `vocab_size`.  Nothing is written unless every step
    succeeds.
    """
    path = Path(path)
    if corpus == "embedded":
        text = embedded_corpus()
        bpe = train_bpe_tokenizer(text["train"], vocab_size)
        ids = {name: bpe.encode(text[name]).ids for name in SPLITS}
        vocab, tokenizer_name, tokenizer_json = bpe.get_vocab_size(), f"bytelevel-bpe-{vocab_size}", bpe.to_str()
    elif corpus == "wikitext2":
        text = wikitext2_corpus()
        gpt2 = gpt2_tokenizer()
        ids = {name: gpt2(text[name], verbose=False)["input_ids"] for name in SPLITS}
        vocab, tokenizer_name, tokenizer_json = len(gpt2), "gpt2", None
    else:
        raise ValueError(f"unknown corpus {corpus!r}; choose one of {list(CORPORA)}")
    splits = {name: torch.tensor(ids[name], dtype=torch.int32) for name in SPLITS}
    meta = {
        "corpus": corpus,
        "text_sha256": {k: hashlib.sha256(v.encode()).hexdigest() for k, v in text.items()},
        "python": platform.python_version(),
        "tokenizer": tokenizer_name,
        "vocab_size": int(vocab),
        "n_tokens": {k: int(v.numel()) for k, v in splits.items()},
        "sha256": tokens_checksum(splits),
    }
    save_atomically({"meta": meta, "splits": splits}, path)
    if tokenizer_path is not None and tokenizer_json is not None:
        try:
            write_text(tokenizer_json, Path(tokenizer_path))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    log.info("token cache %s: %s", path, json.dumps(meta))
    return meta


@dataclass(frozen=True)
class TokenCache:
    """A verified token cache: the splits' token streams and their metadata."""

    meta: dict
    splits: dict[str, Tensor]

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])


def load_token_cache(path: str | Path) -> TokenCache:
    """Read a token cache and verify its checksum; TokenCacheError names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise TokenCacheError(f"token cache {path} does not exist; run the data preparation step first")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        meta, splits = obj["meta"], obj["splits"]
    except Exception as exc:
        raise TokenCacheError(
            f"token cache {path} is unreadable or truncated ({type(exc).__name__}); delete it and prepare it again"
        ) from exc
    if tokens_checksum(splits) != meta.get("sha256"):
        raise TokenCacheError(f"token cache {path} fails its SHA-256 check (corrupted); delete it and prepare it again")
    return TokenCache(meta=meta, splits=splits)


# --- samples and minibatches -----------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """A minibatch: its sample ids (what H(B) commits to) and their tokens (B, block_size + 1)."""

    ids: tuple[int, ...]
    tokens: Tensor


class SampleSet:
    """A token stream cut into non-overlapping samples of block_size + 1 tokens.

    Sample i covers tokens[i * block_size : i * block_size + block_size + 1]: the model reads
    the first block_size tokens and predicts the last block_size.
    """

    def __init__(self, tokens: Tensor, block_size: int):
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.tokens = tokens.to(torch.int64)
        self.block_size = block_size
        self.n_samples = (tokens.numel() - 1) // block_size
        if self.n_samples < 1:
            raise ValueError(f"a stream of {tokens.numel()} tokens holds no sample of {block_size + 1} tokens")

    def batch(self, ids, device: torch.device | str | None = None) -> Batch:
        """The Batch of the given sample ids."""
        ids = tuple(int(i) for i in ids)
        bad = [i for i in ids if not 0 <= i < self.n_samples]
        if bad:
            raise ValueError(f"sample ids {bad[:3]} outside [0, {self.n_samples})")
        starts = torch.tensor(ids, dtype=torch.int64) * self.block_size
        index = starts.unsqueeze(1) + torch.arange(self.block_size + 1)  # (B, T+1)
        return Batch(ids=ids, tokens=self.tokens[index].to(device))


def batch_ids(seed: int, step: int, batch_size: int, n_samples: int, stream: int = 0) -> list[int]:
    """Sample ids of minibatch (seed, step, stream): distinct, drawn by SHA-256 counters.

    The j-th draw is SHA-256(seed || step || stream || j) mod n_samples (8-byte little-endian
    fields), skipping repeats, so batches depend on these four numbers alone.  `stream`
    separates independent batch sequences (e.g. one per worker, or held-out evaluation).
    """
    if min(seed, step, stream) < 0:
        raise ValueError(f"seed, step and stream must be non-negative, got {seed}, {step}, {stream}")
    if not 1 <= batch_size <= n_samples:
        raise ValueError(f"batch_size must lie in [1, {n_samples}] (the number of samples), got {batch_size}")
    ids: list[int] = []
    seen: set[int] = set()
    j = 0
    prefix = b"".join(int(v).to_bytes(8, "little") for v in (seed, step, stream))
    while len(ids) < batch_size:
        i = int.from_bytes(hashlib.sha256(prefix + j.to_bytes(8, "little")).digest(), "little") % n_samples
        j += 1
        if i not in seen:
            seen.add(i)
            ids.append(i)
    return ids
