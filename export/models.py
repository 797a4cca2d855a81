"""The two tutorial models, written for batches and for export (numpy-friendly int64 ids in,
log-probabilities out)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BowClassifier(nn.Module):
    """Bag of features → label log-probs: sum of embeddings, optional hidden layer, linear.

    Embedding with padding_idx=0 plus a sum, not EmbeddingBag: it exports cleanly to ONNX.
    """

    def __init__(self, num_ids: int, num_labels: int, dim: int, hidden: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(num_ids, dim, padding_idx=0)
        self.hidden = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU()) if hidden else nn.Identity()
        self.output = nn.Linear(hidden or dim, num_labels)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # [batch, tokens, dim] -> [batch, dim]; float() so a float16-stored table sums in float32
        pooled = self.embedding(input_ids).float().sum(dim=1)
        return F.log_softmax(self.output(self.hidden(pooled)), dim=-1)  # [batch, labels]


class NgramLM(nn.Module):
    """Bengio-style n-gram LM: context embeddings concatenated → hidden ReLU → vocab log-softmax.

    With `tie`, the hidden state is projected to the embedding size and the output layer reuses
    the input embeddings (fewer parameters, usually better perplexity on small corpora).
    """

    def __init__(self, vocab_size: int, context: int, dim: int, hidden: int, dropout: float = 0.0, tie: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.hidden = nn.Linear(context * dim, hidden)
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(hidden, dim) if tie else nn.Identity()
        self.output = nn.Linear(dim if tie else hidden, vocab_size)
        if tie:
            self.output.weight = self.embedding.weight

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(input_ids).flatten(1))  # [batch, context, dim] -> [batch, context*dim]
        h = self.dropout(F.relu(self.hidden(x)))  # [batch, hidden]
        return F.log_softmax(self.output(self.project(h)), dim=-1)  # [batch, vocab]


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
