"""StrideGuard: a self-hosted, injury-aware training log for runners."""

__version__ = "0.1.0"
