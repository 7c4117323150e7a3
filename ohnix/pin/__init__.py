"""Pinning: the lock file, resolving ohnix.toml into pins, prefetchers, git trees, host-tool
pins.
"""
