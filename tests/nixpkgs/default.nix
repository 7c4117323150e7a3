# A small nixpkgs-shaped package set for ohnix's tests: the attribute paths are real
# nixpkgs ones (listed once, in packages.toml), the packages are stand-ins built from
# plain `derivation`s with the host's /bin/bash. Called like nixpkgs.
{ system ? builtins.currentSystem, config ? { }, overlays ? [ ] }:
assert overlays == [ ];
let
  spec = (builtins.fromTOML (builtins.readFile ./packages.toml)).packages;

  split = attr: builtins.filter builtins.isString (builtins.split "\\." attr);
  last = attr: let p = split attr; in builtins.elemAt p (builtins.length p - 1);

  # A package: stand-in executables in bin/, files in lib/, empty directories (builder.sh).
  standIn = attr: p: extra: derivation ({
    name = "${p.pname or (last attr)}-${p.version}";
    inherit system attr;
    inherit (p) version;
    builder = "/bin/bash";
    args = [ ./builder.sh ];
    outputs = p.outputs or [ "out" ];
    exes = map (e: (p.prefix or "") + e) (p.bin or [ ]);
    links = builtins.attrValues (builtins.mapAttrs (n: t: "${n}=${t}") (p.link or { }));
    libs = p.lib or [ ];
    # "output=dir": packages.toml's `dirs`, a table of output name -> directories in it.
    dirs = builtins.concatLists (builtins.attrValues
      (builtins.mapAttrs (o: ds: map (d: "${o}=${d}") ds) (p.dirs or { })));
  } // extra);

  # go_1_N: overrideAttrs (old: { patches = ...; }) or (old: { src = ...; }), as
  # ohnix's nix/nixpkgs.nix calls it on the real one.
  overridable = attr: p: attrs:
    standIn attr p attrs // { overrideAttrs = f: overridable attr p (attrs // f attrs); };

  # A minimal stdenvNoCC.mkDerivation (stdenv.sh): setup hooks of nativeBuildInputs,
  # unpack (a directory; or dontUnpack / an unpackPhase), configure/build/install phases
  # with their dont* switches, fixup hooks.
  mkDerivation = args: derivation (removeAttrs args [ "passthru" "meta" ] // {
    inherit system;
    builder = "/bin/bash";
    args = [ ./stdenv.sh ];
  });

  # python3Packages.buildPythonApplication, for ohnix's own default.nix: mkDerivation
  # named pname-version (the real one builds and installs a wheel).
  buildPythonApplication = args:
    mkDerivation (args // { name = "${args.pname}-${args.version}"; });

  # mkShell, for ohnix's own flake.nix: its packages and what inputsFrom's derivations
  # take as inputs become the shell's nativeBuildInputs.
  mkShell = args: mkDerivation (removeAttrs args [ "packages" "inputsFrom" ] // {
    name = args.name or "nix-shell";
    nativeBuildInputs = (args.packages or [ ]) ++ builtins.concatMap
      (d: (d.build-system or [ ]) ++ (d.dependencies or [ ])) (args.inputsFrom or [ ]);
  });

  autoPatchelfHook = derivation {
    name = "auto-patchelf-hook";
    inherit system;
    builder = "/bin/bash";
    args = [ "-c" ''
      /bin/mkdir -p $out/nix-support
      echo 'postFixupHooks+=(ohnixAutoPatchelfStandIn)
      ohnixAutoPatchelfStandIn() { echo "autoPatchelfHook (ohnix test stand-in): nothing patched in $out"; }' \
        > $out/nix-support/setup-hook
    '' ];
  };

  build = attr: p:
    let kind = p.kind or "stand-in"; in
    if kind == "function" then mkDerivation
    else if kind == "python-application" then buildPythonApplication
    else if kind == "mk-shell" then mkShell
    else if kind == "setup-hook" then autoPatchelfHook
    # go-src/VERSION stands in for Go's source tarball: `go version` prints it, so a
    # fork's src (overrideAttrs) shows.
    else if kind == "overridable" then overridable attr p { src = ./go-src; patches = [ ]; }
    else standIn attr p { };

  # Put `value` at attribute path `names`; a derivation keeps sub-attributes inserted
  # before or after it (stdenv.cc.bintools, stdenv.cc.cc).
  insert = set: names: value:
    if names == [ ] then (if set == { } then value else value // set)
    else
      let n = builtins.head names; in
      set // { ${n} = insert (set.${n} or { }) (builtins.tail names) value; };
in
builtins.foldl' (set: attr: insert set (split attr) (build attr spec.${attr}))
  { } (builtins.attrNames spec)
