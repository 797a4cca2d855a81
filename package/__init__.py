"""bowgram: train a small text model in PyTorch, ship it as a self-describing bundle, serve it with
ONNX Runtime. `bowgram.runtime` serves (numpy, onnxruntime, click); `bowgram.export` trains and
exports (torch); `bowgram.artifacts` holds the default bundles.

A regular package, not a namespace: a folder named `bowgram` in the current directory (a clone
of the repository, say) cannot become part of it and shadow the installed code.
"""
