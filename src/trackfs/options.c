/* options.c: splits -o text into trackfs's keys and the options for FUSE. */
#include "trackfs/options.h"

#include "common/config_value.h"

#include <errno.h>
#include <string.h>

void tfs_options_init(struct tfs_options *o)
{
    memset(o, 0, sizeof *o);
    o->chunk_bytes = TFS_DEFAULT_CHUNK;
    o->stall_ms = TFS_DEFAULT_STALL_MS;
    o->urgency = TFS_URGENCY_REQUEST;
    o->uring = TFS_URING_AUTO;
    o->inode_cost = TFS_DEFAULT_INODE_COST;
}

static bool key_is(const char *item, size_t key_len, const char *key)
{
    return strlen(key) == key_len && memcmp(item, key, key_len) == 0;
}

static int parse_size_value(const char *key, const char *v, size_t len, uint64_t page_size,
                            uint64_t *out, struct mb_strbuf *why)
{
    struct mb_size size;
    mb_strbuf_append(why, key);
    mb_strbuf_append(why, "=: ");
    if (mb_value_parse_size(v, len, 0, &size, why) < 0)
        return -EINVAL;
    uint64_t bytes;
    if (mb_size_resolve(&size, page_size, 0, &bytes) < 0) {
        mb_strbuf_append(why, "size out of range");
        return -EINVAL;
    }
    why->len = 0;
    if (why->cap > 0)
        why->buf[0] = '\0';
    *out = bytes;
    return 0;
}

/* One item of the list: a trackfs key (consumed) or an option for FUSE. */
static int parse_item(struct tfs_options *o, const char *item, size_t len, uint64_t page_size,
                      struct mb_strbuf *why)
{
    const char *eq = memchr(item, '=', len);
    size_t key_len = eq != NULL ? (size_t)(eq - item) : len;
    const char *v = eq != NULL ? eq + 1 : item + len;
    size_t vlen = eq != NULL ? len - key_len - 1 : 0;

    if (key_is(item, key_len, "quota")) {
        if (parse_size_value("quota", v, vlen, page_size, &o->quota_bytes, why) < 0)
            return -EINVAL;
        o->has_quota = true;
        return 0;
    }
    if (key_is(item, key_len, "chunk")) {
        uint64_t chunk;
        if (parse_size_value("chunk", v, vlen, page_size, &chunk, why) < 0)
            return -EINVAL;
        if (chunk == 0) {
            mb_strbuf_append(why, "chunk=: must be at least one page");
            return -EINVAL;
        }
        o->chunk_bytes = chunk;
        return 0;
    }
    if (key_is(item, key_len, "inode_cost"))
        return parse_size_value("inode_cost", v, vlen, page_size, &o->inode_cost, why);
    if (key_is(item, key_len, "broker"))
        return mb_value_copy_string(v, vlen, o->broker, sizeof o->broker, why) < 0 ? -EINVAL : 0;
    if (key_is(item, key_len, "stall_ms")) {
        uint64_t ms;
        if (mb_value_parse_u64(v, vlen, &ms, why) < 0 || ms > UINT32_MAX / 2) {
            mb_strbuf_append(why, " (stall_ms=: milliseconds)");
            return -EINVAL;
        }
        o->stall_ms = (uint32_t)ms;
        return 0;
    }
    if (key_is(item, key_len, "urgency")) {
        if (vlen == 7 && memcmp(v, "request", 7) == 0) {
            o->urgency = TFS_URGENCY_REQUEST;
        } else if (vlen == 7 && memcmp(v, "reserve", 7) == 0) {
            o->urgency = TFS_URGENCY_RESERVE;
        } else {
            mb_strbuf_append(why, "urgency=: use request or reserve");
            return -EINVAL;
        }
        return 0;
    }
    if (key_is(item, key_len, "uring")) {
        if (vlen == 4 && memcmp(v, "auto", 4) == 0) {
            o->uring = TFS_URING_AUTO;
        } else if (vlen == 3 && memcmp(v, "off", 3) == 0) {
            o->uring = TFS_URING_OFF;
        } else {
            mb_strbuf_append(why, "uring=: use auto or off");
            return -EINVAL;
        }
        return 0;
    }

    size_t used = strlen(o->fuse_opts);
    size_t extra = (used > 0 ? 1 : 0) + len;
    if (used + extra + 1 > sizeof o->fuse_opts) {
        mb_strbuf_append(why, "too many FUSE options");
        return -E2BIG;
    }
    if (used > 0)
        o->fuse_opts[used++] = ',';
    memcpy(o->fuse_opts + used, item, len);
    o->fuse_opts[used + len] = '\0';
    return 0;
}

int tfs_options_parse(struct tfs_options *o, const char *text, uint64_t page_size,
                      struct mb_strbuf *why)
{
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len > 0) {
            int rc = parse_item(o, p, len, page_size, why);
            if (rc < 0)
                return rc;
        }
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}
