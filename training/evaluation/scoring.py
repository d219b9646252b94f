"""Log-likelihoods of continuations, many per forward pass, and greedy answers.

A *group* is one context and the continuations scored after it (a multiple-choice question's
choices). Each group is packed into one row: the context once, then every continuation but
its last token, each continuation at the positions it would have right after the context, and
an attention mask that lets a continuation's tokens see the context and themselves only (a
"tree" mask). The context is computed once for all the choices, and a continuation of one token
(MMLU's letters) costs nothing beyond the context. Rows are batched by a token budget, longest
first; only the positions whose next token is scored go through the output head.

Tokens are those of lm-evaluation-harness's `_encode_pair`: the context's trailing spaces move
to the continuation, the continuation's tokens are those of BOS + encode(context + continuation)
after the BOS + encode(context) prefix; a context too long for the model keeps its end.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass
class Group:
    context: list[int]
    continuations: list[list[int]]
    cut: int = 0  # tokens cut from the context's start to fit the model


def encode_pair(tok, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context tokens with BOS, continuation tokens), split as the harness splits them."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = [tok.bos_id] + tok.encode(context + continuation)
    ctx = [tok.bos_id] + tok.encode(context)
    return ctx, whole[len(ctx):]


def make_group(tok, context: str, continuations: list[str], max_len: int) -> Group:
    """The context once and its continuations; a context too long for the model keeps its end
    (as much of it as the longest continuation leaves room for). A continuation longer than the
    model's context is scored on its first max_len tokens, after the context's last token."""
    pairs = [encode_pair(tok, context, c) for c in continuations]
    conts = [p[1][:max_len] if p[1] else [tok.eos_id] for p in pairs]  # an empty continuation: score EOS
    ctx = pairs[0][0] if pairs else [tok.bos_id] + tok.encode(context)
    room = max(1, max_len + 1 - max((len(c) for c in conts), default=1))
    return Group(ctx[-room:], conts, max(0, len(ctx) - room))


def make_groups(tok, context: str, continuations: list[str], max_len: int) -> list[tuple[Group, list[int]]]:
    """[(group, the continuations' indices)]: one group when the context fits beside every
    continuation; else one group per continuation length, its context cut to fit that length
    (the harness cuts each pair to fit its own continuation)."""
    whole = make_group(tok, context, continuations, max_len)
    if not whole.cut:
        return [(whole, list(range(len(continuations))))]
    by_length: dict[int, list[int]] = {}
    for i, cont in enumerate(whole.continuations):
        by_length.setdefault(len(cont), []).append(i)
    return [(make_group(tok, context, [continuations[i] for i in idx], max_len), idx) for idx in by_length.values()]


def _row(group: Group) -> tuple[list[int], list[int], list[int], list[int], list[int], list[int]]:
    """tokens, positions, segments (0 context, i+1 continuation i), scored positions, targets,
    and which continuation each scored position belongs to."""
    ctx = group.context
    tokens, positions, segments = list(ctx), list(range(len(ctx))), [0] * len(ctx)
    keep, targets, owner = [], [], []
    for i, cont in enumerate(group.continuations):
        start = len(tokens)
        keep += [len(ctx) - 1] + [start + j for j in range(len(cont) - 1)]
        targets += cont
        owner += [i] * len(cont)
        tokens += cont[:-1]
        positions += range(len(ctx), len(ctx) + len(cont) - 1)
        segments += [i + 1] * (len(cont) - 1)
    return tokens, positions, segments, keep, targets, owner


def _mask(segments: torch.Tensor) -> torch.Tensor:
    """(B, T) segment ids (-1 padding) -> (B, 1, T, T): causal, and a continuation sees the
    context and itself only. Every query sees at least itself (no empty rows)."""
    t = segments.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=segments.device).tril()
    q, k = segments[:, :, None], segments[:, None, :]
    return (causal & ((k == 0) | (k == q)))[:, None]


def _autocast(device: torch.device, bf16: bool):
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Indices grouped so that rows x longest row <= budget tokens, longest rows first."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, current = [], []
    for i in order:
        if current and (len(current) + 1) * lengths[current[0]] > budget:
            batches.append(current)
            current = []
        current.append(i)
    return batches + ([current] if current else [])


@torch.no_grad()
def loglikelihoods(model, groups: list[Group], device: torch.device, budget: int = 8192,
                   bf16: bool = True) -> list[list[tuple[float, int]]]:
    """Per group, per continuation: (summed log-likelihood, token count)."""
    rows = [_row(g) for g in groups]
    out: list[list[tuple[float, int]]] = [[(0.0, len(c)) for c in g.continuations] for g in groups]
    for batch in _batches([len(r[0]) for r in rows], budget):
        t = max(len(rows[i][0]) for i in batch)
        n = max(len(rows[i][3]) for i in batch)
        tokens = torch.zeros(len(batch), t, dtype=torch.long)
        positions = torch.zeros(len(batch), t, dtype=torch.long)
        segments = torch.full((len(batch), t), -1, dtype=torch.long)
        keep = torch.zeros(len(batch), n, dtype=torch.long)
        targets = torch.zeros(len(batch), n, dtype=torch.long)
        for b, i in enumerate(batch):
            tok, pos, seg, kp, tg, _ = rows[i]
            tokens[b, :len(tok)], positions[b, :len(pos)], segments[b, :len(seg)] = (torch.tensor(x) for x in (tok, pos, seg))
            keep[b, :len(kp)], targets[b, :len(tg)] = torch.tensor(kp), torch.tensor(tg)
        tokens, positions, segments, keep, targets = (x.to(device) for x in (tokens, positions, segments, keep, targets))
        with _autocast(device, bf16):
            logits = model(tokens, positions=positions, mask=_mask(segments), keep=keep)  # (B, N, V)
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[..., None])[..., 0].cpu()  # (B, N)
        for b, i in enumerate(batch):
            owner = rows[i][5]
            sums = torch.zeros(len(groups[i].continuations), dtype=torch.float64)
            sums.index_add_(0, torch.tensor(owner, dtype=torch.long), logp[b, :len(owner)].double())
            out[i] = [(float(s), len(c)) for s, c in zip(sums, groups[i].continuations)]
    return out


@torch.no_grad()
def greedy(model, tok, prompts: list[str], device: torch.device, stops: tuple[str, ...], max_new: int = 32,
           batch: int = 16, bf16: bool = True) -> list[str]:
    """Greedy continuations of each prompt, cut at the first stop string (or EOS, or max_new
    tokens). Prompts are left-padded in a batch; each row keeps positions from 0."""
    answers = []
    max_len = model.args.max_seq_len
    for start in range(0, len(prompts), batch):
        ids = [([tok.bos_id] + tok.encode(p))[-(max_len - max_new):] for p in prompts[start:start + batch]]
        new: list[list[int]] = [[] for _ in ids]
        done = [False] * len(ids)
        for _ in range(max_new):
            seqs = [a + b for a, b in zip(ids, new)]
            t = max(map(len, seqs))
            tokens = torch.zeros(len(seqs), t, dtype=torch.long)
            positions = torch.zeros(len(seqs), t, dtype=torch.long)
            segments = torch.full((len(seqs), t), -1, dtype=torch.long)
            for b, s in enumerate(seqs):
                tokens[b, t - len(s):] = torch.tensor(s)
                positions[b, t - len(s):] = torch.arange(len(s))
                segments[b, t - len(s):] = 0
            keep = torch.full((len(seqs), 1), t - 1, dtype=torch.long)
            tokens, positions, segments, keep = (x.to(device) for x in (tokens, positions, segments, keep))
            with _autocast(device, bf16):
                logits = model(tokens, positions=positions, mask=_mask(segments), keep=keep)  # (B, 1, V)
            for b, nxt in enumerate(logits[:, 0].float().argmax(-1).tolist()):
                if not done[b]:
                    new[b].append(nxt)
                    done[b] = nxt == tok.eos_id or any(s in tok.decode(new[b]) for s in stops)
            if all(done):
                break
        for b in range(len(ids)):
            text = tok.decode([i for i in new[b] if i != tok.eos_id])
            for s in stops:
                text = text.split(s)[0]
            answers.append(text.strip())
    return answers
