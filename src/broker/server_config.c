/* server_config.c: see server_config.h. */
#include "broker/server_config.h"

#include "common/numparse.h"
#include "common/strbuf.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>

#define T struct mbserver_file_config
static const struct mb_config_key mbserver_keys[] = {
    [MBS_TOTAL] = MB_CONFIG_KEY_SIZE("TOTAL", T, total, MB_CONFIG_PERCENT | MB_CONFIG_ALL_EXCEPT),
    [MBS_SOCKET] = MB_CONFIG_KEY_STRING("SOCKET", T, socket),
    [MBS_SOCKET_MODE] = MB_CONFIG_KEY_STRING("SOCKET_MODE", T, socket_mode),
    [MBS_SOCKET_GROUP] = MB_CONFIG_KEY_STRING("SOCKET_GROUP", T, socket_group),
    [MBS_MAX_CLIENTS] = MB_CONFIG_KEY_U64_RANGE("MAX_CLIENTS", T, max_clients, 1,
                                                MB_BROKER_MAX_CLIENTS_LIMIT),
    [MBS_REQUEST_TIMEOUT] = MB_CONFIG_KEY_DURATION_RANGE("REQUEST_TIMEOUT", T, request_timeout_ms,
                                                         MB_DURATION_MS, 1, 3600000),
    [MBS_QUERY_TIMEOUT] = MB_CONFIG_KEY_DURATION_RANGE("QUERY_TIMEOUT", T, query_timeout_ms,
                                                       MB_DURATION_MS, 1, 3600000),
    [MBS_MISSED_DEADLINE_LIMIT] = MB_CONFIG_KEY_U64_RANGE("MISSED_DEADLINE_LIMIT", T,
                                                          missed_deadline_limit, 0, 1000000),
    [MBS_PRESSURE_RESERVE] = MB_CONFIG_KEY_SIZE("PRESSURE_RESERVE", T, pressure_reserve,
                                                MB_CONFIG_PERCENT),
    [MBS_ALLOW_UIDS] = MB_CONFIG_KEY_U64_LIST_RANGE("ALLOW_UIDS", T, allow_uids, allow_uid_count,
                                                    0, UINT32_MAX - 1),
    [MBS_ALLOW_GIDS] = MB_CONFIG_KEY_U64_LIST_RANGE("ALLOW_GIDS", T, allow_gids, allow_gid_count,
                                                    0, UINT32_MAX - 1),
    [MBS_PRIVILEGED_UIDS] = MB_CONFIG_KEY_U64_LIST_RANGE("PRIVILEGED_UIDS", T, privileged_uids,
                                                         privileged_uid_count, 0, UINT32_MAX - 1),
    [MBS_SEND_QUEUE_DEPTH] = MB_CONFIG_KEY_U64_RANGE("SEND_QUEUE_DEPTH", T, send_queue_depth, 1, 64),
    [MBS_LOG_LEVEL] = MB_CONFIG_KEY_STRING("LOG_LEVEL", T, log_level),
    [MBS_CLASS] = MB_CONFIG_KEY_STRING_LIST("CLASS", T, classes, class_count),
    [MBS_CLASS_RULE] = MB_CONFIG_KEY_STRING_LIST("CLASS_RULE", T, class_rules, class_rule_count),
    [MBS_DEFAULT_CLASS] = MB_CONFIG_KEY_STRING("DEFAULT_CLASS", T, default_class),
};
const struct mb_config_schema mbserver_config_schema =
    MB_CONFIG_SCHEMA(mbserver_keys, T, present, "MBSERVER_");
#undef T

void mbserver_file_config_defaults(struct mbserver_file_config *fc)
{
    memset(fc, 0, sizeof *fc);
    snprintf(fc->socket, sizeof fc->socket, "%s", MB_SERVER_DEFAULT_SOCKET);
    snprintf(fc->socket_mode, sizeof fc->socket_mode, "0660");
    fc->max_clients = 1024;
    fc->request_timeout_ms = 500;
    fc->query_timeout_ms = 200;
    fc->missed_deadline_limit = 0;
    fc->send_queue_depth = 8;
    snprintf(fc->log_level, sizeof fc->log_level, "info");
    snprintf(fc->default_class, sizeof fc->default_class, "default");
}

