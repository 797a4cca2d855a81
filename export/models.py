"""The two tutorial models, written for batches and for export (numpy-friendly int64 ids in,
log-probabilities out).

Every weight is cast to float32 where it is used (a no-op for float32 weights), so a model whose
weights are stored as float16 still computes in float32: the shipped files are half the size.
"""

from __future__ import annotations

from typing import Any

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
            pooled = self._bag_sums(input_ids, offsets).float()
        return F.log_softmax(self.output(self.hidden(pooled)), dim=-1)  # [batch, labels]

    # training's path; the scripted model keeps the padded one (a custom autograd step does not
    # script), and TorchScript reads the unannotated arguments as tensors (it cannot resolve this
    # module's postponed annotations on an unused method)
    @torch.jit.unused
    def _bag_sums(self, input_ids, offsets):
        if input_ids.device.type == "cpu":
            return _SumBag.apply(self.embedding.weight, input_ids, offsets)
        return F.embedding_bag(input_ids, self.embedding.weight, offsets, mode="sum")  # measured on CPU only


class _SumBag(torch.autograd.Function):
    """`F.embedding_bag(mode="sum")` forward; its weight gradient as one scatter-add of each bag's
    gradient onto its ids. The same gradient up to the order of float additions, and on CPU the
    backward 2-3x faster than embedding_bag's own (on the language identifier's batches: 8.7-14.6
    ms -> 4.5-5.2 ms a step, which took 43% of the training step)."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(ids, offsets)
        ctx.rows = weight.shape[0]
        return F.embedding_bag(ids, weight, offsets, mode="sum")

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        ids, offsets = ctx.saved_tensors
        lengths = torch.diff(offsets, append=offsets.new_tensor([len(ids)]))
        bag = torch.repeat_interleave(torch.arange(len(offsets), device=ids.device), lengths)  # each id's bag
        return grad.new_zeros(ctx.rows, grad.shape[1]).index_add_(0, ids, grad.index_select(0, bag)), None, None


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

    def probs(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.logits(input_ids), dim=-1)  # [batch, vocab]

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.output(self.state(input_ids))  # [batch, vocab]

    def state(self, input_ids: torch.Tensor) -> torch.Tensor:
        """What the output layer reads: [batch, dim] (tied) or [batch, hidden]."""
        x = self.dropout(self.embedding(input_ids).float().flatten(1))  # [batch, context * dim]
        h = self.dropout(F.relu(self.hidden(x)))  # [batch, hidden]
        return self.project(h)


class FactoredLM(NgramLM):
    """A tied `NgramLM` whose output is class-factored: p(w | h) = p(c(w) | h) · p(w | c(w), h).

    Class c holds the ids c·size … c·size + size − 1 (the last class: up to the vocabulary's
    end); ids rank words by frequency, so the first classes hold the frequent words. Why: the k
    best words of one context can be found exactly by scoring classes in order of their bound (no
    word is more likely than its class) without scoring the whole vocabulary, and training scores
    only the target's class. Runs of one size make the graph a pad and a reshape, no gather
    (measured: 2.7x faster for one context in onnxruntime).
    """

    def __init__(self, vocab_size: int, context: int, dim: int, hidden: int, dropout: float, size: int):
        super().__init__(vocab_size, context, dim, hidden, dropout, tie=True)
        self.size, self.vocab_size = size, vocab_size
        self.classes = Linear(dim, -(-vocab_size // size))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.logits(input_ids)  # [batch, vocab], already log-probabilities

    def probs(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Probabilities [batch, vocab], without the logs (what `Ensemble` averages)."""
        h = self.state(input_ids)
        p_class = F.softmax(self.classes(h), dim=-1)  # [batch, classes]
        within = F.softmax(self._by_class(self.output(h)), dim=-1) * p_class[:, :, None]  # [batch, classes, size]
        return within.flatten(1)[:, : self.vocab_size]

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [batch, vocab] (normalized: softmax leaves them as they are)."""
        h = self.state(input_ids)
        log_class = F.log_softmax(self.classes(h), dim=-1)  # [batch, classes]
        within = F.log_softmax(self._by_class(self.output(h)), dim=-1) + log_class[:, :, None]
        return within.flatten(1)[:, : self.vocab_size]

    def _by_class(self, scores: torch.Tensor) -> torch.Tensor:
        """Word scores [batch, vocab] as [batch, classes, size], padded with scores of -1e9."""
        n = self.classes.out_features
        return F.pad(scores, (0, n * self.size - self.vocab_size), value=-1e9).view(-1, n, self.size)

    def losses(self, input_ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Each row's negative log-likelihood, scoring only the target's class: [batch]."""
        h = self.state(input_ids)
        log_class = F.log_softmax(self.classes(h), dim=-1)
        n, extra = self.classes.out_features, self.classes.out_features * self.size - self.vocab_size
        cls = torch.div(targets, self.size, rounding_mode="floor")
        # per class, its words' rows side by side; then each target's class (index_select: its
        # gradient adds whole rows, several times faster than indexing word by word)
        table = F.pad(self.output.weight.float(), (0, 0, 0, extra)).view(n, -1)  # [classes, size * dim]
        rows = table.index_select(0, cls).view(len(cls), self.size, -1)  # [batch, size, dim]
        bias = F.pad(self.output.bias.float(), (0, extra), value=-1e9).view(n, self.size).index_select(0, cls)
        scores = torch.bmm(rows, h[:, :, None])[:, :, 0] + bias  # [batch, size]
        within = F.log_softmax(scores, dim=-1).gather(1, (targets - cls * self.size)[:, None])[:, 0]
        return -(log_class.gather(1, cls[:, None])[:, 0] + within)


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
            total = total + member.probs(input_ids)
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
