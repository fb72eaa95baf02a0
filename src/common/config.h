/* config.h: table-driven parser for membroker config files and environment
 * overrides, shared by every program (mbserver, gmalloc, trackfs, tools).
 *
 * A program declares its keys once, as a const table that says where each
 * value goes in the program's own config struct:
 *
 *     enum { GM_POOL_SIZE, GM_SLAB_SIZES, GM_DUMP_FILE, GM_KEY_COUNT };
 *     struct gm_config {
 *         struct mb_size pool_size;
 *         uint64_t slab_sizes[16];
 *         size_t slab_size_count;
 *         char dump_file[256];
 *         bool present[GM_KEY_COUNT];   // which keys the input set
 *     };
 *     static const struct mb_config_key gm_keys[] = {
 *         [GM_POOL_SIZE] = MB_CONFIG_KEY_SIZE("POOL_SIZE", struct gm_config, pool_size, 0),
 *         [GM_SLAB_SIZES] = MB_CONFIG_KEY_U64_LIST("SLAB_SIZES", struct gm_config,
 *                                                  slab_sizes, slab_size_count),
 *         [GM_DUMP_FILE] = MB_CONFIG_KEY_STRING("DUMP_FILE", struct gm_config, dump_file),
 *     };
 *     static const struct mb_config_schema gm_schema =
 *         MB_CONFIG_SCHEMA(gm_keys, struct gm_config, present, "GMALLOC_");
 *
 *     struct gm_config cfg = gm_defaults, scratch;
 *     struct mb_config_error err;
 *     if (mb_config_load(&gm_schema, path, environ, &cfg, &scratch, &err) < 0)
 *         ... mb_config_error_format(&err, text, sizeof(text)) ...
 *
 * The caller fills its struct with defaults first; the parser overwrites
 * only the keys the input sets and marks them in the present[] array (one
 * bool per key, indexed like the table), so 0 and "absent" stay distinct.
 *
 * All or nothing: every parse function works on the caller's scratch copy
 * and copies it over the destination only when the whole input parsed, so
 * on any error the destination is exactly as it was (gmalloc then keeps its
 * documented defaults). Parsing stops at the first error.
 *
 * Heap-free, stdio-free, locale-free and without static mutable state:
 * gmalloc calls this before malloc exists. Files are read with open/read
 * through a stack buffer of about MB_CONFIG_LINE_MAX bytes, so any file
 * size needs bounded memory (a parse uses under 6 KiB of stack). docs/config.md, "File format", documents the
 * syntax for users.
 */
#ifndef MB_COMMON_CONFIG_H
#define MB_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config_value.h"

/* The longest line, in bytes, without its "\n" or "\r\n" ending. The same
 * limit applies to the value of an environment variable. */
#define MB_CONFIG_LINE_MAX 4096
/* A file with more lines than this is refused (bounds a read from a pipe). */
#define MB_CONFIG_MAX_LINES 1000000u
/* The most keys one table may have. */
#define MB_CONFIG_MAX_KEYS 64
/* Sizes of the text fields of struct mb_config_error, NUL included. */
#define MB_CONFIG_SOURCE_MAX 128
#define MB_CONFIG_NAME_MAX 64
#define MB_CONFIG_MESSAGE_MAX 256

enum mb_config_type {
    /* 0 is left out so that a zeroed table entry is reported as invalid. */
    MB_CONFIG_U64 = 1,   /* uint64_t */
    MB_CONFIG_SIZE,      /* struct mb_size */
    MB_CONFIG_DURATION,  /* uint64_t, milliseconds */
    MB_CONFIG_BOOL,      /* bool */
    MB_CONFIG_U64_LIST,  /* uint64_t[N] plus a size_t count */
    MB_CONFIG_SIZE_LIST, /* struct mb_size[N] plus a size_t count */
    MB_CONFIG_STRING,    /* char[N], NUL-terminated, at most N-1 bytes */
    MB_CONFIG_STRING_LIST, /* char[N][M] plus a size_t count: the key may repeat, each
                              line adds one string (see below) */
};

/* Key flags. */
#define MB_CONFIG_PERCENT MB_SIZE_ALLOW_PERCENT       /* sizes: "12.5%" allowed */
#define MB_CONFIG_ALL_EXCEPT MB_SIZE_ALLOW_ALL_EXCEPT /* size: "all-except 64M" allowed */
#define MB_CONFIG_RANGE 0x100u /* U64, DURATION (in ms), U64_LIST items: min <= v <= max */

/* One key of a table. Declare entries with the MB_CONFIG_KEY_* macros
 * below, which fill offsets and sizes from the struct itself. */
