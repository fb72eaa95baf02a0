/* mbfrag_report.c: see mbfrag_report.h. */
#include "tools/mbfrag_report.h"

#include "common/proc_read.h"
#include "common/units.h"
#include "tools/mbfrag_root.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Big enough for the buddyinfo of 64 zones with 32 orders of 20 digits. */
static char file_buffer[48 * 1024];

int mbfrag_snapshot_parse(const char *buddyinfo, size_t buddyinfo_len, const char *meminfo,
                          size_t meminfo_len, struct mbfrag_snapshot *out, char *why,
                          size_t why_size)
{
    size_t line = 0;
    out->have_mem = false;
    int rc = mb_buddyinfo_parse(buddyinfo, buddyinfo_len, &out->buddy, &line);
    if (rc < 0) {
        snprintf(why, why_size, "buddyinfo line %zu: %s", line,
                 rc == -ERANGE ? "number too large" : "malformed");
        return rc;
    }
    if (out->buddy.zones == 0) {
        snprintf(why, why_size, "buddyinfo lists no zone");
        return -ENODATA;
    }
    for (size_t i = 0; i < out->buddy.zones; i++) {
        const struct mb_buddyinfo_zone *z = &out->buddy.zone[i];
        rc = mb_frag_compute(z->free_blocks, z->orders, &out->frag[i]);
        if (rc < 0) {
            snprintf(why, why_size, "buddyinfo: node %" PRIu32 " zone %s: counts out of range",
                     z->node, z->name);
            return rc;
        }
    }
    if (meminfo != NULL) {
        rc = mb_meminfo_parse(meminfo, meminfo_len, &out->mem, &line);
        if (rc < 0) {
            snprintf(why, why_size, "meminfo line %zu: %s", line,
                     rc == -ERANGE ? "number too large" : "malformed");
            return rc;
        }
        out->have_mem = true;
    }
    return 0;
}

int mbfrag_snapshot_read(const char *root, const char *buddyinfo_path, struct mbfrag_snapshot *out,
                         char *why, size_t why_size)
{
    static char meminfo[16 * 1024];
    size_t mem_len = 0;
    int mem_rc = mbfrag_root_read(root, "/proc/meminfo", meminfo, sizeof meminfo, &mem_len);
    size_t len = 0;
    int rc;
    if (buddyinfo_path != NULL)
        rc = mb_proc_read(buddyinfo_path, file_buffer, sizeof file_buffer, &len);
    else
        rc = mbfrag_root_read(root, "/proc/buddyinfo", file_buffer, sizeof file_buffer, &len);
    if (rc < 0) {
        snprintf(why, why_size, "%s: %s", buddyinfo_path ? buddyinfo_path : "buddyinfo",
                 rc == -EFBIG ? "file too large" : strerror(-rc));
        return rc;
    }
    return mbfrag_snapshot_parse(file_buffer, len, mem_rc == 0 ? meminfo : NULL, mem_len, out,
                                 why, why_size);
}

int32_t mbfrag_level_percent(int32_t unusable_thousandths)
{
    return unusable_thousandths / 10;
}

static void print_kb_and_human(FILE *out, const char *name, uint64_t bytes)
{
    char human[MB_SIZE_STRING_MAX];
    mb_format_size(bytes, human, sizeof human);
    fprintf(out, "%s %" PRIu64 " kB (%s)", name, bytes / 1024, human);
}

static void print_zone_table(FILE *out, const struct mb_buddyinfo_zone *bz,
                             const struct mb_frag_zone *fz, uint64_t page_size)
{
    fprintf(out, "Node %" PRIu32 ", zone %s\n", bz->node, bz->name);
    fprintf(out, "%5s %11s %11s %11s %8s %8s %6s\n", "order", "block pages", "free blocks",
            "free pages", "unusable", "fragidx", "level");
    for (size_t j = 0; j < fz->orders; j++) {
        const struct mb_frag_order *o = &fz->order[j];
        char unusable[8], fragidx[8];
        mb_frag_format_index(o->unusable_thousandths, unusable, sizeof unusable);
        mb_frag_format_index(o->fragmentation_thousandths, fragidx, sizeof fragidx);
        fprintf(out, "%5zu %11" PRIu64 " %11" PRIu64 " %11" PRIu64 " %8s %8s %5" PRId32 "%%\n", j,
                (uint64_t)1 << j, o->free_blocks, o->free_pages, unusable, fragidx,
                mbfrag_level_percent(o->unusable_thousandths));
    }
    int32_t avg = fz->average_unusable_thousandths;
    fprintf(out, "%5s %11s %11" PRIu64 " %11" PRIu64 "\n", "total", "", fz->free_blocks,
            fz->free_pages);
    fprintf(out, "average level %" PRId32 ".%" PRId32 "%%\n", avg / 10, avg % 10);
    uint64_t bytes = 0;
    char human[MB_SIZE_STRING_MAX] = "?";
    if (mb_pages_to_bytes(fz->free_pages, page_size, &bytes) == 0)
        mb_format_size(bytes, human, sizeof human);
    fprintf(out, "free in zone: %" PRIu64 " pages (%s)\n", fz->free_pages, human);
}

