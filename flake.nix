# ohnix's own flake: ohnix as a package (`nix run`, `nix profile install`) and a shell to
# work on it (`nix develop`); not the flake `ohnix render` writes into a project.
# No flake.lock is committed: the first use locks nixos-unstable, whose Python packages
# are the nearest to pyproject.toml's (tests/test_own_flake.py evaluates this flake
# against the nixpkgs stand-in in tests/nixpkgs, never against a real nixpkgs).
{
  description = "ohnix: reproducible, Nix-based build environments for OpenHarmony";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      each = f: builtins.listToAttrs (map (system: {
        name = system;
        value = f system nixpkgs.legacyPackages.${system};
      }) systems);
    in
    {
      packages = each (_: pkgs: { default = import ./default.nix { inherit pkgs; }; });

      apps = each (system: _: {
        default = {
          type = "app";
          program = "${self.packages.${system}.default}/bin/ohnix";
          meta.description = "the ohnix command";
        };
      });

      devShells = each (system: pkgs: {
        default = pkgs.mkShell {
          # Python with ohnix's dependencies (from the package), pyproject.toml's [dev]
          # tools, and the commands ohnix runs: nix and git.
          inputsFrom = [ self.packages.${system}.default ];
          packages = [
            pkgs.python3
            pkgs.python3Packages.pytest
            pkgs.python3Packages.hypothesis
            pkgs.python3Packages.mypy
            pkgs.python3Packages.ruff
            pkgs.nix
            pkgs.git
          ];
          # `python -m ohnix` from the checkout (run `nix develop` at its top).
          shellHook = ''export PYTHONPATH="$PWD''${PYTHONPATH:+:$PYTHONPATH}"'';
        };
      });
    };
}
