# Builds the Go toolchain from a pinned source archive with the pinned patches applied, in
# place ($out is its GOROOT), bootstrapped by another Go. Run by bash inside a Nix build;
# inputs are environment variables set by go.nix.
set -euo pipefail
mkdir -p "$out"
tar -xzf "$goSrc" -C "$out" --strip-components=1
cd "$out"
for p in $patches; do
  echo "applying ${p##*/}"
  patch -p1 --no-backup-if-mismatch < "$p"
done
export HOME=$TMPDIR GOCACHE=$TMPDIR/go-cache GOPATH=$TMPDIR/go-path GOROOT_BOOTSTRAP=$bootstrap
export GOROOT_FINAL=$out CGO_ENABLED=0 GOTOOLCHAIN=local
unset GOROOT GOOS GOARCH GOARM GO_LDSO
cd src
bash ./make.bash
cd "$out"
rm -rf pkg/obj "$TMPDIR/go-cache"
"$out/bin/go" version > "$out/VERSION.ohnix"
exit 0