void mbfrag_print_table(FILE *out, const struct mbfrag_snapshot *snap, uint64_t page_size)
{
    for (size_t i = 0; i < snap->buddy.zones; i++) {
        if (i > 0)
            fputc('\n', out);
        print_zone_table(out, &snap->buddy.zone[i], &snap->frag[i], page_size);
    }
    fputc('\n', out);
    if (!snap->have_mem) {
        fputs("free memory: unknown (cannot read meminfo)\n", out);
        return;
    }
    fputs("free memory: ", out);
    print_kb_and_human(out, "MemFree", mb_meminfo_get(&snap->mem, MB_MEMINFO_MEM_FREE, 0));
    if (mb_meminfo_has(&snap->mem, MB_MEMINFO_MEM_AVAILABLE)) {
        fputs(", ", out);
        print_kb_and_human(out, "MemAvailable",
                           mb_meminfo_get(&snap->mem, MB_MEMINFO_MEM_AVAILABLE, 0));
    }
    fputc('\n', out);
}

/* Zone names come from the kernel ([A-Za-z0-9]); anything else is escaped
 * so a crafted file still yields valid JSON. */
static void print_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void mbfrag_print_json(FILE *out, const struct mbfrag_snapshot *snap, uint64_t page_size)
{
    fprintf(out, "{\"page_size\":%" PRIu64 ",\"zones\":[", page_size);
    for (size_t i = 0; i < snap->buddy.zones; i++) {
        const struct mb_buddyinfo_zone *bz = &snap->buddy.zone[i];
        const struct mb_frag_zone *fz = &snap->frag[i];
        char avg[8];
        mb_frag_format_index(fz->average_unusable_thousandths, avg, sizeof avg);
        fprintf(out, "%s{\"node\":%" PRIu32 ",\"zone\":", i > 0 ? "," : "", bz->node);
        print_json_string(out, bz->name);
        fprintf(out,
                ",\"free_pages\":%" PRIu64 ",\"free_blocks\":%" PRIu64
                ",\"average_unusable_index\":%s,\"orders\":[",
                fz->free_pages, fz->free_blocks, avg);
        for (size_t j = 0; j < fz->orders; j++) {
            const struct mb_frag_order *o = &fz->order[j];
            char unusable[8], fragidx[8];
            mb_frag_format_index(o->unusable_thousandths, unusable, sizeof unusable);
            mb_frag_format_index(o->fragmentation_thousandths, fragidx, sizeof fragidx);
            fprintf(out,
                    "%s{\"order\":%zu,\"block_pages\":%" PRIu64 ",\"free_blocks\":%" PRIu64
                    ",\"free_pages\":%" PRIu64 ",\"unusable_index\":%s"
                    ",\"fragmentation_index\":%s,\"level_percent\":%" PRId32 "}",
                    j > 0 ? "," : "", j, (uint64_t)1 << j, o->free_blocks, o->free_pages,
                    unusable, fragidx, mbfrag_level_percent(o->unusable_thousandths));
        }
        fputs("]}", out);
    }
    fputs("]", out);
    if (snap->have_mem) {
        static const enum mb_meminfo_field fields[] = {
            MB_MEMINFO_MEM_TOTAL, MB_MEMINFO_MEM_FREE, MB_MEMINFO_MEM_AVAILABLE,
            MB_MEMINFO_CACHED, MB_MEMINFO_SLAB};
        fputs(",\"meminfo_bytes\":{", out);
        bool first = true;
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            if (!mb_meminfo_has(&snap->mem, fields[k]))
                continue;
            fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", mb_meminfo_field_name(fields[k]),
                    mb_meminfo_get(&snap->mem, fields[k], 0));
            first = false;
        }
        fputs("}", out);
    }
    fputs("}\n", out);
}

void mbfrag_print_csv_header(FILE *out, const struct mbfrag_snapshot *snap)
{
    fputs("timestamp", out);
    for (size_t i = 0; i < snap->buddy.zones; i++) {
        const struct mb_buddyinfo_zone *bz = &snap->buddy.zone[i];
        fprintf(out, ",node%" PRIu32 "_%s_free_pages,node%" PRIu32 "_%s_avg_unusable", bz->node,
                bz->name, bz->node, bz->name);
    }
    fputs(",MemFree_kB,MemAvailable_kB\n", out);
}

void mbfrag_print_csv_row(FILE *out, const struct mbfrag_snapshot *snap, uint64_t realtime_ns)
{
    fprintf(out, "%" PRIu64 ".%03" PRIu64, realtime_ns / 1000000000u,
            realtime_ns / 1000000u % 1000u);
    for (size_t i = 0; i < snap->buddy.zones; i++) {
        char avg[8];
        mb_frag_format_index(snap->frag[i].average_unusable_thousandths, avg, sizeof avg);
        fprintf(out, ",%" PRIu64 ",%s", snap->frag[i].free_pages, avg);
    }
    if (snap->have_mem)
        fprintf(out, ",%" PRIu64 ",%" PRIu64 "\n",
                mb_meminfo_get(&snap->mem, MB_MEMINFO_MEM_FREE, 0) / 1024,
                mb_meminfo_get(&snap->mem, MB_MEMINFO_MEM_AVAILABLE, 0) / 1024);
    else
        fputs(",,\n", out);
}
