/* A stand-in for CMSIS Core's cmsis_compiler.h, which the cmsisdsp PyPI sdist does not ship:
   the compiler attributes and the DSP intrinsics that arm_mat_vec_mult_{f32,f16,q7}.c use,
   mapped to GCC's ACLE (<arm_acle.h>), so the peer runs its SMLAD path on Cortex-M4/M7/M55
   as it would with CMSIS Core (and SSAT alone on a Cortex-M3). Used only by
   benches/arm/mcu/build.rs. */
#ifndef GLOCAL_BENCH_CMSIS_COMPILER_H
#define GLOCAL_BENCH_CMSIS_COMPILER_H
#include <stdint.h>
#include <arm_acle.h>

#define __ASM __asm
#define __INLINE inline
#define __NO_RETURN __attribute__((__noreturn__))
#define __USED __attribute__((used))
#define __ALIGNED(x) __attribute__((aligned(x)))
#define __STATIC_FORCEINLINE static inline __attribute__((always_inline))
#define __STATIC_INLINE static inline
#define __WEAK __attribute__((weak))
#define __PACKED __attribute__((packed))
#define __RESTRICT __restrict

/* Only where the core has them: otherwise CMSIS-DSP's dsp/none.h defines C versions. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define __SXTB16(x) ((int32_t)__sxtb16((x)))
#define __SMLAD(x, y, acc) ((int32_t)__smlad((x), (y), (acc)))
#endif
/* SSAT/USAT are in every Armv7-M core, DSP or not (Cortex-M3 too). The saturation width must
   stay a constant expression: macros, not functions. */
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#define __SSAT(x, n) __ssat((x), (n))
#define __USAT(x, n) __usat((x), (n))
#endif
#define __CLZ(x) __clz((x))

__STATIC_FORCEINLINE uint32_t __ROR(uint32_t x, uint32_t n) {
  n &= 31u;
  return n ? (x >> n) | (x << (32u - n)) : x;
}
#endif
