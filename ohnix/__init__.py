"""ohnix: reproducible, Nix-based build environments for OpenHarmony."""

__version__ = "0.1.0"
