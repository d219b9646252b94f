"""The model and tokenizer to evaluate: a run's newest checkpoint, or a transformers LLaMA folder.

A `transformers` LLaMA folder (our `runs/<run>/hf/` export, or any LlamaForCausalLM without
grouped-query attention) is read into our `Transformer`: the names mapped back and the query/key
rows of each head permuted back to the reference's interleaved pairs (the inverse of
`training.export.permute_rope`). One model class scores both, with the same packed batches.
"""

from __future__ import annotations

import json
import os

import torch

from training import checkpoint
from training.config import ModelArgs
from training.export import hf_groups
from training.model import Transformer


class Tokenizer:
    """encode (no BOS), decode, bos_id, eos_id over a SentencePiece model or a tokenizer.json."""

    def __init__(self, path: str):
        if path.endswith(".model"):
            import sentencepiece as spm

            self.sp = spm.SentencePieceProcessor(model_file=path)
            self.bos_id, self.eos_id = self.sp.bos_id(), self.sp.eos_id()
            self.encode, self.decode = self.sp.encode, self.sp.decode
            return
        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(os.path.dirname(path))
        self.bos_id, self.eos_id = hf.bos_token_id, hf.eos_token_id
        self.encode = lambda text: hf.encode(text, add_special_tokens=False)
        self.decode = lambda ids: hf.decode(ids, skip_special_tokens=True)


def unpermute_rope(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of wq/wk from halves back to interleaved pairs, per head (inverse of permute_rope)."""
    rows, cols = w.shape
    return w.view(n_heads, 2, rows // n_heads // 2, cols).transpose(1, 2).reshape(rows, cols)


def args_from_hf(config: dict) -> ModelArgs:
    heads = config["num_attention_heads"]
    if config.get("num_key_value_heads", heads) != heads:
        raise ValueError("grouped-query attention (num_key_value_heads != num_attention_heads) is not "
                         "LLaMA-1's architecture; this evaluator reads LLaMA-1-shaped models only")
    dim, hidden = config["hidden_size"], config["intermediate_size"]
    args = ModelArgs(dim=dim, n_layers=config["num_hidden_layers"], n_heads=heads, vocab_size=config["vocab_size"],
                     multiple_of=hidden, norm_eps=config.get("rms_norm_eps", 1e-6),
                     rope_theta=config.get("rope_theta", 10000.0),
                     max_seq_len=config.get("max_position_embeddings", 2048))
    if args.ffn_hidden != hidden:
        raise ValueError(f"intermediate_size {hidden} is below 2/3 * 4 * {dim}: not a LLaMA feed-forward")
    return args


def load_hf(folder: str) -> tuple[Transformer, Tokenizer]:
    """A transformers LLaMA folder (config.json + safetensors) into our Transformer."""
    from safetensors.torch import load_file

    config_path = os.path.join(folder, "config.json")
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"{folder} is not a transformers model folder (no config.json)")
    with open(config_path, encoding="utf-8") as f:
        args = args_from_hf(json.load(f))
    tensors: dict[str, torch.Tensor] = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            tensors |= load_file(os.path.join(folder, name))
    state = {}
    for names in hf_groups(args):
        for ours, theirs in names.items():
            if theirs not in tensors:
                raise ValueError(f"{folder} has no tensor {theirs} (a LlamaForCausalLM in safetensors?)")
            w = tensors[theirs].float()
            if ours.endswith(("attention.wq.weight", "attention.wk.weight")):
                w = unpermute_rope(w, args.n_heads)
            state[ours] = w
    model = Transformer(args)
    model.load_state_dict(state)
    spm_path = os.path.join(folder, "tokenizer.model")
    tok = Tokenizer(spm_path if os.path.exists(spm_path) else os.path.join(folder, "tokenizer.json"))
    return model.eval(), tok


def load_run(run_dir: str, tokenizer_model: str) -> tuple[Transformer, Tokenizer, int]:
    """The run's newest checkpoint (model weights only) and the tokenizer; (model, tok, step).
    A missing checkpoint or tokenizer is a FileNotFoundError saying what to do."""
    path = checkpoint.latest(os.path.join(run_dir, "checkpoints"))
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir}/checkpoints/: train the run first "
                         f"(make train RUN=...), or give a transformers folder with --hf")
    if not os.path.exists(tokenizer_model):
        raise FileNotFoundError(f"no tokenizer at {tokenizer_model}: give --tokenizer, or run `make tokenizer`")
    meta = checkpoint.read_meta(path)
    model = Transformer(ModelArgs(**meta["model_args"]))
    model.load_state_dict(checkpoint.load_tensors(path, checkpoint.model_names(path)))
    return model.eval(), Tokenizer(tokenizer_model), int(meta["step"])
