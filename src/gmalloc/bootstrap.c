/* bootstrap.c: a static area for the allocations made while gmalloc starts.
 *
 * Starting may call into libc code that allocates (pthread_atfork past its
 * built-in slots, for one). Those nested calls come back into gmalloc on the
 * thread that is starting it; they are served here, from a bump area in
 * .bss (no page costs anything until touched). Blocks are never reused:
 * free ignores them, realloc copies them out. Only the starting thread
 * allocates here, so no lock is needed; the counters are atomics because
 * other threads read them.
 */
#include "gmalloc/gm_internal.h"

#include <errno.h>
#include <string.h>

#define GM_BOOT_BYTES (256u * 1024u)
#define GM_BOOT_HDR 16u /* the asked size sits in the 16 bytes before a block */

static _Alignas(4096) unsigned char boot_area[GM_BOOT_BYTES];
static size_t boot_used;
static _Atomic(uint64_t) boot_blocks, boot_bytes;

void *gm_boot_alloc(size_t size, size_t align)
{
    if (align < GM_BOOT_HDR)
        align = GM_BOOT_HDR;
    size_t start = (boot_used + GM_BOOT_HDR + align - 1u) & ~(align - 1u);
    if (align > 4096u || size > GM_BOOT_BYTES || start > GM_BOOT_BYTES - size) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned char *p = boot_area + start;
    memcpy(p - sizeof size, &size, sizeof size);
    boot_used = start + ((size + GM_BOOT_HDR - 1u) & ~(size_t)(GM_BOOT_HDR - 1u));
    atomic_fetch_add_explicit(&boot_blocks, 1, memory_order_relaxed);
    atomic_store_explicit(&boot_bytes, boot_used, memory_order_relaxed);
    return p;
}

bool gm_boot_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)boot_area < GM_BOOT_BYTES;
}

size_t gm_boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - sizeof size, sizeof size);
    return size;
}

void gm_boot_usage(uint64_t *blocks, uint64_t *bytes)
{
    *blocks = atomic_load_explicit(&boot_blocks, memory_order_relaxed);
    *bytes = atomic_load_explicit(&boot_bytes, memory_order_relaxed);
}
