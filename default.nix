# ohnix itself as a Nix package: the flake's packages.default (flake.nix), and without
# flakes `nix-build` here. Its source is only what the wheel is built from, so a
# checkout's .venv/, .ohnix/ and caches never reach the store.
{ pkgs ? import <nixpkgs> { } }:
let
  project = (builtins.fromTOML (builtins.readFile ./pyproject.toml)).project;
  root = toString ./.;
  wheelInputs = [ "pyproject.toml" "README.md" "ohnix" "nix" ];
  inWheel = path: _type:
    let rel = builtins.substring (builtins.stringLength root + 1) (-1) (toString path); in
    builtins.elem (builtins.head (builtins.split "/" rel)) wheelInputs
    && builtins.match "(.*/)?__pycache__(/.*)?" rel == null;
in
pkgs.python3Packages.buildPythonApplication {
  pname = project.name;
  inherit (project) version;
  pyproject = true;
  src = builtins.path { name = "ohnix-source"; path = ./.; filter = inWheel; };
  build-system = [ pkgs.python3Packages.hatchling ];
  # pyproject.toml's dependencies; jsonschema and referencing are cyclonedx-python-lib's
  # [json-validation] extra.
  dependencies = [
    pkgs.python3Packages.typer
    pkgs.python3Packages.jinja2
    pkgs.python3Packages.rich
    pkgs.python3Packages.tomli-w
    pkgs.python3Packages.pyelftools
    pkgs.python3Packages.cyclonedx-python-lib
    pkgs.python3Packages.jsonschema
    pkgs.python3Packages.referencing
  ];
  # nixpkgs' versions of these, not pyproject.toml's narrow ranges (one typer minor, one
  # cyclonedx major): the ranges are what ohnix is tested with from PyPI.
  pythonRelaxDeps = [ "typer" "cyclonedx-python-lib" ];
  pythonImportsCheck = [ "ohnix" ];
  meta = {
    inherit (project) description;
    mainProgram = "ohnix";
  };
}
