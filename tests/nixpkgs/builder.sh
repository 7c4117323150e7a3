# Builds one stand-in package (run by /bin/bash with an empty PATH: absolute paths only).
# Environment: attr, version, exes, links ("name=/target" ...), libs, dirs
# ("output=dir" ...: an empty directory under that output, e.g. out=include), and for an
# overridable package (go) src and patches, the way nixpkgs' go derivation takes them.
set -eu
/bin/mkdir -p "$out/bin"
line="$version"
if [ -n "${src:-}" ] && [ -f "$src/VERSION" ]; then
  read -r line < "$src/VERSION"
fi
if [ -n "${patches:-}" ]; then
  /bin/mkdir -p "$out/share/ohnix-patches"
  names=""
  for p in $patches; do
    /bin/cp "$p" "$out/share/ohnix-patches/"
    names="$names ${p##*/}"
  done
  line="$line, patched:$names"
fi
for exe in $exes; do
  printf '#!/bin/sh\necho "%s %s (ohnix test stand-in for nixpkgs attribute %s)"\n' \
    "$exe" "$line" "$attr" > "$out/bin/$exe"
  /bin/chmod 0555 "$out/bin/$exe"
done
for link in $links; do
  /bin/ln -s "${link#*=}" "$out/bin/${link%%=*}"
done
libdir="${lib:-$out}/lib"
/bin/mkdir -p "$libdir"
for l in $libs; do
  echo "$l: ohnix test stand-in for nixpkgs attribute $attr" > "$libdir/$l"
done
for d in ${dirs:-}; do
  o="${d%%=*}"
  /bin/mkdir -p "${!o}/${d#*=}"
done
