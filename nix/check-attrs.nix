# Used by `ohnix render` (not vendored): which of `attrs` (JSON list of attribute paths)
# the nixpkgs at `src` lacks. Missing attributes and aliases that `throw` both count.
{ src, attrs }:
let
  pkgs = import src { system = builtins.currentSystem; config = { }; overlays = [ ]; };
  has = set: names:
    names == [ ] || (
      let n = builtins.head names; in
      builtins.isAttrs set && set ? ${n} && (
        let v = builtins.tryEval set.${n}; in v.success && has v.value (builtins.tail names)));
  split = a: builtins.filter builtins.isString (builtins.split "\\." a);
in
builtins.filter (a: !(has pkgs (split a))) (builtins.fromJSON attrs)
