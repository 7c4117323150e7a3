#!/bin/bash
# Build an OHOS target runtime (musl sysroot S + clang resource dir R) with Debian 12 clang-19.
# usage: build-runtimes.sh <triple>
set -euo pipefail
T=$1
# inside a Nix build: $out, $TMPDIR, $LLVM_TXZ, $MUSL_TGZ come from the derivation
OUT=$out
S=$OUT/sysroot
R=$OUT/resource
B=$TMPDIR/build
LOG=$OUT/log
mkdir -p "$B"
s0=$(date +%s)
LLVM_SRC=$B/llvm
mkdir -p "$LLVM_SRC"
P=llvm-toolchain-19_19.1.7
tar -xJf "$LLVM_TXZ" -C "$LLVM_SRC" --strip-components=1 --wildcards "$P/compiler-rt/*" "$P/libunwind/*" "$P/runtimes/*" "$P/cmake/*" "$P/llvm/cmake/*" "$P/llvm/utils/llvm-lit/*" "$P/libcxx/utils/*"
echo "extract llvm subset: $(( $(date +%s) - s0 ))s"
MULTI=""; CFLAGS_T=""
case $T in
  aarch64-linux-ohos) GNU=aarch64-linux-gnu;    KPKG=linux-libc-dev-arm64-cross;   LDSO=aarch64 ;;
  arm-linux-ohos)     GNU=arm-linux-gnueabihf;  KPKG=linux-libc-dev-armhf-cross;   LDSO=arm
                      MULTI=a7_softfp_neon-vfpv4
                      CFLAGS_T="-mcpu=cortex-a7 -mfloat-abi=softfp -mfpu=neon-vfpv4" ;;
  x86_64-linux-ohos)  GNU=x86_64-linux-gnu;     KPKG=linux-libc-dev-amd64-cross;   LDSO=x86_64 ;;
  riscv64-linux-ohos) GNU=riscv64-linux-gnu;    KPKG=linux-libc-dev-riscv64-cross; LDSO=riscv64 ;;
  *) echo "unknown triple $T"; exit 2 ;;
esac
# where the libs go (R: per-triple dir + multilib suffix; S: /usr/lib/<triple>[/<multilib>])
RLIB=$R/lib/$T${MULTI:+/$MULTI}
LIBDIR=/usr/lib/$T${MULTI:+/$MULTI}
CC="clang-19 --target=$T $CFLAGS_T"
mkdir -p "$S" "$RLIB" "$B" "$LOG"
t() { local name=$1; shift; local s=$(date +%s.%N); "$@" > "$LOG/$name.log" 2>&1 || { echo "FAILED: $name (see $LOG/$name.log)"; tail -5 "$LOG/$name.log" | cut -c1-300; exit 1; }; printf '%-20s %6.1fs\n' "$name" "$(echo "$(date +%s.%N) - $s" | /usr/bin/bc)" | tee -a "$LOG/times.txt"; }

# 0. clang's own builtin headers (stddef.h, arm_neon.h, stdatomic.h...) must be in R/include
#    because -resource-dir=R replaces the compiler's resource dir entirely.
cp -a /usr/lib/llvm-19/lib/clang/19/include "$R/include"

# 1. musl: configure + headers (the builtins need libc headers; musl's libc.so needs the builtins)
tar -xzf "$MUSL_TGZ" -C "$B"
# x86_64-linux-ohos has a 128-bit quad long double: make musl's x86_64 port use the generic ldbl-128 code
if [ $T = x86_64-linux-ohos ]; then sh "${MUSL_X86_64_PATCH:-/work/spike14/patches/musl-x86_64-ohos-ldbl128.sh}" "$B/musl-1.2.3"; fi
musl_configure() {
  cd "$B/musl-1.2.3" && ./configure --target=$T --prefix=/usr --libdir=$LIBDIR --syslibdir=/lib \
    CC="$CC" AR=llvm-ar-19 RANLIB=llvm-ranlib-19 LIBCC="$RLIB/libclang_rt.builtins.a"
}
t musl-configure musl_configure
t musl-headers make -C "$B/musl-1.2.3" DESTDIR="$S" install-headers

# 1b. Linux UAPI headers from Debian's linux-libc-dev-<arch>-cross (only the dirs that package owns)
kheaders() {
  # no dpkg database in the sandbox: the fixed list of dirs linux-libc-dev-*-cross 6.1 owns
  for d in asm asm-generic drm linux misc mtd rdma scsi sound video xen; do
    cp -a /usr/$GNU/include/$d "$S/usr/include/"
  done
}
t kernel-headers kheaders

