# The builder of the stand-in stdenvNoCC.mkDerivation (run by /bin/bash): setup hooks of
# nativeBuildInputs, then the phases the real generic builder runs, in its order, each
# skippable with dont*. PATH=/bin stands in for the coreutils the real stdenv provides.
set -eu
export PATH=/bin
postFixupHooks=()
for dep in ${nativeBuildInputs:-}; do
  if [ -f "$dep/nix-support/setup-hook" ]; then
    source "$dep/nix-support/setup-hook"
  fi
done
if [ -n "${dontUnpack:-}" ]; then
  :
elif [ -n "${unpackPhase:-}" ]; then
  eval "$unpackPhase"
  cd "${sourceRoot:-.}"
elif [ -d "$src" ]; then
  cp -r "$src" source
  chmod -R u+w source
  cd source
else
  echo "stdenvNoCC stand-in: cannot unpack $src (only directories)" >&2
  exit 1
fi
for phase in configurePhase buildPhase installPhase; do
  case "$phase" in
    configurePhase) skip=${dontConfigure:-} ;;
    buildPhase) skip=${dontBuild:-} ;;
    installPhase) skip=${dontInstall:-} ;;
  esac
  if [ -z "$skip" ] && [ -n "${!phase:-}" ]; then
    eval "${!phase}"
  fi
done
for hook in "${postFixupHooks[@]}"; do
  "$hook"
done
