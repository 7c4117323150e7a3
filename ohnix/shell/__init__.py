"""Shells: what a product's shell contains, entering and running it, the env cache, binary
caches.
"""
