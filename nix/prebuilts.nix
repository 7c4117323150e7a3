# The `ohos-prebuilts` provider: OpenHarmony's own prebuilt toolchains (clang, gn, ninja,
# node, python) as fixed-output fetches pinned in ohnix.lock, made runnable from the store.
# With nixpkgs, ELF interpreters and RPATHs are patched (autoPatchelfHook); without it the
# binaries run against the host's FHS loader, like the build container.
{ lock, system, pkgs, busybox }:
let
  src = pin:
    if pin.unpack then builtins.fetchTarball { inherit (pin) url; sha256 = pin.hash; name = pin.store_name; }
    else builtins.fetchurl { inherit (pin) url; sha256 = pin.hash; name = pin.store_name; };

  # An archive holding a single file (gn, ninja: the executable at the archive root)
  # unpacks to that file itself, not to a directory: it becomes $out/<name>.
  runnable = name: pin:
    if pkgs == null then derivation {
      name = "${pin.store_name}-runnable";
      inherit system;
      # The static busybox ohnix copied into the store (the sandbox hides /bin). Ends in a
      # builtin: a builder that exec's its last command (ln) is often SIGKILLed by Nix 2.8
      # as it exits (NixOS/nix#2176).
      builder = busybox;
      args = [ "sh" "-c" ''
        set -eu
        "$builder" mkdir -p "$out"
        if [ -d "$src" ]; then "$builder" ln -s "$src"/* "$out"/; else "$builder" ln -s "$src" "$out/$fileName"; fi
        exit 0
      '' ];
      src = src pin;
      fileName = name;
    }
    else pkgs.stdenvNoCC.mkDerivation {
      name = "${pin.store_name}-runnable";
      src = src pin;
      fileName = name;
      dontUnpack = true;
      dontConfigure = true;
      dontBuild = true;
      nativeBuildInputs = [ pkgs.autoPatchelfHook ];
      buildInputs = [ pkgs.stdenv.cc.cc.lib pkgs.zlib pkgs.ncurses ];
      installPhase = ''
        if [ -d "$src" ]; then cp -r "$src" "$out"; else mkdir -p "$out"; cp "$src" "$out/$fileName"; fi
        chmod -R u+w "$out"
      '';
    };

  built = builtins.mapAttrs runnable (lock.prebuilts or { });
in
{
  # t = { var; pin = "prebuilts/NAME"; exe = "bin/clang"; }
  tool = t:
    let drv = built.${builtins.substring 10 (-1) t.pin}; in { inherit drv; exe = "${drv}/${t.exe}"; };
}
