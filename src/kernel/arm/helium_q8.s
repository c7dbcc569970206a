@ Cortex-M55/M85 q8 microkernel for glocal (MVE integer): the exact int32 sums of one panel.
@
@   void __glocal_mve_q8_dot(int32_t acc[16], const int16_t *act, const int8_t *panel, size_t groups)
@   acc[c] = sum_{i < 4 * groups} act[i] * panel[(i / 4) * 64 + c * 4 + i % 4]   for c in 0..16
@
@ The panel holds groups of four inputs, each column's four int8 adjacent (docs/FORMAT.md, q8).
@ Four passes of four columns: per group, VLDRH.S32 widens four activations to int32 lanes, one
@ VLDRB.S32 per column widens its four weights, and VMLADAVA.S32 adds the four products to the
@ column's accumulator in a core register (an even one: the instruction encodes only those).
@ Integer arithmetic, so the order of the terms does not matter: the sum is exact (|sum| < 2^31
@ by the q8 bound on d_in). Alignment: acc 4 bytes, act 2 bytes. AAPCS: r4-r10 saved.
    .syntax unified
    .thumb
    .arch armv8.1-m.main
    .arch_extension mve.fp

    .section .text.__glocal_mve_q8_dot,"ax",%progbits
    .global __glocal_mve_q8_dot
    .hidden __glocal_mve_q8_dot
    .type __glocal_mve_q8_dot,%function
    .p2align 2
    .thumb_func
__glocal_mve_q8_dot:
    push {r4-r10, lr}
    movs r9, #4                       @ column quads left
1:
    movs r4, #0
    movs r6, #0
    mov.w r8, #0
    mov.w r10, #0
    mov r5, r2                        @ this quad's first column in group 0
    mov r7, r1                        @ act[0]
    wls lr, r3, 3f
2:                                    @ one group of four inputs
    vldrh.s32 q0, [r7], #8
    vldrb.s32 q1, [r5, #4]
    vldrb.s32 q2, [r5, #8]
    vldrb.s32 q3, [r5, #12]
    vmladava.s32 r6, q1, q0
    vmladava.s32 r8, q2, q0
    vmladava.s32 r10, q3, q0
    vldrb.s32 q1, [r5], #64
    vmladava.s32 r4, q1, q0
    le lr, 2b
3:
    stm r0!, {r4, r6, r8, r10}
    adds r2, #16
    subs r9, #1
    bne 1b
    pop {r4-r10, pc}
    .size __glocal_mve_q8_dot, . - __glocal_mve_q8_dot
