# The `ohos-prebuilts` provider: OpenHarmony's own prebuilt toolchains (clang, gn, ninja,
# node, python) as fixed-output fetches pinned in ohnix.lock, made runnable from the store.
# With nixpkgs, ELF interpreters and RPATHs are patched (autoPatchelfHook); without it the
# binaries run against the host's FHS loader, like the build container.
{ lock, system, pkgs }:
let
  src = pin:
    if pin.unpack then builtins.fetchTarball { inherit (pin) url; sha256 = pin.hash; name = pin.store_name; }
    else builtins.fetchurl { inherit (pin) url; sha256 = pin.hash; name = pin.store_name; };

  runnable = name: pin:
    if pkgs == null then derivation {
      name = "${pin.store_name}-runnable";
      inherit system;
      builder = "/bin/bash";
      args = [ "-c" "/bin/mkdir -p $out && /bin/ln -s $src/* $out/" ];
      src = src pin;
    }
    else pkgs.stdenvNoCC.mkDerivation {
      name = "${pin.store_name}-runnable";
      src = src pin;
      dontConfigure = true;
      dontBuild = true;
      nativeBuildInputs = [ pkgs.autoPatchelfHook ];
      buildInputs = [ pkgs.stdenv.cc.cc.lib pkgs.zlib pkgs.ncurses ];
      installPhase = "cp -r . $out";
    };

  built = builtins.mapAttrs runnable (lock.prebuilts or { });
in
{
  # t = { var; pin = "prebuilts/NAME"; exe = "bin/clang"; }
  tool = t:
    let drv = built.${builtins.substring 10 (-1) t.pin}; in { inherit drv; exe = "${drv}/${t.exe}"; };
}
