/* bench_alloc_idle: the footprint of a trivial program under an allocator.
 *
 * Mallocs and frees one small block (so a lazily initialized allocator is
 * initialized), then prints its resident set size:
 *     result idle rss_kib=<KiB>
 */
#include "alloc_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    free(bench_malloc(16, "idle"));
    uint64_t rss = bench_rss_bytes();
    printf("result idle rss_kib=%" PRIu64 "\n", rss / 1024u);
    return rss == 0;
}
