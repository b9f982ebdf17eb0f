/* AArch64 (AAPCS64) context switch.
 *
 * void fc__ctx_switch(fc__ctx_t *from, fc__ctx_t *to)
 *   x0 = from, x1 = to; a context is its saved sp.
 *
 * Frame of 176 bytes saved on the suspended stack: x19-x28, x29 (fp),
 * x30 (lr), d8-d15 and FPCR, the registers AAPCS64 makes callee-saved. */
        .text
        .globl  fc__ctx_switch
        .hidden fc__ctx_switch
        .type   fc__ctx_switch, %function
        .p2align 4
fc__ctx_switch:
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]

        ldr     x9, [x1]
        mov     sp, x9
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .size   fc__ctx_switch, .-fc__ctx_switch

/* First code on a new stack: fc__ctx_make leaves the entry function in x19
 * and its argument in x20; lr (x30) pointed here. */
        .globl  fc__ctx_trampoline
        .hidden fc__ctx_trampoline
        .type   fc__ctx_trampoline, %function
        .p2align 4
fc__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        mov     x29, #0
        mov     x0, x20
        blr     x19
        brk     #0                  /* the entry function must never return */
        .cfi_endproc
        .size   fc__ctx_trampoline, .-fc__ctx_trampoline

        .section .note.GNU-stack,"",%progbits
