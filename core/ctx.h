/* Machine context switch between stacks (internal to core/).
 *
 * A context is the saved stack pointer of a suspended stack; everything else
 * the ABI asks to preserve across a call (callee-saved registers, the FPU
 * control words) sits on that stack. The switch is a plain function call for
 * the compiler, so caller-saved state needs no saving. */
#ifndef FC_CTX_H
#define FC_CTX_H

#include <stddef.h>

#if defined(FC_CONTEXT_UCONTEXT)
#include <ucontext.h>
typedef struct fc__ctx {
        ucontext_t uc;
} fc__ctx_t;
#else
typedef struct fc__ctx {
        void *sp;
} fc__ctx_t;
#endif

typedef void (*fc__ctx_entry_fn)(void *arg);

/* Prepares ctx so that the first switch to it calls entry(arg) on the stack
 * [stack, stack + size). entry must never return: it ends by switching away
 * for the last time. Can't fail. */
void fc__ctx_make(fc__ctx_t *ctx, void *stack, size_t size, fc__ctx_entry_fn entry, void *arg);

/* Saves the running context into from and resumes to. Returns when something
 * switches back to from. Allocates nothing; never fails. */
void fc__ctx_switch(fc__ctx_t *from, fc__ctx_t *to);

#endif
