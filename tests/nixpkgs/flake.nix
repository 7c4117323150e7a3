# The stand-in nixpkgs as a flake, the way ohnix uses nixpkgs: legacyPackages.<system>.
{
  description = "A small nixpkgs-shaped package set for ohnix's tests (stand-ins)";

  outputs = { self }: {
    legacyPackages = builtins.listToAttrs (map
      (system: { name = system; value = import ./. { inherit system; }; })
      [ "x86_64-linux" "aarch64-linux" ]);
  };
}
