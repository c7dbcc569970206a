/* Minimal Cortex-M3/M4F/M7/M55 startup for the glocal C firmware: a vector table at address 0, the
 * FPU (and on the M55 MVE) enabled (CP10/CP11 full access) before any float or vector code (not with
 * -DNO_FPU, for the Cortex-M3), then newlib's _start (rdimon
 * semihosting crt0: zeroes .bss, sets up the heap/stack from SYS_HEAPINFO, calls main and
 * exits with main's return value). Faults print a line and exit 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern void _start(void);
extern void initialise_monitor_handles(void);
extern int main(void);
extern uint32_t __bss_start__[], __bss_end__[];

#ifndef RAM_TOP
#define RAM_TOP 0x20400000u /* mps2-an386/an500: 4 MiB SSRAM at 0x2000_0000; build.sh m55: DTCM top */
#endif

static void fault(void) {
    volatile uint32_t cfsr = *(volatile uint32_t *)0xE000ED28u;
    printf("FAIL (fault) CFSR=0x%08lx\n", (unsigned long)cfsr);
    exit(1);
}

void Reset_Handler(void) {
#ifndef NO_FPU /* -DNO_FPU: a core without an FPU (examples/firmware-c-m3), nothing to enable */
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#ifdef STARTUP_DIRECT
    /* qemu's SYS_HEAPINFO answer on mps3-an547 does not describe this layout, so newlib's
     * crt0 (which moves the stack and bounds the heap by it) is skipped: keep the stack from
     * the vector table, zero .bss, open the semihosting streams, run main. */
    for (uint32_t *p = __bss_start__; p < __bss_end__; p++) *p = 0;
    initialise_monitor_handles();
    exit(main());
#else
    _start();
#endif
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) void (*const vectors[16])(void) = {
    (void (*)(void))RAM_TOP, Reset_Handler, fault, fault, fault, fault, fault, 0, 0, 0, 0, fault, fault, 0,
    fault, fault,
};
