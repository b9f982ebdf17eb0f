/* Building first frames for the assembly switch (ctx_x86_64.S,
 * ctx_aarch64.S). Each frame mirrors exactly what fc__ctx_switch pops. */
#include "ctx.h"

#include <stdint.h>
#include <string.h>

void fc__ctx_trampoline(void);

#if defined(__x86_64__)

void fc__ctx_make(fc__ctx_t *ctx, void *stack, size_t size, fc__ctx_entry_fn entry, void *arg) {
        uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
        uint64_t *sp = (uint64_t *)top;
        uint32_t mxcsr;
        uint16_t fpucw;

        /* Start with the creating thread's floating-point modes, as a new
         * thread would. */
        __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
        __asm__ volatile("fnstcw %0" : "=m"(fpucw));

        *--sp = 0;                               /* padding: trampoline runs with rsp % 16 == 0 */
        *--sp = 0;
        *--sp = (uint64_t)(uintptr_t)fc__ctx_trampoline; /* popped by ret */
        *--sp = 0;                               /* rbp */
        *--sp = 0;                               /* rbx */
        *--sp = (uint64_t)(uintptr_t)entry;      /* r12 */
        *--sp = (uint64_t)(uintptr_t)arg;        /* r13 */
        *--sp = 0;                               /* r14 */
        *--sp = 0;                               /* r15 */
        *--sp = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
        ctx->sp = sp;
}

#elif defined(__aarch64__)

void fc__ctx_make(fc__ctx_t *ctx, void *stack, size_t size, fc__ctx_entry_fn entry, void *arg) {
        uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
        uint64_t *frame = (uint64_t *)(top - 176);
        uint64_t fpcr;

        __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
        memset(frame, 0, 176);
        frame[0] = (uint64_t)(uintptr_t)entry;                 /* x19 */
        frame[1] = (uint64_t)(uintptr_t)arg;                   /* x20 */
        frame[11] = (uint64_t)(uintptr_t)fc__ctx_trampoline;  /* x30: ret goes there */
        frame[20] = fpcr;
        ctx->sp = frame;
}

#else
#error "assembly context switch: unsupported architecture (configure with FLOWCORO_CONTEXT=ucontext)"
#endif
