/* libFuzzer target for the config parser (src/common/config.c).
 *
 * Parses arbitrary bytes as a config file with a table that covers every
 * value type, then as environment overrides (lines of the input become
 * "NAME=value" entries), and checks the parser's promises:
 * - on success every list count is within its array (the repeatable
 *   STRINGS key included), every string is NUL-terminated inside its field, sizes are well formed and resolve
 *   without breaking their bounds;
 * - on error the message is non-empty and NUL-terminated, the line number
 *   is within the input's line count (0 for the environment), and the
 *   destination is byte for byte what it was.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

enum { F_U64, F_RANGE, F_SIZE, F_SIZE_ALL, F_DURATION, F_BOOL, F_LIST, F_SIZES, F_STRING, F_STRINGS, F_COUNT };

struct fuzz_cfg {
    uint64_t u64;
    uint64_t range;
    struct mb_size size;
    struct mb_size size_all;
    uint64_t duration_ms;
    bool flag;
    uint64_t list[4];
    size_t list_count;
    struct mb_size sizes[3];
    size_t size_count;
    char string[8];
    char strings[3][6];
    size_t string_count;
    bool present[F_COUNT];
};

static const struct mb_config_key fuzz_keys[] = {
    [F_U64] = MB_CONFIG_KEY_U64("U64", struct fuzz_cfg, u64),
    [F_RANGE] = MB_CONFIG_KEY_U64_RANGE("RANGE", struct fuzz_cfg, range, 3, 300),
    [F_SIZE] = MB_CONFIG_KEY_SIZE("SIZE", struct fuzz_cfg, size, 0),
    [F_SIZE_ALL] = MB_CONFIG_KEY_SIZE("EXPANDABLE_SIZE", struct fuzz_cfg, size_all,
                                      MB_CONFIG_PERCENT | MB_CONFIG_ALL_EXCEPT),
    [F_DURATION] = MB_CONFIG_KEY_DURATION("DURATION", struct fuzz_cfg, duration_ms, MB_DURATION_S),
    [F_BOOL] = MB_CONFIG_KEY_BOOL("BOOL", struct fuzz_cfg, flag),
    [F_LIST] = MB_CONFIG_KEY_U64_LIST_RANGE("LIST", struct fuzz_cfg, list, list_count, 0, 1000000),
    [F_SIZES] = MB_CONFIG_KEY_SIZE_LIST("SIZES", struct fuzz_cfg, sizes, size_count, MB_CONFIG_PERCENT),
    [F_STRING] = MB_CONFIG_KEY_STRING("STRING", struct fuzz_cfg, string),
    [F_STRINGS] = MB_CONFIG_KEY_STRING_LIST("STRINGS", struct fuzz_cfg, strings, string_count),
};

static const struct mb_config_schema fuzz_schema =
    MB_CONFIG_SCHEMA(fuzz_keys, struct fuzz_cfg, present, "FZ_");

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* Both structs were zeroed before use, padding included. */
static bool same_bytes(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

static void check_size(const struct mb_size *size)
{
    if (size->unit != MB_SIZE_BYTES && size->unit != MB_SIZE_PAGES && size->unit != MB_SIZE_PERCENT)
        abort();
    if (size->unit == MB_SIZE_PERCENT && size->amount > 10000)
        abort();
    const uint64_t memtotal = UINT64_C(1) << 30;
    uint64_t bytes = 0, pages = 0;
    int rc = mb_size_resolve(size, 4096, memtotal, &bytes);
    if (rc == 0 && (size->all_except || size->unit == MB_SIZE_PERCENT) && bytes > memtotal)
        abort();
    if (rc == 0 && size->unit == MB_SIZE_BYTES && !size->all_except && bytes != size->amount)
        abort();
    int rc_pages = mb_size_resolve_pages(size, 4096, memtotal, &pages);
    if (rc == 0 && (rc_pages != 0 || pages < bytes / 4096 || pages > bytes / 4096 + 1))
        abort();
}

static void check_success(const struct fuzz_cfg *cfg)
{
    if (cfg->list_count > 4 || cfg->size_count > 3 || cfg->string_count > 3)
        abort();
    if (cfg->present[F_STRINGS] && cfg->string_count == 0)
        abort(); /* a line with the key always adds one item */
    for (size_t i = 0; i < cfg->string_count; i++) {
        if (!terminated(cfg->strings[i], sizeof(cfg->strings[i])))
            abort();
    }
    if (!terminated(cfg->string, sizeof(cfg->string)))
        abort();
    if (cfg->present[F_RANGE] && (cfg->range < 3 || cfg->range > 300))
        abort();
    for (size_t i = 0; i < cfg->list_count; i++) {
        if (cfg->list[i] > 1000000)
            abort();
    }
    check_size(&cfg->size);
    if (cfg->size.unit == MB_SIZE_PERCENT || cfg->size.all_except)
        abort(); /* the key allows neither */
    check_size(&cfg->size_all);
    for (size_t i = 0; i < cfg->size_count; i++) {
        check_size(&cfg->sizes[i]);
        if (cfg->sizes[i].all_except)
            abort();
    }
}

static void check_error(const struct mb_config_error *err, int rc, uint64_t max_line)
{
    if (rc >= 0 || err->code != rc)
        abort();
    if (!terminated(err->message, sizeof(err->message)) || err->message[0] == '\0')
        abort();
    if (!terminated(err->source, sizeof(err->source)) || !terminated(err->key, sizeof(err->key)))
        abort();
    if (err->line > max_line)
        abort();
    char text[64];
    int frc = mb_config_error_format(err, text, sizeof(text));
    if ((frc != 0 && frc != -ENOSPC) || !terminated(text, sizeof(text)) || text[0] == '\0')
        abort();
}

static void initial(struct fuzz_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->string, "dflt", 5);
    memcpy(cfg->strings[0], "dflt", 5);
    cfg->string_count = 1;
    cfg->range = 3;
}

static void parse_as_file(const uint8_t *data, size_t size)
{
    struct fuzz_cfg cfg, before, scratch;
    initial(&cfg);
    before = cfg;
    struct mb_config_error err;
    int rc = mb_config_parse_buffer(&fuzz_schema, "fuzz.cfg", (const char *)data, size, &cfg,
                                    &scratch, &err);
    if (rc == 0) {
        check_success(&cfg);
        return;
    }
    uint64_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (size > 0 && data[size - 1] != '\n')
        lines++;
    check_error(&err, rc, lines);
    if (err.line == 0 || !same_bytes(&cfg, &before, sizeof(cfg)))
        abort();
}

/* Each line of the input becomes one environment entry. */
static void parse_as_environment(const uint8_t *data, size_t size)
{
    static const size_t max_entries = 32;
    char text[8192];
    char *env[33];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    size_t entries = 0;
    char *start = text;
    for (size_t i = 0; i <= n && entries < max_entries; i++) {
        if (text[i] == '\n' || text[i] == '\0') {
            text[i] = '\0';
            env[entries++] = start;
            start = text + i + 1;
        }
    }
    env[entries] = NULL;
    struct fuzz_cfg cfg, before, scratch;
    initial(&cfg);
    before = cfg;
    struct mb_config_error err;
    int rc = mb_config_apply_env(&fuzz_schema, env, &cfg, &scratch, &err);
    if (rc == 0) {
        check_success(&cfg);
        return;
    }
    check_error(&err, rc, 0);
    if (strcmp(err.source, "environment") != 0 || !same_bytes(&cfg, &before, sizeof(cfg)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_as_file(data, size);
    parse_as_environment(data, size);
    return 0;
}
