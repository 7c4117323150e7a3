"""The Nix store: NAR and store paths, derivations, typed nix commands and their JSON shapes,
doctor.
"""
