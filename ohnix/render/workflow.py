"""`ohnix ci github|gitlab`: a CI workflow that installs Nix, restores the Nix cache by
key, checks render and lock, builds each product and pushes what the cache lacks."""

from __future__ import annotations

import json
from pathlib import Path

from ohnix.atomic import write_text_atomic
from ohnix.config import Config
from ohnix.errors import OhnixError

TARGETS = {"github": ".github/workflows/ohnix.yml", "gitlab": ".gitlab-ci.yml"}
CACHE_DIR = ".nix-cache"
INSTALL = "ohnix"


def render(config: Config, provider: str, products: list[str]) -> tuple[str, str]:
    if provider not in TARGETS:
        raise OhnixError(f"Unknown CI `{provider}`; ohnix writes: {', '.join(TARGETS)}.")
    names = products or [p.name for p in config.products]
    for name in names:
        config.product(name)
    from ohnix.render.nixfiles import template_env

    env = template_env()
    env.filters["yaml_str"] = json.dumps  # a JSON string is a valid YAML scalar
    text = env.get_template(f"{provider}.yml.j2").render(
        products=names, cache_dir=CACHE_DIR, install=INSTALL
    )
    return TARGETS[provider], text


def write(config: Config, provider: str, products: list[str]) -> Path:
    rel, text = render(config, provider, products)
    path = config.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return path
