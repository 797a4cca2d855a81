"""The exceptions a user can cause, each carrying the CLI exit code that reports it.

    BowgramError (1, unexpected)
    ├── InputError (2)           bad text, bad option values, bad training data
    ├── BundleError (3)          missing, unreadable, wrong task, newer format, checksum mismatch
    ├── BackendUnavailable (4)   unknown backend, or its library (torch, onnxruntime) is missing
    └── VerificationError (5)    files intact, but the test vectors do not reproduce

API callers get these exceptions; the CLI maps them to a message and exit code in one place.
"""


class BowgramError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code = 1


class InputError(BowgramError, ValueError):
    exit_code = 2


class BundleError(BowgramError):
    exit_code = 3


class BackendUnavailable(BowgramError):
    exit_code = 4


class VerificationError(BowgramError):
    exit_code = 5


def missing_torch(what: str) -> BackendUnavailable:
    """The one message for 'this needs torch', naming the extra that brings it."""
    return BackendUnavailable(
        f"PyTorch is needed for {what} and is not installed. Install it with: pip install torch==2.13.0 "
        "'bowgram[export]' (from a clone of bowgram: pip install torch==2.13.0 -e '.[export]'; "
        "'bowgram[torch]' for the TorchScript backend only)"
    )
