# Used by `ohnix parity` (not vendored): the version (or name) of each attribute path in
# `attrs` (JSON list) of the nixpkgs at `src`; null where it does not evaluate.
{ src, attrs }:
let
  pkgs = import src { system = builtins.currentSystem; config = { }; overlays = [ ]; };
  get = set: names:
    if names == [ ] then set
    else let n = builtins.head names; in
      if builtins.isAttrs set && set ? ${n}
      then (let v = builtins.tryEval set.${n}; in if v.success then get v.value (builtins.tail names) else null)
      else null;
  split = a: builtins.filter builtins.isString (builtins.split "\\." a);
  describe = v: if v == null then null else v.version or v.name or "present";
in
builtins.listToAttrs (map (a: { name = a; value = describe (get pkgs (split a)); })
  (builtins.fromJSON attrs))
