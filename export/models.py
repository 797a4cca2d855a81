"""The two tutorial models, written for batches and for export (numpy-friendly int64 ids in,
log-probabilities out).

Every weight is cast to float32 where it is used (a no-op for float32 weights), so a model whose
weights are stored as float16 still computes in float32: the shipped files are half the size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BowClassifier(nn.Module):
    """Bag of features → label log-probs: sum of embeddings, optional hidden layer, linear.

    The exported graph takes padded ids (Embedding with padding_idx=0 plus a sum exports
    cleanly to ONNX); training passes flat ids with `offsets` instead (EmbeddingBag style: the
    same sums without computing padding, about 4x faster).
    """

    def __init__(self, num_ids: int, num_labels: int, dim: int, hidden: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(num_ids, dim, padding_idx=0)
        self.hidden = nn.Sequential(Linear(dim, hidden), nn.ReLU()) if hidden else nn.Identity()
        self.output = Linear(hidden or dim, num_labels)

    def forward(self, input_ids: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        if offsets is None:  # [batch, tokens] -> [batch, tokens, dim] -> [batch, dim]
            pooled = self.embedding(input_ids).float().sum(dim=1)
        else:  # flat ids [total], text i starting at offsets[i]
            pooled = F.embedding_bag(input_ids, self.embedding.weight, offsets, mode="sum").float()
        return F.log_softmax(self.output(self.hidden(pooled)), dim=-1)  # [batch, labels]


class Linear(nn.Linear):
    """nn.Linear that computes in float32 whatever its weights are stored in."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.float(), self.bias.float())


class NgramLM(nn.Module):
    """Bengio-style n-gram LM: context embeddings concatenated → hidden ReLU → vocab log-softmax.

    With `tie`, the hidden state is projected to the embedding size and the output layer reuses
    the input embeddings (fewer parameters, usually better perplexity on small corpora).
    """

    def __init__(self, vocab_size: int, context: int, dim: int, hidden: int, dropout: float = 0.0, tie: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.hidden = Linear(context * dim, hidden)
        self.dropout = nn.Dropout(dropout)
        self.project = Linear(hidden, dim) if tie else nn.Identity()
        self.output = Linear(dim if tie else hidden, vocab_size)
        if tie:
            self.output.weight = self.embedding.weight

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.logits(input_ids), dim=-1)  # [batch, vocab]

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(input_ids).float().flatten(1))  # [batch, context * dim]
        h = self.dropout(F.relu(self.hidden(x)))  # [batch, hidden]
        return self.output(self.project(h))  # [batch, vocab]


class Ensemble(nn.Module):
    """Independently trained models whose probabilities are averaged: log(mean_k p_k).

    Averaging a few language models trained from different seeds is the classic, reliable way
    to lower perplexity (their errors are partly independent); the graph stays one file.
    """

    def __init__(self, members: list[NgramLM]):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.floor = 1e-30  # probabilities are floored here before the log (float32 underflow guard)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # softmax per model, one sum and one log: half the elementwise work of a logsumexp over
        # log-softmaxes, which dominated onnxruntime's time for a batch
        total = torch.zeros(1)
        for member in self.members:
            total = total + F.softmax(member.logits(input_ids), dim=-1)
        return torch.log(torch.clamp(total / len(self.members), min=self.floor))


class WithTopK(nn.Module):
    """Export wrapper: the model's log-probs plus its k best (ONNX TopK), so a runtime can
    answer top-k queries without sorting the whole vocabulary."""

    def __init__(self, model: nn.Module, k: int):
        super().__init__()
        self.model, self.k = model, k

    def forward(self, input_ids: torch.Tensor):
        logp = self.model(input_ids)
        values, indices = torch.topk(logp, self.k, dim=-1)  # [batch, k] each, best first
        return logp, values, indices