int mbserver_parse_log_level(const char *name)
{
    static const char *const names[] = {"err", "warning", "notice", "info", "debug"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i + 3;
    return -1;
}

static int parse_mode(const char *text, unsigned *mode)
{
    size_t len = strlen(text);
    if (len == 0 || len > 4)
        return -EINVAL;
    unsigned value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '7')
            return -EINVAL;
        value = value * 8u + (unsigned)(text[i] - '0');
    }
    if (value > 0777)
        return -EINVAL;
    *mode = value;
    return 0;
}

static int parse_group(const char *text, gid_t *gid)
{
    if (text[0] == '\0') {
        *gid = (gid_t)-1;
        return 0;
    }
    uint64_t number;
    if (mb_parse_u64_exact(text, strlen(text), &number) == 0 && number < UINT32_MAX) {
        *gid = (gid_t)number;
        return 0;
    }
    const struct group *gr = getgrnam(text);
    if (gr == NULL)
        return -ENOENT;
    *gid = gr->gr_gid;
    return 0;
}

static void copy_ids(uint32_t *dst, size_t *dst_count, const uint64_t *src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = (uint32_t)src[i]; /* the key's range keeps them below 2^32 - 1 */
    *dst_count = count;
}

/* One blank-separated word of a CLASS or CLASS_RULE line. */
struct word {
    const char *text;
    size_t len;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next word at or after *pos in line; false at the end. */
static bool next_word(const char *line, size_t *pos, struct word *w)
{
    size_t i = *pos;
    while (line[i] != '\0' && is_blank(line[i]))
        i++;
    if (line[i] == '\0')
        return false;
    w->text = line + i;
    while (line[i] != '\0' && !is_blank(line[i]))
        i++;
    w->len = (size_t)(line + i - w->text);
    *pos = i;
    return true;
}

/* Splits "field=value"; false when there is no '='. */
static bool split_field(const struct word *w, struct word *field, struct word *value)
{
    const char *eq = memchr(w->text, '=', w->len);
    if (eq == NULL)
        return false;
    *field = (struct word){w->text, (size_t)(eq - w->text)};
    *value = (struct word){eq + 1, w->len - field->len - 1};
    return true;
}

static bool word_is(const struct word *w, const char *s)
{
    return strlen(s) == w->len && memcmp(w->text, s, w->len) == 0;
}

/* Class names: 1..MB_NAME_MAX letters, digits, '_', '-' or '.'. */
static bool valid_class_name(const struct word *w)
{
    if (w->len == 0 || w->len >= MB_NAME_BUF)
        return false;
    for (size_t i = 0; i < w->len; i++) {
        char c = w->text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* Writes "KEY N (\"line\"): " and the formatted problem into why. */
static int line_error(char *why, size_t why_len, const char *key, size_t n, const char *line,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int line_error(char *why, size_t why_len, const char *key, size_t n, const char *line,
                      const char *fmt, ...)
{
    int used = snprintf(why, why_len, "%s %zu (\"%s\"): ", key, n, line);
    if (used >= 0 && (size_t)used < why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why + used, why_len - (size_t)used, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int find_class(const struct mb_broker_config *cfg, const struct word *name)
{
    for (uint32_t i = 0; i < cfg->class_count; i++)
        if (word_is(name, cfg->classes[i].name))
            return (int)i;
    return -1;
}

static int parse_class_line(const char *line, size_t n, uint64_t memtotal_bytes, uint64_t page_size,
                            struct mb_broker_config *cfg, bool *default_defined, char *why,
                            size_t why_len)
{
    size_t pos = 0;
    struct word name;
    if (!next_word(line, &pos, &name) || !valid_class_name(&name) ||
        memchr(name.text, '=', name.len) != NULL)
        return line_error(why, why_len, "CLASS", n, line,
                          "the line must start with a class name of 1-%u letters, digits, "
                          "'_', '-' or '.'",
                          (unsigned)MB_NAME_MAX);
    int index = find_class(cfg, &name);
    if (index == 0 && word_is(&name, "default") && !*default_defined) {
        *default_defined = true; /* defining "default" sets the implicit class */
    } else if (index >= 0) {
        return line_error(why, why_len, "CLASS", n, line, "class \"%.*s\" is defined twice",
                          (int)name.len, name.text);
    } else if (cfg->class_count >= MB_MAX_CLASSES) {
        return line_error(why, why_len, "CLASS", n, line,
                          "more than %u classes (\"default\" counts as one)",
                          (unsigned)MB_MAX_CLASSES);
    } else {
        index = (int)cfg->class_count++;
        memcpy(cfg->classes[index].name, name.text, name.len);
        cfg->classes[index].name[name.len] = '\0';
    }
    struct mb_class_config *k = &cfg->classes[index];
    k->limit = 0;
    k->priority = 0;
    bool have_limit = false, have_priority = false;
    struct word w, field, value;
    while (next_word(line, &pos, &w)) {
        if (!split_field(&w, &field, &value) || value.len == 0)
            return line_error(why, why_len, "CLASS", n, line,
                              "\"%.*s\": expected limit=SIZE or priority=N", (int)w.len, w.text);
        if (word_is(&field, "limit")) {
            if (have_limit)
                return line_error(why, why_len, "CLASS", n, line, "limit= given twice");
            have_limit = true;
            char reason[128];
            struct mb_strbuf sb;
            mb_strbuf_init(&sb, reason, sizeof reason);
            struct mb_size size;
            uint64_t pages = 0;
            if (mb_value_parse_size(value.text, value.len, MB_SIZE_ALLOW_PERCENT, &size, &sb) < 0)
                return line_error(why, why_len, "CLASS", n, line, "limit \"%.*s\": %s",
                                  (int)value.len, value.text, reason);
            if (mb_size_resolve_pages(&size, page_size, memtotal_bytes, &pages) < 0 ||
                pages > MB_PAGES_MAX)
                return line_error(why, why_len, "CLASS", n, line,
                                  "limit \"%.*s\" does not resolve to a number of pages",
                                  (int)value.len, value.text);
            k->limit = pages;
        } else if (word_is(&field, "priority")) {
            uint64_t priority = 0;
            if (have_priority)
                return line_error(why, why_len, "CLASS", n, line, "priority= given twice");
            have_priority = true;
            if (mb_parse_u64_exact(value.text, value.len, &priority) < 0 || priority > UINT32_MAX)
                return line_error(why, why_len, "CLASS", n, line,
                                  "priority \"%.*s\" is not a number from 0 to %u",
                                  (int)value.len, value.text, (unsigned)UINT32_MAX);
            k->priority = (uint32_t)priority;
        } else {
            return line_error(why, why_len, "CLASS", n, line,
                              "unknown field \"%.*s\" (use limit= or priority=)",
                              (int)field.len, field.text);
        }
    }
    return 0;
}

/* Copies value into dst[0..cap) when it fits (NUL included). */
static bool copy_word(const struct word *value, char *dst, size_t cap)
{
    if (value->len == 0 || value->len >= cap)
        return false;
    memcpy(dst, value->text, value->len);
    dst[value->len] = '\0';
    return true;
}

static bool parse_id(const struct word *value, uint32_t *id)
{
    uint64_t v = 0;
    if (mb_parse_u64_exact(value->text, value->len, &v) < 0 || v >= UINT32_MAX)
        return false;
    *id = (uint32_t)v;
    return true;
}

static int parse_rule_line(const char *line, size_t n, struct mb_broker_config *cfg, char *why,
                           size_t why_len)
{
    static const char *const fields[] = {"class", "uid", "gid", "exe", "name", "requested"};
    enum { F_CLASS, F_UID, F_GID, F_EXE, F_NAME, F_REQUESTED, F_COUNT };
    struct mb_class_rule *r = &cfg->rules[cfg->rule_count];
    memset(r, 0, sizeof *r);
    bool seen[F_COUNT] = {false};
    size_t pos = 0;
    struct word w, field, value;
    while (next_word(line, &pos, &w)) {
        if (!split_field(&w, &field, &value))
            return line_error(why, why_len, "CLASS_RULE", n, line,
                              "\"%.*s\": expected FIELD=VALUE", (int)w.len, w.text);
        int f = -1;
        for (int i = 0; i < F_COUNT; i++)
            if (word_is(&field, fields[i]))
                f = i;
        if (f < 0)
            return line_error(why, why_len, "CLASS_RULE", n, line,
                              "unknown field \"%.*s\" (use class=, uid=, gid=, exe=, name= or "
                              "requested=)",
                              (int)field.len, field.text);
        if (seen[f])
            return line_error(why, why_len, "CLASS_RULE", n, line, "%s= given twice", fields[f]);
        seen[f] = true;
        bool ok = true;
        switch (f) {
        case F_CLASS: {
            int index = find_class(cfg, &value);
            if (index < 0)
                return line_error(why, why_len, "CLASS_RULE", n, line,
                                  "class \"%.*s\" is not defined by a CLASS line", (int)value.len,
                                  value.text);
            r->class_index = (uint8_t)index;
            break;
        }
        case F_UID:
            ok = parse_id(&value, &r->uid);
            r->match_uid = true;
            break;
        case F_GID:
            ok = parse_id(&value, &r->gid);
            r->match_gid = true;
            break;
        case F_EXE:
            ok = copy_word(&value, r->exe, sizeof r->exe);
            break;
        case F_NAME:
            ok = copy_word(&value, r->client_name, sizeof r->client_name);
            break;
        default:
            ok = copy_word(&value, r->requested_class, sizeof r->requested_class);
            break;
        }
        if (!ok)
            return line_error(why, why_len, "CLASS_RULE", n, line,
                              "%s \"%.*s\": %s", fields[f], (int)value.len, value.text,
                              f == F_UID || f == F_GID ? "not a number below 4294967295"
                              : f == F_EXE ? "empty or longer than 15 bytes (the kernel's comm)"
                                           : "empty or longer than 31 bytes");
    }
    if (!seen[F_CLASS])
        return line_error(why, why_len, "CLASS_RULE", n, line, "class=NAME is required");
    cfg->rule_count++;
    return 0;
}

int mbserver_classes_from_config(const struct mbserver_file_config *fc, uint64_t memtotal_bytes,
                                 uint64_t page_size, struct mb_broker_config *cfg, char *why,
                                 size_t why_len)
{
    memset(cfg->classes, 0, sizeof cfg->classes);
    memset(cfg->rules, 0, sizeof cfg->rules);
    cfg->class_count = 1;
    memcpy(cfg->classes[0].name, "default", sizeof "default");
    cfg->rule_count = 0;
    cfg->default_class = 0;
    bool default_defined = false;
    for (size_t i = 0; i < fc->class_count && i < MB_MAX_CLASSES; i++) {
        int rc = parse_class_line(fc->classes[i], i + 1, memtotal_bytes, page_size, cfg,
                                  &default_defined, why, why_len);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < fc->class_rule_count && i < MB_MAX_CLASS_RULES; i++) {
        int rc = parse_rule_line(fc->class_rules[i], i + 1, cfg, why, why_len);
        if (rc < 0)
            return rc;
    }
    struct word name = {fc->default_class, strlen(fc->default_class)};
    int index = find_class(cfg, &name);
    if (index < 0) {
        snprintf(why, why_len, "DEFAULT_CLASS \"%s\" is not defined by a CLASS line",
                 fc->default_class);
        return -EINVAL;
    }
    cfg->default_class = (uint8_t)index;
    return 0;
}

int mbserver_format_classes(const struct mb_broker_config *cfg, char *buf, size_t cap)
{
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, buf, cap);
    for (uint32_t i = 0; i < cfg->class_count; i++) {
        const struct mb_class_config *k = &cfg->classes[i];
        mb_strbuf_append(&sb, "class ");
        mb_strbuf_append(&sb, k->name);
        if (k->limit == 0) {
            mb_strbuf_append(&sb, ": no limit");
        } else {
            mb_strbuf_append(&sb, ": limit ");
            mb_strbuf_append_u64(&sb, k->limit);
            mb_strbuf_append(&sb, " pages");
        }
        mb_strbuf_append(&sb, ", priority ");
        mb_strbuf_append_u64(&sb, k->priority);
        if (i == cfg->default_class)
            mb_strbuf_append(&sb, " (the default class)");
        mb_strbuf_append_char(&sb, '\n');
    }
    for (uint32_t i = 0; i < cfg->rule_count; i++) {
        const struct mb_class_rule *r = &cfg->rules[i];
        mb_strbuf_append(&sb, "rule ");
        mb_strbuf_append_u64(&sb, i + 1);
        mb_strbuf_append(&sb, ":");
        if (r->match_uid) {
            mb_strbuf_append(&sb, " uid=");
            mb_strbuf_append_u64(&sb, r->uid);
        }
        if (r->match_gid) {
            mb_strbuf_append(&sb, " gid=");
            mb_strbuf_append_u64(&sb, r->gid);
        }
        static const char *const labels[] = {" exe=", " name=", " requested="};
        const char *values[] = {r->exe, r->client_name, r->requested_class};
        for (size_t j = 0; j < 3; j++) {
            if (values[j][0] != '\0') {
                mb_strbuf_append(&sb, labels[j]);
                mb_strbuf_append(&sb, values[j]);
            }
        }
        if (!r->match_uid && !r->match_gid && r->exe[0] == '\0' && r->client_name[0] == '\0' &&
            r->requested_class[0] == '\0')
            mb_strbuf_append(&sb, " (every client)");
        mb_strbuf_append(&sb, " -> ");
        mb_strbuf_append(&sb, cfg->classes[r->class_index].name);
        mb_strbuf_append_char(&sb, '\n');
    }
    return mb_strbuf_truncated(&sb) ? -ENOSPC : 0;
}

int mbserver_options_from_config(const struct mbserver_file_config *fc, uint64_t memtotal_bytes,
                                 uint64_t page_size, struct mb_server_options *opts, char *why,
                                 size_t why_len)
{
    if (!fc->present[MBS_TOTAL]) {
        snprintf(why, why_len, "no TOTAL: give --total AMOUNT or TOTAL in the config file");
        return -EINVAL;
    }
    uint64_t total_pages = 0;
    int rc = mb_size_resolve_pages(&fc->total, page_size, memtotal_bytes, &total_pages);
    if (rc < 0 || total_pages == 0 || total_pages > MB_PAGES_MAX) {
        snprintf(why, why_len, "TOTAL does not resolve to a usable number of pages (%s)",
                 rc == -ERANGE ? "too large" : rc < 0 ? "larger than this machine's RAM" : "zero");
        return -EINVAL;
    }
    if (page_size > UINT32_MAX) {
        snprintf(why, why_len, "page size %llu is not supported", (unsigned long long)page_size);
        return -EINVAL;
    }
    mb_server_options_defaults(opts, total_pages, (uint32_t)page_size);
    opts->socket_path = fc->socket;
    if (parse_mode(fc->socket_mode, &opts->socket_mode) < 0) {
        snprintf(why, why_len, "SOCKET_MODE \"%s\" is not an octal mode such as 0660",
                 fc->socket_mode);
        return -EINVAL;
    }
    if (parse_group(fc->socket_group, &opts->socket_group) < 0) {
        snprintf(why, why_len, "SOCKET_GROUP \"%s\": no such group", fc->socket_group);
        return -EINVAL;
    }
    opts->broker.max_clients = (uint32_t)fc->max_clients;
    opts->broker.request_timeout_ns = fc->request_timeout_ms * 1000000u;
    opts->broker.query_timeout_ns = fc->query_timeout_ms * 1000000u;
    opts->broker.missed_deadline_limit = (uint32_t)fc->missed_deadline_limit;
    if (fc->present[MBS_PRESSURE_RESERVE]) {
        uint64_t reserve = 0;
        if (mb_size_resolve_pages(&fc->pressure_reserve, page_size, memtotal_bytes, &reserve) < 0 ||
            reserve > total_pages) {
            snprintf(why, why_len, "PRESSURE_RESERVE must resolve to at most TOTAL");
            return -EINVAL;
        }
        opts->broker.pressure_reserve_pages = reserve;
    } else {
        /* A tenth of TOTAL: without a reserve, kernel pressure would make
         * the broker ask no one for anything while its pool is not empty. */
        opts->broker.pressure_reserve_pages = total_pages / MBS_DEFAULT_PRESSURE_RESERVE_DIVISOR;
    }
    copy_ids(opts->allow_uids, &opts->allow_uid_count, fc->allow_uids, fc->allow_uid_count);
    copy_ids(opts->allow_gids, &opts->allow_gid_count, fc->allow_gids, fc->allow_gid_count);
    copy_ids(opts->privileged_uids, &opts->privileged_uid_count, fc->privileged_uids,
             fc->privileged_uid_count);
    opts->send_queue_depth = (uint32_t)fc->send_queue_depth;
    rc = mbserver_classes_from_config(fc, memtotal_bytes, page_size, &opts->broker, why, why_len);
    if (rc < 0)
        return rc;
    if (mb_broker_config_check(&opts->broker) < 0) {
        snprintf(why, why_len, "the settings are inconsistent (see mbserver --check-config)");
        return -EINVAL;
    }
    if (mbserver_parse_log_level(fc->log_level) < 0) {
        snprintf(why, why_len, "LOG_LEVEL \"%s\" is not one of err, warning, notice, info, debug",
                 fc->log_level);
        return -EINVAL;
    }
    return 0;
}
