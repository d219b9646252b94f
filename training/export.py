"""`python -m training.export --run-name NAME`: runs/<run>/hf/, loadable by transformers.

Read from a sharded checkpoint one layer at a time and written one safetensors file per layer
(with transformers' `model.safetensors.index.json`), so memory is bounded by the largest layer.
Weights are renamed to `LlamaForCausalLM`'s names, and the query/key projections permuted:
the reference model rotates consecutive pairs (x[2i], x[2i+1]) of each head, transformers'
`rotate_half` rotates (x[i], x[i + K/2]); reordering the rows of wq and wk per head makes the
two compute the same function (the permutation of transformers'
`convert_llama_weights_to_hf.py`). The SentencePiece model, when there is one, is copied in
with tokenizer.json and configs so `AutoTokenizer.from_pretrained(hf_dir)` loads it too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import torch

from training import checkpoint
from training.config import ModelArgs

SPACE = "\u2581"  # SentencePiece's visible space


def permute_rope(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of wq/wk from interleaved pairs to halves, per head: (H*K, D) -> (H*K, D)."""
    rows, cols = w.shape
    return w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


_LAYER_NAMES = {"attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj",
                "attention.wv": "self_attn.v_proj", "attention.wo": "self_attn.o_proj",
                "feed_forward.w1": "mlp.gate_proj", "feed_forward.w2": "mlp.down_proj",
                "feed_forward.w3": "mlp.up_proj", "attention_norm": "input_layernorm",
                "ffn_norm": "post_attention_layernorm"}
_OUTER = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
          "output.weight": "lm_head.weight"}


def hf_groups(args: ModelArgs) -> list[dict[str, str]]:
    """Our names -> transformers' names, one group per safetensors file: the embedding, each
    block, then the final norm and the head (the export holds one group in memory at a time)."""
    groups = [{"tok_embeddings.weight": _OUTER["tok_embeddings.weight"]}]
    for i in range(args.n_layers):
        groups.append({f"layers.{i}.{a}.weight": f"model.layers.{i}.{b}.weight" for a, b in _LAYER_NAMES.items()})
    groups.append({"norm.weight": _OUTER["norm.weight"], "output.weight": _OUTER["output.weight"]})
    return groups


def hf_tensors(state: dict[str, torch.Tensor], names: dict[str, str], args: ModelArgs) -> dict[str, torch.Tensor]:
    """One group in transformers' names and layout (wq/wk rows permuted per head)."""
    out = {}
    for ours, theirs in names.items():
        w = state[ours].detach().to("cpu")
        if ours.endswith(("attention.wq.weight", "attention.wk.weight")):
            w = permute_rope(w, args.n_heads)
        out[theirs] = w.contiguous().clone()
    return out


def hf_state_dict(state: dict[str, torch.Tensor], args: ModelArgs) -> dict[str, torch.Tensor]:
    return {k: v for names in hf_groups(args) for k, v in hf_tensors(state, names, args).items()}


def hf_config(args: ModelArgs):
    from transformers import LlamaConfig

    return LlamaConfig(hidden_size=args.dim, intermediate_size=args.ffn_hidden, num_hidden_layers=args.n_layers,
                       num_attention_heads=args.n_heads, num_key_value_heads=args.n_heads, vocab_size=args.vocab_size,
                       rms_norm_eps=args.norm_eps, rope_theta=args.rope_theta, max_position_embeddings=args.max_seq_len,
                       tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, hidden_act="silu",
                       attention_bias=False, mlp_bias=False, torch_dtype="float32")


