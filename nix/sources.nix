# Pinned sources from ohnix.lock, fetched by Nix's own fetchers with the lock's hash, so
# the store path equals the one `ohnix lock` already added: nothing is downloaded twice.
# Fetch flags come from the lock; flags builtins.fetchGit cannot honour (deep clone,
# kept .git, LFS) need the nixpkgs fetchgit, which nixpkgs.nix uses for them.
{ lock }:
let
  fetch = pin:
    if pin.kind == "git" then builtins.fetchGit {
      url = pin.url;
      inherit (pin) rev;
      name = pin.store_name;
      narHash = pin.hash;
      submodules = pin.submodules;
      shallow = !pin.deep_clone;
    }
    else if pin.unpack then builtins.fetchTarball { inherit (pin) url; sha256 = pin.hash; name = pin.store_name; }
    else builtins.fetchurl { inherit (pin) url; sha256 = pin.hash; name = pin.store_name; };
in
builtins.mapAttrs (name: pin: fetch pin) (lock.sources or { })
