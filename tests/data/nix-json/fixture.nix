# The derivations behind the recorded JSON samples in this folder (see README.md).
# No nixpkgs: raw `derivation` with the host's /bin/sh, so it instantiates offline.
let
  system = builtins.currentSystem;
  sh = "/bin/sh";
  plain = derivation {
    name = "ohnix-plain";
    inherit system;
    builder = sh;
    args = [ "-c" "echo hi > $out" ];
    # ATerm escapes: quote, backslash, newline, tab, carriage return.
    weird = "quote\" backslash\\ newline\n tab\t cr\r dollar$ end";
  };
  multi = derivation {
    name = "ohnix-multi";
    inherit system;
    builder = sh;
    outputs = [ "out" "dev" "lib" ];
    args = [ "-c" "echo a > $out; echo b > $dev; echo c > $lib" ];
  };
  src = builtins.toFile "ohnix-src.txt" "hello\n";
  flatFod = derivation {
    name = "ohnix-flat-fod";
    inherit system;
    builder = sh;
    args = [ "-c" "printf 'test\\n' > $out" ];
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = "1lkgqb6fclns49861dwk9rzb6xnfkxbpws74mxnx01z9qyv1pjpj";
    url = "file:///nowhere/ohnix-flat";
  };
  recFod = derivation {
    name = "ohnix-rec-fod";
    inherit system;
    builder = sh;
    args = [ "-c" "/bin/mkdir $out && printf 'test\\n' > $out/f" ];
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = "1ic3qkgjzq998z67d79c002lnng7j90aksjgwf0l9ch1ngbgmwlv";
  };
  top = derivation {
    name = "ohnix-top";
    inherit system src;
    builder = sh;
    args = [ "-c" "echo ${plain} ${multi.dev} ${src} ${flatFod} ${recFod} > $out" ];
    note = "line one\nline \"two\"\\";
  };
in
{ inherit plain multi src flatFod recFod top; }
