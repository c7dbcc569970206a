@ Cortex-M0/M0+ (Armv6-M) q8 panel sums, called by q8::dot_portable on thumbv6m builds.
@   void __glocal_v6m_q8_dot(int32_t acc[16], const int16_t *act, const int8_t *panel, size_t groups)
@   acc[c] = sum over groups g, i < 4 of act[4g + i] * panel[64g + 4c + i]
@ Armv6-M has eight low registers, a sign-extending byte load only with a register offset and
@ a 32 x 32 MULS that overwrites its operand. So per group the four activations stay in r3-r6,
@ the 16 sums live on the stack (SP-relative LDR/STR need no base register), and each column
@ is one word load whose bytes are sign-extended by SXTB, ASRS #24 and REV16 (which moves
@ bytes 1 and 2 to where SXTB and ASRS #24 take them): 16 instructions per 4 multiply-adds.
@ Alignment: acc and panel 4-byte aligned, act 2-byte aligned. AAPCS: r4-r11 saved.
    .syntax unified
    .thumb
    .section .text.__glocal_v6m_q8_dot,"ax",%progbits
    .global __glocal_v6m_q8_dot
    .hidden __glocal_v6m_q8_dot
    .type __glocal_v6m_q8_dot,%function
    .p2align 2
    .thumb_func
__glocal_v6m_q8_dot:
    push {r4-r7, lr}
    mov r4, r8
    mov r5, r10
    push {r4, r5}
    sub sp, #72                      @ 16 sums, the acc pointer at [sp, #64], padding to 8 bytes
    str r0, [sp, #64]
    mov r8, r1                       @ act
    lsls r3, r3, #6
    adds r3, r2, r3
    mov r10, r3                      @ end of the panel
    movs r0, #0
    movs r3, #0
    mov r1, sp
1:
    str r0, [r1, r3]
    adds r3, #4
    cmp r3, #64
    bne 1b
    cmp r2, r10
    bne 2f
    b 4f                             @ no groups (out of a conditional branch's reach)
2:
    mov r7, r8
    ldrh r3, [r7, #0]
    sxth r3, r3
    ldrh r4, [r7, #2]
    sxth r4, r4
    ldrh r5, [r7, #4]
    sxth r5, r5
    ldrh r6, [r7, #6]
    sxth r6, r6
    adds r7, #8
    mov r8, r7
    ldr r7, [r2, #0]                @ column 0: q0 q1 q2 q3
    ldr r0, [sp, #0]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #0]
    ldr r7, [r2, #4]                @ column 1: q0 q1 q2 q3
    ldr r0, [sp, #4]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #4]
    ldr r7, [r2, #8]                @ column 2: q0 q1 q2 q3
    ldr r0, [sp, #8]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #8]
    ldr r7, [r2, #12]                @ column 3: q0 q1 q2 q3
    ldr r0, [sp, #12]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #12]
    ldr r7, [r2, #16]                @ column 4: q0 q1 q2 q3
    ldr r0, [sp, #16]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #16]
    ldr r7, [r2, #20]                @ column 5: q0 q1 q2 q3
    ldr r0, [sp, #20]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #20]
    ldr r7, [r2, #24]                @ column 6: q0 q1 q2 q3
    ldr r0, [sp, #24]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #24]
    ldr r7, [r2, #28]                @ column 7: q0 q1 q2 q3
    ldr r0, [sp, #28]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #28]
    ldr r7, [r2, #32]                @ column 8: q0 q1 q2 q3
    ldr r0, [sp, #32]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #32]
    ldr r7, [r2, #36]                @ column 9: q0 q1 q2 q3
    ldr r0, [sp, #36]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #36]
    ldr r7, [r2, #40]                @ column 10: q0 q1 q2 q3
    ldr r0, [sp, #40]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #40]
    ldr r7, [r2, #44]                @ column 11: q0 q1 q2 q3
    ldr r0, [sp, #44]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #44]
    ldr r7, [r2, #48]                @ column 12: q0 q1 q2 q3
    ldr r0, [sp, #48]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #48]
    ldr r7, [r2, #52]                @ column 13: q0 q1 q2 q3
    ldr r0, [sp, #52]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #52]
    ldr r7, [r2, #56]                @ column 14: q0 q1 q2 q3
    ldr r0, [sp, #56]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #56]
    ldr r7, [r2, #60]                @ column 15: q0 q1 q2 q3
    ldr r0, [sp, #60]
    sxtb r1, r7
    muls r1, r3, r1
    adds r0, r0, r1
    rev16 r1, r7                     @ q1 q0 q3 q2
    asrs r7, r7, #24
    muls r7, r6, r7
    adds r0, r0, r7
    sxtb r7, r1
    muls r7, r4, r7
    adds r0, r0, r7
    asrs r1, r1, #24
    muls r1, r5, r1
    adds r0, r0, r1
    str r0, [sp, #60]
    adds r2, #64
    cmp r2, r10
    beq 4f
    b 2b
4:
    ldr r0, [sp, #64]
    movs r3, #0
    mov r2, sp
5:
    ldr r1, [r2, r3]
    str r1, [r0, r3]
    adds r3, #4
    cmp r3, #64
    bne 5b
    add sp, #72
    pop {r4, r5}
    mov r8, r4
    mov r10, r5
    pop {r4-r7, pc}
    .size __glocal_v6m_q8_dot, .-__glocal_v6m_q8_dot
