# OpenHarmony target toolchains for Linux OHOS products: the target runtimes clang's OHOS
# driver needs (a musl sysroot, compiler-rt builtins and crt objects, libunwind), a clang
# wrapper aimed at the product's triple, and the patched Go. The recipes are the same
# whichever provider gives the compiler: `compiler` names the executables and the PATH the
# builds run with (the host's clang-19 by content-hashed pins, or nixpkgs' llvmPackages).
{ system, lock, root, compiler, sources }:
let
  runtimes = lock.runtimes or { };
  need = key: runtimes.${key} or (throw "ohnix: ohnix.lock has no `runtimes/${key}`; run `ohnix lock`");

  # A pinned archive: Nix's own fetcher with the lock's hash. `ohnix lock` (or `--seed`)
  # has already put it at this very path, so nothing is downloaded.
  fetched = key: let pin = need key; in derivation {
    name = pin.store_name;
    system = "builtin";
    builder = "builtin:fetchurl";
    inherit (pin) url;
    urls = [ pin.url ];
    unpack = false;
    executable = false;
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = pin.hash;
  };

  # Files inside the project (patches), by content: flake and non-flake agree.
  projectFile = p: builtins.path { path = root + "/${p.path}"; name = p.store_name; recursive = false; sha256 = p.hash; };

  build = name: script: attrs: derivation ({
    inherit name system;
    builder = compiler.bash;
    args = [ script ];
    PATH = compiler.path;
    inherit (compiler) toolHashes;
  } // attrs);
in
rec {
  # r = { triple; targetFlags; loaderArch; kernelHeaders; muslPatch; }
  runtime = r: build "ohos-runtimes-${r.name}" ./runtimes.sh {
    inherit (r) triple loaderArch;
    targetFlags = builtins.concatStringsSep " " r.targetFlags;
    kernelHeaders = compiler.kernelHeaders r;
    muslSrc = fetched "musl";
    llvmSrc = fetched "llvm";
    inherit (r) llvmTop;
    muslPatch = if r.muslPatch then ./patches/musl-x86_64-ohos-ldbl128.sh else "";
    inherit (compiler) CLANG CLANGXX LLVM_AR LLVM_RANLIB LLVM_NM builtinHeaders;
  };

  # The shell's C toolchain: <triple>-clang, -clang++ and LLVM's binutils under their names.
  wrapper = r: rt: build "ohos-cc-${r.name}" ./wrapper.sh {
    inherit (r) triple;
    targetFlags = builtins.concatStringsSep " " r.targetFlags;
    inherit rt;
    shell = compiler.bash;
    inherit (compiler) CLANG CLANGXX llvmBin lldBin;
  };

  # g = { source = "go"; patches = [ { path; store_name; hash; } ]; }
  go = g: build "ohnix-go-${g.version}" ./go.sh {
    goSrc = fetched g.source;
    # Patch files of the project, then each [sources] patch set's *.patch/*.diff in order.
    patches = map projectFile g.patches ++ builtins.concatMap (name:
      let dir = sources.${name}; in
      map (f: "${dir}/${f}") (builtins.sort builtins.lessThan (builtins.filter
        (f: builtins.match ".*\\.(patch|diff)" f != null) (builtins.attrNames (builtins.readDir dir)))))
      g.patchSets;
    bootstrap = compiler.goBootstrap;
  };
}