struct mb_config_key {
    const char *name;         /* exact, case-sensitive: letters, digits and '_' */
    enum mb_config_type type;
    unsigned flags;           /* MB_CONFIG_PERCENT, MB_CONFIG_ALL_EXCEPT, MB_CONFIG_RANGE */
    size_t offset;            /* of the destination member in the caller's struct */
    size_t size;              /* sizeof that member (the whole array for lists and strings) */
    size_t count_offset;      /* lists: of the size_t item count */
    size_t count_size;        /* lists: sizeof that count */
    uint64_t min, max;        /* with MB_CONFIG_RANGE */
    enum mb_duration_unit default_unit; /* durations written without a suffix */
    size_t item_size;         /* string lists: sizeof one string (M of char[N][M]) */
};

#define MB_CONFIG_MEMBER_SIZE(T, m) sizeof(((T *)0)->m)
#define MB_CONFIG_DEST_(T, m) .offset = offsetof(T, m), .size = MB_CONFIG_MEMBER_SIZE(T, m)
#define MB_CONFIG_COUNT_(T, c) .count_offset = offsetof(T, c), .count_size = MB_CONFIG_MEMBER_SIZE(T, c)

#define MB_CONFIG_KEY_U64(name_, T, m) \
    {.name = (name_), .type = MB_CONFIG_U64, MB_CONFIG_DEST_(T, m)}
#define MB_CONFIG_KEY_U64_RANGE(name_, T, m, min_, max_)                            \
    {.name = (name_), .type = MB_CONFIG_U64, .flags = MB_CONFIG_RANGE, MB_CONFIG_DEST_(T, m), \
     .min = (min_), .max = (max_)}
#define MB_CONFIG_KEY_SIZE(name_, T, m, flags_) \
    {.name = (name_), .type = MB_CONFIG_SIZE, .flags = (flags_), MB_CONFIG_DEST_(T, m)}
#define MB_CONFIG_KEY_DURATION(name_, T, m, unit_) \
    {.name = (name_), .type = MB_CONFIG_DURATION, MB_CONFIG_DEST_(T, m), .default_unit = (unit_)}
#define MB_CONFIG_KEY_DURATION_RANGE(name_, T, m, unit_, min_ms, max_ms)                 \
    {.name = (name_), .type = MB_CONFIG_DURATION, .flags = MB_CONFIG_RANGE,                 \
     MB_CONFIG_DEST_(T, m), .min = (min_ms), .max = (max_ms), .default_unit = (unit_)}
#define MB_CONFIG_KEY_BOOL(name_, T, m) \
    {.name = (name_), .type = MB_CONFIG_BOOL, MB_CONFIG_DEST_(T, m)}
#define MB_CONFIG_KEY_U64_LIST(name_, T, array, count) \
    {.name = (name_), .type = MB_CONFIG_U64_LIST, MB_CONFIG_DEST_(T, array), MB_CONFIG_COUNT_(T, count)}
#define MB_CONFIG_KEY_U64_LIST_RANGE(name_, T, array, count, min_, max_)                 \
    {.name = (name_), .type = MB_CONFIG_U64_LIST, .flags = MB_CONFIG_RANGE,                 \
     MB_CONFIG_DEST_(T, array), MB_CONFIG_COUNT_(T, count), .min = (min_), .max = (max_)}
#define MB_CONFIG_KEY_SIZE_LIST(name_, T, array, count, flags_)                          \
    {.name = (name_), .type = MB_CONFIG_SIZE_LIST, .flags = (flags_), MB_CONFIG_DEST_(T, array), \
     MB_CONFIG_COUNT_(T, count)}
#define MB_CONFIG_KEY_STRING(name_, T, m) \
    {.name = (name_), .type = MB_CONFIG_STRING, MB_CONFIG_DEST_(T, m)}
/* A repeatable key: `array` is char[N][M], `count` a size_t. Each line
 * with the key appends its value (trimmed, or quoted like a string) as the
 * next item, so "CLASS a" and "CLASS b" give {"a", "b"}, count 2. Within
 * one source the first occurrence replaces what dest held (defaults, or
 * the file's list when the environment sets the key: an environment
 * variable replaces the list with its one value). More than N lines, or a
 * value of M bytes or more, is an error naming the line. */
#define MB_CONFIG_KEY_STRING_LIST(name_, T, array, count)                                \
    {.name = (name_), .type = MB_CONFIG_STRING_LIST, MB_CONFIG_DEST_(T, array),            \
     MB_CONFIG_COUNT_(T, count), .item_size = sizeof(*((T *)0)->array)}

/* A program's whole table. */
struct mb_config_schema {
    const struct mb_config_key *keys;
    size_t key_count;      /* at most MB_CONFIG_MAX_KEYS */
    size_t struct_size;    /* sizeof the caller's config struct */
    size_t present_offset; /* of its bool present[key_count] */
    size_t present_size;   /* sizeof that array */
    const char *env_prefix; /* "GMALLOC_": GMALLOC_POOL_SIZE overrides POOL_SIZE; NULL: none */
};

