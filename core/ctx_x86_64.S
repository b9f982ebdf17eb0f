/* x86-64 System V context switch.
 *
 * void fc__ctx_switch(fc__ctx_t *from, fc__ctx_t *to)
 *   rdi = from, rsi = to; a context is its saved rsp.
 *
 * Saved on the suspended stack (from the top): return address, rbp, rbx,
 * r12-r15, then 8 bytes holding MXCSR (low 4) and the x87 control word
 * (next 2). Those are exactly what the ABI says a callee must preserve. */
        .text
        .globl  fc__ctx_switch
        .hidden fc__ctx_switch
        .type   fc__ctx_switch, @function
        .p2align 4
fc__ctx_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)

        movq    (%rsi), %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   fc__ctx_switch, .-fc__ctx_switch

/* First code run on a new stack: fc__ctx_make leaves the entry function in
 * r12 and its argument in r13. rsp is 16-byte aligned here, so the call
 * below enters the function with the alignment the ABI promises. */
        .globl  fc__ctx_trampoline
        .hidden fc__ctx_trampoline
        .type   fc__ctx_trampoline, @function
        .p2align 4
fc__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip      /* outermost frame: debuggers stop here */
        movq    %r13, %rdi
        callq   *%r12
        ud2                     /* the entry function must never return */
        .cfi_endproc
        .size   fc__ctx_trampoline, .-fc__ctx_trampoline

        .section .note.GNU-stack,"",%progbits
