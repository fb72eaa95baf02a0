/* stats.c: the statistics text (see stats.h). */
#include "trackfs/stats.h"

#include "common/strbuf.h"

static void line(struct mb_strbuf *sb, const char *key, uint64_t value)
{
    mb_strbuf_append(sb, key);
    mb_strbuf_append_char(sb, ' ');
    mb_strbuf_append_u64(sb, value);
    mb_strbuf_append_char(sb, '\n');
}

size_t tfs_stats_format(const struct tfs_quota_stats *qs, uint64_t page_size,
                        const uint64_t *broker_balance, char *buf, size_t size)
{
    /* Built in a buffer of the largest size, so the length is known even
     * when the caller's buffer is smaller. */
    char text[TFS_STATS_MAX];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, text, sizeof text);
    mb_strbuf_append(&sb, broker_balance != NULL ? "mode broker\n" : "mode standalone\n");
    line(&sb, "page_size", page_size);
    line(&sb, "quota_pages", qs->held);
    line(&sb, "used_pages", qs->used);
    line(&sb, "data_pages", qs->data_pages);
    line(&sb, "inodes", qs->inodes);
    line(&sb, "xattr_bytes", qs->xattr_bytes);
    line(&sb, "free_pages", qs->held > qs->used ? qs->held - qs->used : 0);
    if (broker_balance != NULL)
        line(&sb, "broker_balance", *broker_balance);
    line(&sb, "acquired_pages", qs->acquired);
    line(&sb, "released_pages", qs->released);
    line(&sb, "stalls", qs->stalls);
    line(&sb, "stall_ms", qs->stall_ns / 1000000u);
    line(&sb, "enospc", qs->refusals);
    struct mb_strbuf out;
    mb_strbuf_init(&out, buf, size);
    mb_strbuf_append_n(&out, text, sb.len);
    return sb.len;
}
