"""bowgram's runtime: load a bundle, identify languages, predict next words. numpy + onnxruntime;
torch only if you choose the TorchScript or pt2 backend."""

__version__ = "0.1.0"

from .errors import BackendUnavailable, BowgramError, BundleError, InputError, VerificationError  # noqa: E402
from .loader import load  # noqa: E402
from .tasks.langid import LanguageIdentifier  # noqa: E402
from .tasks.nextword import NextWordPredictor  # noqa: E402

__all__ = [
    "load",
    "LanguageIdentifier",
    "NextWordPredictor",
    "BowgramError",
    "InputError",
    "BundleError",
    "BackendUnavailable",
    "VerificationError",
    "__version__",
]