#define MB_CONFIG_SCHEMA(keys_, T, present_, prefix_)                                    \
    {.keys = (keys_), .key_count = sizeof(keys_) / sizeof((keys_)[0]), .struct_size = sizeof(T), \
     .present_offset = offsetof(T, present_), .present_size = MB_CONFIG_MEMBER_SIZE(T, present_), \
     .env_prefix = (prefix_)}

/* The first error of a parse. Formatted by mb_config_error_format as
 * "source:line: key: message", leaving out an empty key and a zero line:
 *   /etc/gmalloc.cfg:12: POOL_SIZE: "12Q": unknown size suffix 'Q' (use K, M, G, T or p)
 *   /etc/gmalloc.cfg: cannot open: No such file or directory
 *   environment: GMALLOC_POOL_SIZE: "4X": unknown size suffix 'X' (use K, M, G, T or p) */
struct mb_config_error {
    int code;      /* the negative errno the parse returned; 0 when there was no error */
    uint32_t line; /* 1-based line in source; 0 when the error is not about one line */
    char source[MB_CONFIG_SOURCE_MAX]; /* file path ("..." + its tail when too long), the
                                          buffer's name, or "environment" */
    char key[MB_CONFIG_NAME_MAX];      /* key or variable as written (cut to fit); "" if none */
    char message[MB_CONFIG_MESSAGE_MAX];
};

/* Checks a table: names valid and unique, destinations inside the struct
 * and of the size their type needs, flags meaningful for the type,
 * min <= max. The parse functions run this first. Returns 0 or -EINVAL
 * (err says which key is wrong; err may be NULL). */
int mb_config_schema_check(const struct mb_config_schema *schema, struct mb_config_error *err);

/* The index of the key named name[0..len) (exact, case-sensitive), or -1. */
int mb_config_find_key(const struct mb_config_schema *schema, const char *name, size_t len);

/* The parse functions below share these rules:
 * - dest is the caller's struct, holding defaults or an earlier result;
 *   scratch is storage of schema->struct_size bytes that must not overlap
 *   it. On success dest holds the new values and present[i] is set for each
 *   key the input set (flags set before stay set). On error dest is
 *   unchanged and scratch holds garbage.
 * - A key set twice in one input is an error naming both lines, except a
 *   MB_CONFIG_STRING_LIST key, which may repeat (up to its array's length).
 * - Returns 0, or a negative errno with err filled (err may be NULL):
 *   -EINVAL for an invalid table or arguments and for any malformed input
 *   (unknown key, bad value, duplicate, long line, NUL byte, too many list
 *   items, string too long), -ERANGE for a number that overflows 64 bits or
 *   leaves the key's range, or the errno of open/read for a file. */

/* Parses buf[0..len) (need not be NUL-terminated). name is used in error
 * messages as the source (NULL: "(buffer)"). Does not block. */
int mb_config_parse_buffer(const struct mb_config_schema *schema, const char *name, const char *buf,
                           size_t len, void *dest, void *scratch, struct mb_config_error *err);

/* Reads and parses the file at path. Blocks on open/read (a FIFO blocks
 * until written). */
int mb_config_parse_file(const struct mb_config_schema *schema, const char *path, void *dest,
                         void *scratch, struct mb_config_error *err);

/* Applies overrides from envp (a NULL-terminated "NAME=value" array such as
 * environ; never read through getenv): each variable named env_prefix + a
 * key sets that key with the file value syntax. Variables with the prefix
 * that name no key are ignored (GMALLOC_CFG names the file, for one). A
 * variable given twice is an error. Errors have source "environment", line
 * 0 and the variable's name as the key. Does nothing (returns 0) when the
 * schema has no prefix. Does not block. */
int mb_config_apply_env(const struct mb_config_schema *schema, char *const *envp, void *dest,
                        void *scratch, struct mb_config_error *err);

/* The usual start of a program: parses path (skipped when NULL), then the
 * environment overrides (skipped when envp is NULL), all or nothing. A key
 * set by both takes the environment's value. Blocks like
 * mb_config_parse_file. */
int mb_config_load(const struct mb_config_schema *schema, const char *path, char *const *envp,
                   void *dest, void *scratch, struct mb_config_error *err);

/* Writes err as one line (no newline) into buf[0..cap), always
 * NUL-terminated when cap > 0. Returns 0, or -ENOSPC when the text was cut
 * to fit. Does not block. */
int mb_config_error_format(const struct mb_config_error *err, char *buf, size_t cap);

#endif
