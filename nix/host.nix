# The `host` provider: tools already installed on this machine, wrapped as one derivation
# per shell whose inputs include each tool's path, content hash and version string (from
# ohnix.lock), so the .drv says exactly which executables were used. Non-hermetic by
# design: ohnix checks each tool still has its pinned hash before it builds or enters a
# shell.
#
# Nix's sandbox (its default) shows builders only the store, so these derivations are
# built by two static programs that ohnix copied into the store at pinned paths:
# bash-static (the shells' builder, which `nix develop` runs) and busybox.
{ lock, system, sha256 }:
let
  pins = lock.host or { };
  # `ohnix lock` adds the path, and adds it again before a build if it was collected; the
  # builder below only explains, where it can run at all (with the sandbox off).
  copied = key: let pin = pins.${key}; in derivation {
    name = pin.store_name;
    inherit system;
    builder = "/bin/sh";
    args = [ "-c" "echo 'ohnix: the sandbox builder ${pin.store_name} is not in the Nix store; run ohnix lock' >&2; exit 1" ];
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = pin.nar_hash;
  };
  bash = if pins ? "bash-static" then "${copied "bash-static"}/bin/bash" else null;
  busybox = if pins ? busybox then "${copied "busybox"}/bin/busybox" else null;
  need = what: value: if value != null then value
    else throw "ohnix: ohnix.lock has no sandbox builder for ${what}; run `ohnix lock`";
in
{
  inherit bash busybox need;

  # keys = [ "host/aarch64-linux-gnu-gcc" ... ] -> { drv; exe = name: path; }
  toolset = name: keys:
    let
      tools = map (k: lock.host.${builtins.substring 5 (-1) k}) keys;
      drv = derivation {
        name = "${name}-host-tools";
        inherit system;
        builder = need "host tools" busybox;
        # busybox's own shell; each command names busybox, since PATH is empty here. Ends
        # in a builtin: Nix 2.8 often SIGKILLs a builder that exec's its last command.
        args = [ "sh" "-c" ''
          set -eu
          "$builder" mkdir -p "$out/bin"
          printf '%s\n' "$toolLinks" | while read -r program path; do
            "$builder" ln -s "$path" "$out/bin/$program"
          done
          exit 0
        '' ];
        toolLinks = builtins.concatStringsSep "\n" (map (p: "${p.url} ${p.path}") tools);
        toolHashes = builtins.concatStringsSep " " (map (p: p.hash) tools);
        toolSha256s = builtins.concatStringsSep " " (map (k: sha256.${k}) keys);
        toolVersions = builtins.concatStringsSep "\n" (map (p: "${p.url}: ${p.version}") tools);
      };
    in { inherit drv; exe = program: "${drv}/bin/${program}"; };
}
