/* libFuzzer target: every /proc parser on the same arbitrary bytes. They
 * must never read past the buffer (ASan watches), and their results must
 * keep their documented invariants: on success counts within bounds, on
 * error a line number within the input and an emptied result. The
 * fragmentation computation runs on every zone a parse accepts. */
#include "common/proc_buddyinfo.h"
#include "common/proc_meminfo.h"
#include "common/proc_pressure.h"
#include "common/proc_vmstat.h"
#include "tools/fragmentation.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *buf, size_t len)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    return lines;
}

static void check_line(int rc, size_t error_line, size_t lines)
{
    if (rc < 0 && (error_line == 0 || error_line > lines))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes: a read past the end is an ASan report. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    size_t lines = count_lines(buf, size);
    size_t line = 0;

    static struct mb_buddyinfo bi;
    int rc = mb_buddyinfo_parse(buf, size, &bi, &line);
    check_line(rc, line, lines);
    if (rc < 0 && bi.zones != 0)
        abort();
    if (rc == 0) {
        if (bi.zones > MB_BUDDYINFO_MAX_ZONES)
            abort();
        for (size_t z = 0; z < bi.zones; z++) {
            const struct mb_buddyinfo_zone *zone = &bi.zone[z];
            if (zone->orders == 0 || zone->orders > MB_BUDDYINFO_MAX_ORDERS)
                abort();
            struct mb_frag_zone frag;
            if (mb_frag_compute(zone->free_blocks, zone->orders, &frag) == 0) {
                for (size_t j = 0; j < zone->orders; j++) {
                    int32_t u = frag.order[j].unusable_thousandths;
                    int32_t f = frag.order[j].fragmentation_thousandths;
                    if (u < 0 || u > 1000 || f < -1000 || f > 1000)
                        abort();
                }
            }
        }
    }

    struct mb_meminfo mi;
    line = 0;
    check_line(mb_meminfo_parse(buf, size, &mi, &line), line, lines);
    uint64_t value;
    (void)mb_meminfo_lookup(buf, size, "MemTotal", &value);

    static struct mb_vmstat vs;
    line = 0;
    check_line(mb_vmstat_parse(buf, size, &vs, &line), line, lines);
    (void)mb_vmstat_lookup(buf, size, "pgmajfault", &value);

    struct mb_pressure pr;
    line = 0;
    rc = mb_pressure_parse(buf, size, &pr, &line);
    if (rc < 0 && rc != -ENODATA)
        check_line(rc, line, lines);

    free(buf);
    return 0;
}
