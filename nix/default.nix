# ohnix's Nix library, vendored into a project by `ohnix render` (as nix/ohnix/).
# Data arrives as data: the lock (ohnix.lock, TOML) and the shell descriptions
# (shells.json, written by ohnix) are parsed here; nothing user-supplied is pasted into
# Nix code. Returns { <system> = { <product> = <dev shell derivation>; }; }.
{ lock, shells, nixpkgs ? null, root ? null }:
let
  attrPath = path: set:
    builtins.foldl' (s: name: if s != null && builtins.isAttrs s && s ? ${name} then s.${name} else null)
      set (builtins.filter builtins.isString (builtins.split "\\." path));

  forSystem = system:
    let
      pkgs = if nixpkgs == null then null
        else import nixpkgs { inherit system; config = { }; overlays = [ ]; };
      host = import ./host.nix { inherit lock system; sha256 = shells.hostSha256; };
      prebuilts = import ./prebuilts.nix {
        inherit lock system pkgs;
        busybox = host.need "the OpenHarmony prebuilts (busybox)" host.busybox;
      };
      sources = import ./sources.nix { inherit lock; };
      fromNixpkgs = import ./nixpkgs.nix { inherit pkgs attrPath sources; };

      # Where the OHOS target toolchain's compiler comes from (shells.json `compilers`):
      # the host's clang-19 (paths and pins ohnix took from the lock) or nixpkgs' LLVM.
      compilers = builtins.mapAttrs (provider: c:
        if provider == "host" then c // {
          bash = host.need "the OHOS runtimes (bash-static)" host.bash;
          toolHashes = builtins.concatStringsSep " " (map (k: lock.host.${builtins.substring 5 (-1) k}.hash) c.pins);
          kernelHeaders = r: r.kernelHeaders.host;
        } else fromNixpkgs.compiler c) (shells.compilers or { });
      ohos = builtins.mapAttrs (provider: compiler:
        import ./ohos.nix { inherit system lock root compiler sources; }) compilers;

      # shells.json names the systems a shell cannot be built for, with ohnix's reason
      # (ohos-prebuilts on aarch64-linux: OpenHarmony 4.1 has no such host prebuilts).
      mkShell = name: s:
        if s ? refuse && s.refuse ? ${system} then throw "ohnix: ${s.refuse.${system}}" else
        let
          hostTools = host.toolset s.name (map (t: t.pin) (builtins.filter (t: t.provider == "host") s.tools));
          # The product's OHOS target toolchain, built by ohos.nix from pinned sources.
          target = if s ? ohos then
            let
              o = ohos.${s.ohos.compiler};
              rt = o.runtime s.ohos.runtime;
            in { inherit rt; cc = o.wrapper s.ohos.runtime rt; go = if s.ohos ? go then o.go s.ohos.go else null; }
            else null;
          fromTarget = t:
            let drv = if t.exe == "bin/go" then target.go else target.cc; in { inherit drv; exe = "${drv}/${t.exe}"; };
          # One tool of a shell: { drv; exe; } from whichever provider the data names.
          resolve = t:
            if t.provider == "ohnix" then fromTarget t
            else if t.provider == "host" then { inherit (hostTools) drv; exe = hostTools.exe t.exe; }
            else if t.provider == "ohos-prebuilts" then prebuilts.tool t
            else fromNixpkgs.tool t;
          tools = map (t: t // resolve t) s.tools;
          toolEnv = builtins.listToAttrs (map (t: { name = t.var; value = t.exe; })
            (builtins.filter (t: t.var != null) tools));
          dirs = map (t: if t.bindir == "" then "${t.drv}" else "${t.drv}/${t.bindir}") tools;
          bins = builtins.foldl' (acc: d: if builtins.elem d acc then acc else acc ++ [ d ]) [ ] dirs;
          builder = if pkgs == null then host.need "the shells (bash-static)" host.bash
            else "${pkgs.bashInteractive}/bin/bash";
          targetEnv = if target == null then { } else {
            OHOS_SYSROOT = "${target.rt}/sysroot";
            OHOS_RESOURCE_DIR = "${target.rt}/resource";
          };
        in derivation (s.env // toolEnv // targetEnv // {
          name = s.name;
          inherit system builder;
          # A dev shell is an environment, not a build: `nix develop` reads this env.
          args = [ "-c" "echo \"$name\" > $out" ];
          outputs = [ "out" ];
          PATH = builtins.concatStringsSep ":" bins;
        });
    in builtins.mapAttrs mkShell shells.shells;
in
builtins.listToAttrs (map (system: { name = system; value = forSystem system; }) shells.systems)
