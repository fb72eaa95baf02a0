/* status_format.c: see status_format.h. */
#include "tools/status_format.h"

#include "common/units.h"
#include "proto/codec.h"

#include <string.h>

const char *mbctl_kind_name(uint8_t kind)
{
    switch (kind) {
    case MB_KIND_SIMPLE: return "simple";
    case MB_KIND_BIDIRECTIONAL: return "bidirectional";
    case MB_KIND_SOURCE: return "source";
    default: return "?";
    }
}

const char *mbctl_pending_name(uint8_t pending_kind)
{
    switch (pending_kind) {
    case MB_PENDING_NONE: return "-";
    case MB_PENDING_REQUEST: return "request";
    case MB_PENDING_RESERVE: return "reserve";
    case MB_PENDING_RECLAIM: return "reclaim";
    default: return "?";
    }
}

const char *mbctl_pressure_name(uint8_t level)
{
    return mb_proto_pressure_name(level);
}

int mbctl_status_fetch(struct mb_client *c, struct mbctl_status *st, uint32_t timeout_ms)
{
    static struct mb_client_status_page page;
    memset(st, 0, sizeof *st);
    uint32_t cursor = 0;
    do {
        int rc = mb_client_status_page_timeout(c, MB_STATUS_CLASSES, cursor, &page, timeout_ms);
        if (rc < 0)
            return rc;
        st->summary = page.summary;
        for (uint32_t i = 0; i < page.count; i++)
            if (st->class_count < sizeof st->classes / sizeof st->classes[0])
                st->classes[st->class_count++] = page.records.classes[i];
        cursor = page.offset; /* the server's cursor for the next page */
    } while (page.more);
    cursor = 0;
    do {
        int rc = mb_client_status_page_timeout(c, MB_STATUS_CLIENTS, cursor, &page, timeout_ms);
        if (rc < 0)
            return rc;
        st->summary = page.summary; /* the latest figures */
        for (uint32_t i = 0; i < page.count; i++) {
            if (st->client_count < MBCTL_STATUS_MAX_CLIENTS)
                st->clients[st->client_count++] = page.records.clients[i];
            else
                st->clients_truncated = true;
        }
        cursor = page.offset;
    } while (page.more);
    st->page_size = mb_client_page_size(c);
    return 0;
}

static const char *human_pages(uint64_t pages, uint32_t page_size, char *buf, size_t len)
{
    if (mb_format_pages(pages, page_size, buf, len) < 0)
        snprintf(buf, len, "?");
    return buf;
}

/* Client names are the clients' own choice: no control characters in a table. */
static const char *printable(const char *name, char *buf, size_t len)
{
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < len; i++)
        buf[i] = (name[i] < 0x20 || name[i] == 0x7f) ? '?' : name[i];
    buf[i] = '\0';
    return i == 0 ? "-" : buf;
}

static const char *class_name(const struct mbctl_status *st, uint8_t index)
{
    return index < st->class_count ? st->classes[index].name : "?";
}

void mbctl_status_print_table(FILE *out, const struct mbctl_status *st)
{
    const struct mb_client_status_summary *s = &st->summary;
    char a[MB_SIZE_STRING_MAX], b[MB_SIZE_STRING_MAX];
    fprintf(out, "total %llu pages (%s)   pool %llu pages (%s)   page size %u\n",
            (unsigned long long)s->total, human_pages(s->total, st->page_size, a, sizeof a),
            (unsigned long long)s->pool, human_pages(s->pool, st->page_size, b, sizeof b),
            (unsigned)st->page_size);
    fprintf(out, "gathered %llu   lent %llu   debt %llu   pressure %s   clients %u/%u\n",
            (unsigned long long)s->gathered, (unsigned long long)s->lent,
            (unsigned long long)s->debt, mbctl_pressure_name(s->pressure), (unsigned)s->clients,
            (unsigned)s->max_clients);
    fprintf(out,
            "requests %llu (immediate %llu, timed out %llu)   reserves failed %llu   "
            "queries %llu (late %llu, ignored %llu, missed %llu)\n",
            (unsigned long long)s->requests, (unsigned long long)s->grants_immediate,
            (unsigned long long)s->requests_timed_out, (unsigned long long)s->reserves_failed,
            (unsigned long long)s->queries_sent, (unsigned long long)s->answers_late,
            (unsigned long long)s->answers_bogus, (unsigned long long)s->deadlines_missed);

    fprintf(out, "\n%-16s %8s %12s %12s %8s\n", "CLASS", "PRIORITY", "LIMIT", "HELD", "MEMBERS");
    for (size_t i = 0; i < st->class_count; i++) {
        const struct mb_client_status_class *k = &st->classes[i];
        char limit[24];
        if (k->limit == 0)
            snprintf(limit, sizeof limit, "none");
        else
            snprintf(limit, sizeof limit, "%llu", (unsigned long long)k->limit);
        fprintf(out, "%-16s %8u %12s %12llu %8u\n", k->name, (unsigned)k->priority, limit,
                (unsigned long long)k->held, (unsigned)k->members);
    }

    fprintf(out, "\n%5s %7s %-16s %-13s %-10s %10s %-8s %10s %8s %6s\n", "ID", "PID", "NAME",
            "KIND", "CLASS", "BALANCE", "WAITING", "FOR", "QUERIES", "MISSED");
    for (size_t i = 0; i < st->client_count; i++) {
        const struct mb_client_status_client *c = &st->clients[i];
        char waiting_for[48], name[MB_NAME_MAX + 1];
        if (c->pending_kind == MB_PENDING_NONE)
            snprintf(waiting_for, sizeof waiting_for, "-");
        else
            snprintf(waiting_for, sizeof waiting_for, "%llu/%llu",
                     (unsigned long long)c->pending_gathered, (unsigned long long)c->pending_pages);
        fprintf(out, "%5u %7u %-16s %-13s %-10s %10llu %-8s %10s %8u %6u\n", (unsigned)c->id,
                (unsigned)c->pid, printable(c->name, name, sizeof name), mbctl_kind_name(c->kind),
                class_name(st, c->class_index), (unsigned long long)c->balance,
                mbctl_pending_name(c->pending_kind), waiting_for,
                (unsigned)c->queries_outstanding, (unsigned)c->missed_deadlines);
    }
    if (st->clients_truncated)
        fprintf(out, "(more than %u clients: the rest are not shown)\n", MBCTL_STATUS_MAX_CLIENTS);
    mbctl_trackfs_print_table(out, &st->trackfs);
}

