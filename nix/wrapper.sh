# Writes the shell's target compiler: $out/bin/<triple>-clang and -clang++ run clang with
# the product's --target, the runtime's --sysroot and -resource-dir, and its target flags;
# LLVM's binutils are linked under <triple>-NAME. Run by bash inside a Nix build.
set -euo pipefail
mkdir -p "$out/bin"
read -r -a TF <<< "$targetFlags"   # validated by ohnix: flags only, no shell syntax
common="--target=$triple --sysroot=$rt/sysroot -resource-dir=$rt/resource ${TF[*]}"
for pair in "clang:$CLANG" "clang++:$CLANGXX"; do
  name=${pair%%:*} exe=${pair#*:}
  printf '#!%s\nexec %s %s "$@"\n' "$shell" "$exe" "$common" > "$out/bin/$triple-$name"
  chmod 0555 "$out/bin/$triple-$name"
done
for pair in ar:llvm-ar ranlib:llvm-ranlib nm:llvm-nm objcopy:llvm-objcopy strip:llvm-strip ld.lld:ld.lld; do
  bin=$llvmBin; [ "${pair#*:}" = ld.lld ] && bin=$lldBin
  ln -s "$bin/${pair#*:}" "$out/bin/$triple-${pair%%:*}"
done
exit 0
