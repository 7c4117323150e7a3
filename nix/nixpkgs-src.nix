# nixpkgs for the non-flake entry point (default.nix), fetched from ohnix.lock exactly as
# the flake's `nixpkgs` input is: same narHash, same name "source", so the same store path
# and the same .drv for every shell.
{ lock }:
let
  p = lock.nixpkgs or null;
  gh = builtins.match "github:([^/]+)/([^/]+)" p.url;
in
if p == null then null
else if p.kind == "github" then builtins.fetchTarball {
  url = "https://github.com/${builtins.elemAt gh 0}/${builtins.elemAt gh 1}/archive/${p.rev}.tar.gz";
  sha256 = p.hash;
}
else if p.kind == "git" then builtins.fetchGit {
  inherit (p) url rev;
  narHash = p.hash;
  shallow = true;
}
else builtins.path { path = /. + p.url; name = "source"; sha256 = p.hash; }