void mbctl_trackfs_collect(struct mbctl_status *st, const char *proc)
{
    st->trackfs.count = 0;
    for (size_t i = 0; i < st->client_count && st->trackfs.count < MBCTL_TRACKFS_MAX; i++) {
        const struct mb_client_status_client *c = &st->clients[i];
        if (strcmp(c->name, "trackfs") != 0)
            continue;
        struct mbctl_trackfs *t = &st->trackfs.mounts[st->trackfs.count++];
        memset(t, 0, sizeof *t);
        t->pid = c->pid;
        if (mbctl_trackfs_mountpoint(proc, c->pid, t->mountpoint, sizeof t->mountpoint) < 0)
            t->mountpoint[0] = '\0';
        else
            (void)mbctl_trackfs_read_stats(t->mountpoint, t);
    }
}

/* A JSON string: names are what clients chose, so escape everything. */
void mbctl_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void mbctl_status_print_json(FILE *out, const struct mbctl_status *st)
{
    const struct mb_client_status_summary *s = &st->summary;
    fprintf(out,
            "{\"page_size\":%u,\"total\":%llu,\"configured_total\":%llu,\"pool\":%llu,"
            "\"gathered\":%llu,\"lent\":%llu,\"debt\":%llu,\"pressure\":\"%s\","
            "\"clients_connected\":%u,\"max_clients\":%u,"
            "\"counters\":{\"requests\":%llu,\"grants_immediate\":%llu,\"requests_timed_out\":%llu,"
            "\"reserves_failed\":%llu,\"queries_sent\":%llu,\"answers_late\":%llu,"
            "\"answers_ignored\":%llu,\"deadlines_missed\":%llu},\"classes\":[",
            (unsigned)st->page_size, (unsigned long long)s->total,
            (unsigned long long)s->configured_total, (unsigned long long)s->pool,
            (unsigned long long)s->gathered, (unsigned long long)s->lent,
            (unsigned long long)s->debt, mbctl_pressure_name(s->pressure), (unsigned)s->clients,
            (unsigned)s->max_clients, (unsigned long long)s->requests,
            (unsigned long long)s->grants_immediate, (unsigned long long)s->requests_timed_out,
            (unsigned long long)s->reserves_failed, (unsigned long long)s->queries_sent,
            (unsigned long long)s->answers_late, (unsigned long long)s->answers_bogus,
            (unsigned long long)s->deadlines_missed);
    for (size_t i = 0; i < st->class_count; i++) {
        const struct mb_client_status_class *k = &st->classes[i];
        fprintf(out, "%s{\"name\":", i ? "," : "");
        mbctl_json_string(out, k->name);
        fprintf(out, ",\"priority\":%u,\"limit\":%llu,\"held\":%llu,\"members\":%u}",
                (unsigned)k->priority, (unsigned long long)k->limit, (unsigned long long)k->held,
                (unsigned)k->members);
    }
    fputs("],\"clients\":[", out);
    for (size_t i = 0; i < st->client_count; i++) {
        const struct mb_client_status_client *c = &st->clients[i];
        fprintf(out, "%s{\"id\":%u,\"pid\":%u,\"uid\":%u,\"gid\":%u,\"name\":", i ? "," : "",
                (unsigned)c->id, (unsigned)c->pid, (unsigned)c->uid, (unsigned)c->gid);
        mbctl_json_string(out, c->name);
        fprintf(out, ",\"kind\":\"%s\",\"class\":", mbctl_kind_name(c->kind));
        mbctl_json_string(out, class_name(st, c->class_index));
        fprintf(out,
                ",\"balance\":%llu,\"lent\":%llu,\"waiting\":\"%s\",\"waiting_pages\":%llu,"
                "\"waiting_gathered\":%llu,\"waiting_ms\":%llu,\"queries_outstanding\":%u,"
                "\"missed_deadlines\":%u,\"ignored_answers\":%u}",
                (unsigned long long)c->balance, (unsigned long long)c->lent,
                mbctl_pending_name(c->pending_kind), (unsigned long long)c->pending_pages,
                (unsigned long long)c->pending_gathered, (unsigned long long)c->pending_age_ms,
                (unsigned)c->queries_outstanding, (unsigned)c->missed_deadlines,
                (unsigned)c->bogus_answers);
    }
    fprintf(out, "],\"clients_truncated\":%s", st->clients_truncated ? "true" : "false");
    if (st->trackfs.count > 0) {
        fputs(",\"trackfs\":", out);
        mbctl_trackfs_print_json(out, &st->trackfs);
    }
    fputs("}\n", out);
}