# 2. compiler-rt builtins + crtbegin/crtend and libunwind, in ONE runtimes/ build.
#    (compiler-rt/ standalone would call load_llvm_config -> find_package(LLVM) and pick up the
#     host's /usr/lib/llvm-19/cmake from llvm-19-dev; through runtimes/ it does not.)
#    libunwind is only compiled here (STATIC_LIBRARY try-compiles), so it needs musl headers, not libc.
CMAKE_COMMON=(-G Ninja -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_ASM_COMPILER=clang-19
  -DCMAKE_C_COMPILER_TARGET=$T -DCMAKE_CXX_COMPILER_TARGET=$T -DCMAKE_ASM_COMPILER_TARGET=$T
  "-DCMAKE_C_FLAGS=$CFLAGS_T" "-DCMAKE_CXX_FLAGS=$CFLAGS_T" "-DCMAKE_ASM_FLAGS=$CFLAGS_T"
  -DCMAKE_AR=/usr/bin/llvm-ar-19 -DCMAKE_RANLIB=/usr/bin/llvm-ranlib-19 -DCMAKE_NM=/usr/bin/llvm-nm-19
  -DCMAKE_SYSROOT=$S -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY)
rt_configure() {
  cmake -S "$LLVM_SRC/runtimes" -B "$B/rt" "${CMAKE_COMMON[@]}" \
    "-DLLVM_ENABLE_RUNTIMES=compiler-rt;libunwind" \
    -DCOMPILER_RT_DEFAULT_TARGET_ONLY=ON \
    -DCOMPILER_RT_BUILD_BUILTINS=ON -DCOMPILER_RT_BUILD_CRT=ON \
    -DCOMPILER_RT_BUILD_SANITIZERS=OFF -DCOMPILER_RT_BUILD_XRAY=OFF -DCOMPILER_RT_BUILD_LIBFUZZER=OFF \
    -DCOMPILER_RT_BUILD_PROFILE=OFF -DCOMPILER_RT_BUILD_MEMPROF=OFF -DCOMPILER_RT_BUILD_ORC=OFF \
    -DCOMPILER_RT_BUILD_GWP_ASAN=OFF -DCOMPILER_RT_BUILD_CTX_PROFILE=OFF \
    -DCOMPILER_RT_INCLUDE_TESTS=OFF -DLLVM_ENABLE_PER_TARGET_RUNTIME_DIR=ON \
    -DLIBUNWIND_USE_COMPILER_RT=ON -DLIBUNWIND_ENABLE_SHARED=OFF -DLIBUNWIND_ENABLE_STATIC=ON \
    -DLIBUNWIND_INCLUDE_TESTS=OFF -DLLVM_INCLUDE_TESTS=OFF -DLLVM_INCLUDE_DOCS=OFF \
    -DCMAKE_INSTALL_PREFIX="$B/rt-install"
}
t rt-configure rt_configure
t rt-build nice -n 19 ninja -C "$B/rt" -j2
t rt-install ninja -C "$B/rt" install
rt_place() {
  # whatever subdir cmake chose, put the files where the OHOS driver looks:
  # builtins/crt in R/lib/<triple>[/<multilib>], libunwind.a in R/lib/<triple> (never the multilib dir)
  for f in libclang_rt.builtins.a clang_rt.crtbegin.o clang_rt.crtend.o; do
    p=$(find "$B/rt-install" -name "$f" | head -1); test -n "$p" || return 1; echo "$p"; cp "$p" "$RLIB/$f"
  done
  p=$(find "$B/rt-install" -name libunwind.a | head -1); test -n "$p" || return 1; echo "$p"; cp "$p" "$R/lib/$T/libunwind.a"
}
t rt-place rt_place

# 3. musl proper (LIBCC = the builtins just built)
t musl-build nice -n 19 make -C "$B/musl-1.2.3" -j2
t musl-install make -C "$B/musl-1.2.3" DESTDIR="$S" install
# musl's installer makes S/lib/ld-musl-$LDSO.so.1 -> $LIBDIR/libc.so (absolute): breaks under qemu -L S
ldso_fix() { ln -sfn "../${LIBDIR#/}/libc.so" "$S/lib/ld-musl-$LDSO.so.1"; ls -l "$S/lib"; }
t ldso-fix ldso_fix

echo "done $T"; cat "$LOG/times.txt"
