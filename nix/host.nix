# The `host` provider: tools already installed on this machine, wrapped as one derivation
# per shell whose inputs include each tool's path, content hash and version string (from
# ohnix.lock), so the .drv says exactly which executables were used. Non-hermetic by
# design; the build checks each file still has its pinned hash and fails loudly if not.
{ lock, system, sha256 }:
{
  # keys = [ "host/aarch64-linux-gnu-gcc" ... ] -> { drv; exe = name: path; }
  toolset = name: keys:
    let
      pins = map (k: lock.host.${builtins.substring 5 (-1) k}) keys;
      drv = derivation {
        name = "${name}-host-tools";
        inherit system;
        builder = "/bin/bash";
        args = [ "-c" ''
          set -eu
          /bin/mkdir -p "$out/bin"
          read -ra names <<< "$toolNames"
          read -ra paths <<< "$toolPaths"
          read -ra sums <<< "$toolSha256s"
          for i in "''${!names[@]}"; do
            got=$(/usr/bin/sha256sum "''${paths[$i]}")
            if [ "''${got%% *}" != "''${sums[$i]}" ]; then
              echo "ohnix: host tool ''${paths[$i]} changed since ohnix.lock pinned it; run ohnix lock" >&2
              exit 1
            fi
            /bin/ln -s "''${paths[$i]}" "$out/bin/''${names[$i]}"
          done
        '' ];
        toolNames = builtins.concatStringsSep " " (map (p: p.url) pins);
        toolPaths = builtins.concatStringsSep " " (map (p: p.path) pins);
        toolHashes = builtins.concatStringsSep " " (map (p: p.hash) pins);
        toolSha256s = builtins.concatStringsSep " " (map (k: sha256.${k}) keys);
        toolVersions = builtins.concatStringsSep "\n" (map (p: "${p.url}: ${p.version}") pins);
      };
    in { inherit drv; exe = program: "${drv}/bin/${program}"; };
}