def export(state, args: ModelArgs, out_dir: str, tokenizer_model: str | None = None) -> str:
    """Writes config.json + model-000NN-of-000MM.safetensors (one per group of `hf_groups`) +
    model.safetensors.index.json (+ the tokenizer) into out_dir, atomically. `state` is a dict of
    tensors, or a function returning the tensors of the names it is given (one group at a time)."""
    from safetensors.torch import save_file

    fetch = state if callable(state) else (lambda names: {k: state[k] for k in names})
    tmp = out_dir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    hf_config(args).save_pretrained(tmp)
    groups, weight_map, total = hf_groups(args), {}, 0
    for i, names in enumerate(groups):
        tensors = hf_tensors(fetch(list(names)), names, args)
        shard = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        save_file(tensors, os.path.join(tmp, shard), metadata={"format": "pt"})
        weight_map |= {name: shard for name in tensors}
        total += sum(t.numel() * t.element_size() for t in tensors.values())
        del tensors
    with open(os.path.join(tmp, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    if tokenizer_model and os.path.exists(tokenizer_model):
        write_tokenizer(tokenizer_model, tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.rename(tmp, out_dir)
    return out_dir


def tokenizer_json(model_file: str):
    """The SentencePiece BPE model as a `tokenizers` BPE with the same vocabulary, merges, byte
    fallback and whitespace handling, built from SentencePiece's own API (no protobuf needed).
    Merges are every split of a piece into two pieces, ranked by the merged piece's id, as
    transformers' `SentencePieceExtractor` derives them."""
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE

    sp = spm.SentencePieceProcessor(model_file=model_file)
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    merges = []
    for piece, pid in vocab.items():
        if sp.is_control(pid) or sp.is_unknown(pid) or sp.is_byte(pid):
            continue
        merges += [(pid, vocab[piece[:k]], piece[:k], piece[k:]) for k in range(1, len(piece))
                   if piece[:k] in vocab and piece[k:] in vocab]
    merges.sort()
    tok = Tokenizer(BPE(vocab=vocab, merges=[(m[2], m[3]) for m in merges], unk_token=sp.id_to_piece(sp.unk_id()),
                        fuse_unk=True, byte_fallback=True))
    dummy_prefix = sp.encode_as_pieces("a")[0].startswith(SPACE)  # SentencePiece's add_dummy_prefix
    tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPACE)] * dummy_prefix + [normalizers.Replace(" ", SPACE)])
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
                                    + [decoders.Strip(content=" ", left=1)] * dummy_prefix)
    bos = sp.id_to_piece(sp.bos_id())
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                       special_tokens=[(bos, sp.bos_id())])
    tok.add_special_tokens([AddedToken(sp.id_to_piece(i), special=True, normalized=False)
                            for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)])
    return tok


def write_tokenizer(tokenizer_model: str, out_dir: str) -> None:
    """tokenizer.model, tokenizer.json and the configs (<unk> 0, <s> 1, </s> 2; BOS prepended).

    `AutoTokenizer` loads tokenizer.json as is (a PreTrainedTokenizerFast) and encodes exactly as
    SentencePiece does. `LlamaTokenizer(Fast).from_pretrained` loads it as well, but rebuilds
    its own whitespace rules (its Metaspace does not add the dummy prefix to text that already
    starts with a space)."""
    shutil.copyfile(tokenizer_model, os.path.join(out_dir, "tokenizer.model"))
    tokenizer_json(tokenizer_model).save(os.path.join(out_dir, "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
              "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False, "legacy": False,
              "clean_up_tokenization_spaces": False, "model_max_length": 1 << 30}
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(special, f, indent=2)


def export_run(run_dir: str, tokenizer_model: str | None = None) -> str:
    """Exports the newest checkpoint of a run to runs/<run>/hf/."""
    path = checkpoint.latest(os.path.join(run_dir, "checkpoints"))
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir}/checkpoints/ to export")
    return export_checkpoint(path, os.path.join(run_dir, "hf"), tokenizer_model)


def export_checkpoint(path: str, out_dir: str, tokenizer_model: str | None = None) -> str:
    """A sharded checkpoint (written at any process count) to out_dir, read one group of
    tensors at a time: this process holds at most the largest layer, never the model."""
    args = ModelArgs(**checkpoint.read_meta(path)["model_args"])
    return export(lambda names: checkpoint.load_tensors(path, names), args, out_dir, tokenizer_model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.splitlines()[0])
    parser.add_argument("--run-name", "--run", dest="run", required=True, help="run name (reads runs/<run>/checkpoints/)")
    parser.add_argument("--runs-dir", default="runs", help="folder holding the run folders (default: runs)")
    parser.add_argument("--data", default="data", help="data root; the tokenizer is <data>/tokenizer/tokenizer.model")
    args = parser.parse_args(argv)
    out = export_run(os.path.join(args.runs_dir, args.run), os.path.join(args.data, "tokenizer", "tokenizer.model"))
    print(f"exported {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
