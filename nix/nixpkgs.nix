# The `nixpkgs` provider: attribute paths of the pinned nixpkgs (cross GCC from pkgsCross,
# LLVM/clang from llvmPackages_N, Go from go_1_N with the pinned patch set or fork source).
# Every attribute path comes from ohnix's data file and was checked at render time.
{ pkgs, attrPath, sources }:
let
  get = path:
    let v = attrPath path pkgs; in
    if v == null then throw "ohnix: nixpkgs has no attribute `${path}` (run `ohnix render` to check the pin)" else v;

  patched = t: base:
    if t.fork != null then base.overrideAttrs (old: { src = sources.${t.fork}; })
    else if t.patches == [ ] then base
    else base.overrideAttrs (old: {
      patches = (old.patches or [ ]) ++ builtins.concatMap
        (name:
          let dir = sources.${name}; in
          map (f: "${dir}/${f}") (builtins.sort builtins.lessThan
            (builtins.filter (f: builtins.match ".*\\.(patch|diff)" f != null)
              (builtins.attrNames (builtins.readDir dir)))))
        t.patches;
    });
in
{
  # t = { var; attr = "pkgsCross.x.stdenv.cc"; exe = "bin/aarch64-unknown-linux-musl-gcc"; patches; fork; }
  tool = t:
    let drv = patched t (get t.attr); in { inherit drv; exe = "${drv}/${t.exe}"; };

  # The OHOS runtimes' compiler and build tools from nixpkgs (c = shells.json
  # `compilers.nixpkgs`: attribute paths only, from ohnix's data file).
  compiler = c:
    let
      clang = get c.clang;
      lld = get c.lld;
      llvm = get c.llvm;
    in {
      bash = "${get c.bash}/bin/bash";
      path = builtins.concatStringsSep ":" (map (a: "${get a}/bin") c.build);
      toolHashes = "";
      CLANG = "${clang}/bin/clang";
      CLANGXX = "${clang}/bin/clang++";
      LLVM_AR = "${llvm}/bin/llvm-ar";
      LLVM_RANLIB = "${llvm}/bin/llvm-ranlib";
      LLVM_NM = "${llvm}/bin/llvm-nm";
      llvmBin = "${llvm}/bin";
      lldBin = "${lld}/bin";
      builtinHeaders = "${clang.lib}/lib/clang/${c.clangMajor}/include";
      kernelHeaders = r: "${get r.kernelHeaders.nixpkgs}/include";
      goBootstrap = null;
    };
}
