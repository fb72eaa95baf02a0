/* stack.c: call stacks for debug mode, captured without allocating.
 *
 * glibc's backtrace() loads libgcc_s with dlopen on its first call, which
 * allocates (and, under gmalloc, would re-enter this allocator). We call the
 * unwinder directly instead: _Unwind_Backtrace from libgcc (linked when the
 * program is, no dlopen), which walks the unwind tables (.eh_frame, or
 * .ARM.exidx on 32-bit ARM; src/anr is built with -funwind-tables) and
 * neither allocates nor maps memory. Frames inside the allocator are
 * skipped: the stack starts at `ra`, the return address into the code that
 * called the public function. Frames of code built without unwind tables
 * end the walk early; the first frame is always there.
 */
#include "anr/heap_internal.h"

#include <unwind.h>

/* Frames looked at before ra is found (the allocator's own, a handful). */
#define SKIP_LIMIT 16u

struct capture {
    uintptr_t *out;
    unsigned max, n, seen;
    uintptr_t ra;
    bool found;
};

static _Unwind_Reason_Code one_frame(struct _Unwind_Context *ctx, void *arg)
{
    struct capture *c = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(ctx);
    if (!c->found) {
        /* Compared without bit 0: the Thumb state bit on 32-bit ARM, which
         * the unwinder and __builtin_return_address need not agree on. */
        c->found = ((ip ^ c->ra) & ~(uintptr_t)1) == 0;
        return ++c->seen > SKIP_LIMIT ? _URC_END_OF_STACK : _URC_NO_REASON;
    }
    if (ip == 0 || c->n >= c->max)
        return _URC_END_OF_STACK;
    c->out[c->n++] = ip;
    return _URC_NO_REASON;
}

unsigned anr_stack_capture(uintptr_t *out, unsigned max, const void *ra)
{
    if (max == 0)
        return 0;
    struct capture c = {.out = out, .max = max, .n = 1, .ra = (uintptr_t)ra};
    out[0] = c.ra;
    if (max > 1)
        _Unwind_Backtrace(one_frame, &c);
    return c.n;
}
