#!/bin/sh
# musl 1.2.3 for x86_64-linux-ohos: clang's OHOS x86_64 target has a 128-bit IEEE quad long double
# (__LDBL_MANT_DIG__ == 113, like Android), upstream musl's x86_64 port assumes the x87 80-bit one.
# 1) float.h: take aarch64's LDBL_* values when the compiler says 113 bits,
# 2) drop the x87 long double asm/C overrides in src/math/x86_64 so the generic ldbl-128 C code is used.
set -e
cd "$1"
f=arch/x86_64/bits/float.h
mv $f $f.x87
cat > $f <<'H'
#if __LDBL_MANT_DIG__ == 113
#ifdef __FLT_EVAL_METHOD__
#define FLT_EVAL_METHOD __FLT_EVAL_METHOD__
#else
#define FLT_EVAL_METHOD 0
#endif
H
sed -n '/LDBL_TRUE_MIN/,$p' arch/aarch64/bits/float.h >> $f
echo '#else' >> $f
cat $f.x87 >> $f
echo '#endif' >> $f
rm $f.x87
cd src/math/x86_64
rm -f __invtrigl.s acosl.s asinl.s atan2l.s atanl.s ceill.s exp2l.s expl.s expm1l.s fabsl.c floorl.s \
      fmodl.c llrintl.c log10l.s log1pl.s log2l.s logl.s lrintl.c remainderl.c remquol.c rintl.c sqrtl.c truncl.s
