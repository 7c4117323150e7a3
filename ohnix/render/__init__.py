"""Rendering: Lock + Config -> the Nix files and CI workflows (pure), and the writer."""
