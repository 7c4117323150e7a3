# Builds one OHOS target runtime for clang's OHOS driver (LLVM >= 17): a musl sysroot and a
# clang resource directory for one triple and one set of target flags. Run by bash inside
# a Nix build; every input is an environment variable set by runtimes.nix.
#   $out/sysroot   musl 1.2.3 headers and libraries under usr/{include,lib/<triple>[/<multilib>]},
#                  Linux UAPI headers, lib/ld-musl-<arch>.so.1 (a relative link to libc.so)
#   $out/resource  clang's builtin headers, compiler-rt builtins + crtbegin/crtend and libunwind
#                  under lib/<triple>[/<multilib>], where the driver looks for them
set -euo pipefail
T=$triple
S=$out/sysroot
R=$out/resource
B=$TMPDIR/b
mkdir -p "$B" "$out/log"
jobs=${NIX_BUILD_CORES:-1}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
read -r -a TF <<< "$targetFlags"   # validated by ohnix: flags only, no shell syntax

step() {  # step NAME CMD...: run quietly, time it, show the log's tail on failure
  local name=$1 t0=$SECONDS; shift
  if ! "$@" > "$out/log/$name.log" 2>&1; then
    echo "ohnix runtimes ($T): step $name failed; its log ends:" >&2
    tail -n 25 "$out/log/$name.log" >&2
    exit 1
  fi
  echo "$name $((SECONDS - t0))s" | tee -a "$out/log/times.txt"
}

# The multilib directory clang picks for these flags (arm: a7_softfp_neon-vfpv4, ...): the
# last line it prints (the OHOS driver lists the default "." first).
multi=$("$CLANG" --target="$T" "${TF[@]}" -print-multi-directory | tail -n 1)
[ "$multi" = . ] && multi=
RLIB=$R/lib/$T${multi:+/$multi}
LIBDIR=/usr/lib/$T${multi:+/$multi}
mkdir -p "$RLIB" "$S/usr/include"

# -resource-dir replaces clang's own resource directory, builtin headers included.
cp -r "$builtinHeaders" "$R/include"
chmod -R u+w "$R/include"

# The LLVM source subset the runtimes/ build reads (xz decompresses the whole stream anyway).
llvm=$B/llvm
extract_llvm() {
  mkdir -p "$llvm"
  local top=$llvmTop
  tar -xJf "$llvmSrc" -C "$llvm" --strip-components=1 --wildcards \
    "$top/compiler-rt/*" "$top/libunwind/*" "$top/runtimes/*" "$top/cmake/*" "$top/llvm/cmake/*" \
    "$top/llvm/utils/llvm-lit/*" "$top/libcxx/utils/*"
}
step llvm-extract extract_llvm

# 1. musl: configure and headers first (the builtins need libc headers, libc.so the builtins).
musl=$B/musl
mkdir -p "$musl"
tar -xzf "$muslSrc" -C "$musl" --strip-components=1
if [ -n "${muslPatch:-}" ]; then step musl-patch sh "$muslPatch" "$musl"; fi
CC_T="$CLANG --target=$T $targetFlags"
musl_configure() {
  cd "$musl" && ./configure --target="$T" --prefix=/usr --libdir="$LIBDIR" --syslibdir=/lib \
    CC="$CC_T" AR="$LLVM_AR" RANLIB="$LLVM_RANLIB" LIBCC="$RLIB/libclang_rt.builtins.a"
}
step musl-configure musl_configure
step musl-headers make -C "$musl" DESTDIR="$S" install-headers

# Linux UAPI headers (asm/, linux/, ...): the product's kernel headers.
uapi() {
  for d in "$kernelHeaders"/*; do
    case ${d##*/} in asm|asm-generic|drm|linux|misc|mtd|rdma|scsi|sound|video|xen) cp -r "$d" "$S/usr/include/" ;; esac
  done
  test -f "$S/usr/include/asm/unistd.h"
  chmod -R u+w "$S/usr/include"
}
step kernel-headers uapi

# 2. compiler-rt builtins + crt objects and libunwind in one runtimes/ build (a standalone
# compiler-rt build would look for an installed LLVM's cmake files).
rt_configure() {
  cmake -G Ninja -S "$llvm/runtimes" -B "$B/rt" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="$CLANG" -DCMAKE_CXX_COMPILER="$CLANGXX" -DCMAKE_ASM_COMPILER="$CLANG" \
    -DCMAKE_C_COMPILER_TARGET="$T" -DCMAKE_CXX_COMPILER_TARGET="$T" -DCMAKE_ASM_COMPILER_TARGET="$T" \
    "-DCMAKE_C_FLAGS=$targetFlags" "-DCMAKE_CXX_FLAGS=$targetFlags" "-DCMAKE_ASM_FLAGS=$targetFlags" \
    -DCMAKE_AR="$LLVM_AR" -DCMAKE_RANLIB="$LLVM_RANLIB" -DCMAKE_NM="$LLVM_NM" \
    -DCMAKE_SYSROOT="$S" -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY \
    "-DLLVM_ENABLE_RUNTIMES=compiler-rt;libunwind" \
    -DCOMPILER_RT_DEFAULT_TARGET_ONLY=ON -DCOMPILER_RT_BUILD_BUILTINS=ON -DCOMPILER_RT_BUILD_CRT=ON \
    -DCOMPILER_RT_BUILD_SANITIZERS=OFF -DCOMPILER_RT_BUILD_XRAY=OFF -DCOMPILER_RT_BUILD_LIBFUZZER=OFF \
    -DCOMPILER_RT_BUILD_PROFILE=OFF -DCOMPILER_RT_BUILD_MEMPROF=OFF -DCOMPILER_RT_BUILD_ORC=OFF \
    -DCOMPILER_RT_BUILD_GWP_ASAN=OFF -DCOMPILER_RT_BUILD_CTX_PROFILE=OFF -DCOMPILER_RT_INCLUDE_TESTS=OFF \
    -DLLVM_ENABLE_PER_TARGET_RUNTIME_DIR=ON \
    -DLIBUNWIND_USE_COMPILER_RT=ON -DLIBUNWIND_ENABLE_SHARED=OFF -DLIBUNWIND_ENABLE_STATIC=ON \
    -DLIBUNWIND_INCLUDE_TESTS=OFF -DLLVM_INCLUDE_TESTS=OFF -DLLVM_INCLUDE_DOCS=OFF \
    -DCMAKE_INSTALL_PREFIX="$B/rt-install"
}
step rt-configure rt_configure
step rt-build ninja -C "$B/rt" -j "$jobs"
step rt-install ninja -C "$B/rt" install
rt_place() {  # builtins and crt per multilib; libunwind.a per triple (the driver's -L)
  local f p
  for f in libclang_rt.builtins.a clang_rt.crtbegin.o clang_rt.crtend.o; do
    p=$(find "$B/rt-install" -name "$f" | head -n 1); test -n "$p"; cp "$p" "$RLIB/$f"
  done
  p=$(find "$B/rt-install" -name libunwind.a | head -n 1); test -n "$p"; cp "$p" "$R/lib/$T/libunwind.a"
}
step rt-place rt_place

# 3. musl itself, linked against those builtins.
step musl-build make -C "$musl" -j "$jobs"
step musl-install make -C "$musl" DESTDIR="$S" install
# musl installs an absolute loader link, dead under `qemu -L sysroot` and in the store.
ln -sfn "../${LIBDIR#/}/libc.so" "$S/lib/ld-musl-$loaderArch.so.1"
test -e "$S/lib/ld-musl-$loaderArch.so.1"
printf '%s\n' "${multi:-.}" > "$out/multilib"
exit 0
