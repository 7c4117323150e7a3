# OHOS target runtimes (musl sysroot + clang resource dir) built inside the Nix sandbox with the host's clang-19.
# nix-build runtimes.nix --argstr triple aarch64-linux-ohos --option extra-sandbox-paths '/usr /lib /lib64 /bin'
{ sys ? "x86_64-linux", triple ? "aarch64-linux-ohos" }:
let
  fixed = name: mode: hash: derivation {
    inherit name; system = sys; builder = "/bin/false";
    outputHashMode = mode; outputHashAlgo = "sha256"; outputHash = hash;
  };
  busybox = fixed "busybox-static" "recursive" "0h2cvvd5bkprq91zyak0149xwqr6p5hc0vw1xrshlzfg6z8dlk29";
  # Debian orig tarballs, seeded with: nix-store --add-fixed sha256 <file>
  musl = fixed "musl_1.2.3.orig.tar.gz" "flat" "196lrzw0qy5axiz9p5ay50q2mls8hbfckr4rw0klc7jjc9h0nnvx";
  llvm = fixed "llvm-toolchain-19_19.1.7.orig.tar.xz" "flat" "1klpvhxyj8jwn4w7fnss06zm4094qhsw1w7m9vvdkqlaqlxqyjdf";
in derivation {
  name = "ohos-runtimes-${triple}"; system = sys;
  builder = "${busybox}/bin/busybox";
  args = [ "sh" "-c" "export PATH=/usr/bin:/bin HOME=$TMPDIR; exec /bin/bash $script $triple" ];
  script = ./build-runtimes-nix.sh;
  inherit triple;
  MUSL_TGZ = musl; LLVM_TXZ = llvm;
  MUSL_X86_64_PATCH = ../patches/musl-x86_64-ohos-ldbl128.sh;
}
