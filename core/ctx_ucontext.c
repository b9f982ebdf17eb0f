/* Portable fallback context switch on ucontext, chosen at configure time on
 * architectures without an assembly switch. About 100x slower: swapcontext
 * makes an rt_sigprocmask system call each time. */
#include "ctx.h"

#include <stdint.h>

/* makecontext passes int arguments only, so pointers travel in two halves. */
static void ucontext_entry(unsigned hi_fn, unsigned lo_fn, unsigned hi_arg, unsigned lo_arg) {
        fc__ctx_entry_fn fn = (fc__ctx_entry_fn)(((uintptr_t)hi_fn << 32) | lo_fn);
        void *arg = (void *)(((uintptr_t)hi_arg << 32) | lo_arg);
        fn(arg);
        __builtin_trap(); /* the entry function must never return */
}

void fc__ctx_make(fc__ctx_t *ctx, void *stack, size_t size, fc__ctx_entry_fn entry, void *arg) {
        uintptr_t f = (uintptr_t)entry, a = (uintptr_t)arg;
        getcontext(&ctx->uc);
        ctx->uc.uc_stack.ss_sp = stack;
        ctx->uc.uc_stack.ss_size = size;
        ctx->uc.uc_link = NULL;
        makecontext(&ctx->uc, (void (*)(void))ucontext_entry, 4, (unsigned)(f >> 32), (unsigned)f,
                    (unsigned)(a >> 32), (unsigned)a);
}

void fc__ctx_switch(fc__ctx_t *from, fc__ctx_t *to) {
        swapcontext(&from->uc, &to->uc);
}
