/* config.c: key tables, the line scanner, file, buffer and environment
 * parsing, and error reporting. See config.h.
 *
 * No malloc, stdio, locale or getenv calls and no static mutable state:
 * gmalloc runs this before malloc exists. Every loop is bounded by the
 * input's length, the table's size or MB_CONFIG_MAX_LINES.
 */
#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/strbuf.h"

/* How many bytes of a bad value an error message quotes. */
#define SHOWN_VALUE_BYTES 48

/* One parse of one source (a file, a buffer or the environment) into the
 * caller's scratch copy. */
struct parse_run {
    const struct mb_config_schema *schema;
    void *target;
    struct mb_config_error *err;
    const char *source;
    uint32_t line;
    uint32_t first_seen[MB_CONFIG_MAX_KEYS]; /* line (or variable index) + 1; 0 = not yet */
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void *member_at(void *base, size_t offset)
{
    return (char *)base + offset;
}

/* Fills the fixed fields of err and returns a builder for its message. */
static void error_start(struct mb_config_error *err, struct mb_strbuf *msg, int code,
                        const char *source, uint32_t line, const char *key, size_t key_len)
{
    err->code = code;
    err->line = line;
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, err->source, sizeof(err->source));
    size_t source_len = source ? strlen(source) : 0;
    if (source_len < sizeof(err->source)) {
        mb_strbuf_append_n(&sb, source, source_len);
    } else {
        /* The end of a path names the file; keep it. */
        size_t keep = sizeof(err->source) - 4;
        mb_strbuf_append(&sb, "...");
        mb_strbuf_append_n(&sb, source + source_len - keep, keep);
    }
    mb_strbuf_init(&sb, err->key, sizeof(err->key));
    mb_strbuf_append_n(&sb, key, key ? key_len : 0);
    mb_strbuf_init(msg, err->message, sizeof(err->message));
}

static int schema_error(struct mb_config_error *err, size_t index, const char *name,
                        const char *what)
{
    struct mb_strbuf msg;
    error_start(err, &msg, -EINVAL, "", 0, name, name ? strlen(name) : 0);
    mb_strbuf_append(&msg, "invalid key table");
    if (index != SIZE_MAX) {
        mb_strbuf_append(&msg, " entry ");
        mb_strbuf_append_u64(&msg, index);
    }
    mb_strbuf_append(&msg, ": ");
    mb_strbuf_append(&msg, what);
    return -EINVAL;
}

static bool fits(size_t offset, size_t size, size_t total)
{
    return offset <= total && size <= total - offset;
}

static bool valid_name(const char *name)
{
    size_t n = 0;
    for (; n < MB_CONFIG_NAME_MAX && name[n] != '\0'; n++) {
        char c = name[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_';
        if (!ok)
            return false;
    }
    return n > 0 && n < MB_CONFIG_NAME_MAX;
}

/* The size a scalar type's member must have (0 for arrays). */
static size_t scalar_size(enum mb_config_type type)
{
    switch (type) {
    case MB_CONFIG_U64:
    case MB_CONFIG_DURATION:
        return sizeof(uint64_t);
    case MB_CONFIG_SIZE:
        return sizeof(struct mb_size);
    case MB_CONFIG_BOOL:
        return sizeof(bool);
    default:
        return 0;
    }
}

static const char *check_key(const struct mb_config_schema *schema, const struct mb_config_key *key)
{
    if (!key->name || !valid_name(key->name))
        return "name must be 1-63 letters, digits or '_'";
    if (!fits(key->offset, key->size, schema->struct_size))
        return "destination outside the struct";
    unsigned allowed_flags = 0;
    switch (key->type) {
    case MB_CONFIG_U64:
    case MB_CONFIG_DURATION:
        allowed_flags = MB_CONFIG_RANGE;
        break;
    case MB_CONFIG_SIZE:
        allowed_flags = MB_CONFIG_PERCENT | MB_CONFIG_ALL_EXCEPT;
        break;
    case MB_CONFIG_BOOL:
    case MB_CONFIG_STRING:
    case MB_CONFIG_STRING_LIST:
        break;
    case MB_CONFIG_U64_LIST:
        allowed_flags = MB_CONFIG_RANGE;
        break;
    case MB_CONFIG_SIZE_LIST:
        allowed_flags = MB_CONFIG_PERCENT;
        break;
    default:
        return "unknown type";
    }
    if (key->flags & ~allowed_flags)
        return "flag not meaningful for this type";
    if ((key->flags & MB_CONFIG_RANGE) && key->min > key->max)
        return "min is larger than max";
    size_t want = scalar_size(key->type);
    if (want != 0 && key->size != want)
        return "destination size does not match the type";
    if (key->type == MB_CONFIG_STRING && key->size == 0)
        return "string destination has no room";
    if (key->type == MB_CONFIG_U64_LIST || key->type == MB_CONFIG_SIZE_LIST) {
        size_t item = key->type == MB_CONFIG_U64_LIST ? sizeof(uint64_t) : sizeof(struct mb_size);
        if (key->size < item || key->size % item != 0)
            return "list destination is not an array of its item type";
        if (key->count_size != sizeof(size_t) ||
            !fits(key->count_offset, key->count_size, schema->struct_size))
            return "list count must be a size_t inside the struct";
    }
    if (key->type == MB_CONFIG_STRING_LIST) {
        if (key->item_size == 0 || key->size < key->item_size || key->size % key->item_size != 0)
            return "string list destination is not an array of char arrays";
        if (key->count_size != sizeof(size_t) ||
            !fits(key->count_offset, key->count_size, schema->struct_size))
            return "list count must be a size_t inside the struct";
    }
    return NULL;
}

int mb_config_schema_check(const struct mb_config_schema *schema, struct mb_config_error *err)
{
    struct mb_config_error ignored;
    if (!err)
        err = &ignored;
    if (!schema || (!schema->keys && schema->key_count > 0))
        return schema_error(err, SIZE_MAX, NULL, "no table");
    if (schema->key_count > MB_CONFIG_MAX_KEYS)
        return schema_error(err, SIZE_MAX, NULL, "more than 64 keys");
    if (schema->present_size != schema->key_count * sizeof(bool) ||
        !fits(schema->present_offset, schema->present_size, schema->struct_size))
        return schema_error(err, SIZE_MAX, NULL, "present[] must be one bool per key");
    for (size_t i = 0; i < schema->key_count; i++) {
        const struct mb_config_key *key = &schema->keys[i];
        const char *problem = check_key(schema, key);
        if (problem)
            return schema_error(err, i, key->name && valid_name(key->name) ? key->name : NULL,
                                problem);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(schema->keys[j].name, key->name) == 0)
                return schema_error(err, i, key->name, "name used twice");
        }
    }
    return 0;
}

int mb_config_find_key(const struct mb_config_schema *schema, const char *name, size_t len)
{
    for (size_t i = 0; i < schema->key_count; i++) {
        const char *key = schema->keys[i].name;
        /* strncmp stops at len, so the key must also end exactly there. */
        if (strncmp(key, name, len) == 0 && key[len] == '\0' && memchr(name, '\0', len) == NULL)
            return (int)i;
    }
    return -1;
}

static void range_text(struct mb_strbuf *why, const struct mb_config_key *key)
{
    const char *unit = key->type == MB_CONFIG_DURATION ? "ms" : "";
    mb_strbuf_append(why, "out of range (min ");
    mb_strbuf_append_u64(why, key->min);
    mb_strbuf_append(why, unit);
    mb_strbuf_append(why, ", max ");
    mb_strbuf_append_u64(why, key->max);
    mb_strbuf_append(why, unit);
    mb_strbuf_append(why, ")");
}

static bool in_range(const struct mb_config_key *key, uint64_t v)
{
    return !(key->flags & MB_CONFIG_RANGE) || (v >= key->min && v <= key->max);
}

/* Appends one value to a string list. `first` (the key's first line in
 * this source) starts the list afresh. */
static int append_string(const struct mb_config_key *key, void *target, const char *value,
                         size_t len, bool first, struct mb_strbuf *why)
{
    size_t count = 0, capacity = key->size / key->item_size;
    if (!first)
        memcpy(&count, member_at(target, key->count_offset), sizeof(count));
    if (count >= capacity) {
        mb_strbuf_append(why, "more than ");
        mb_strbuf_append_u64(why, capacity);
        mb_strbuf_append(why, capacity == 1 ? " line with this key" : " lines with this key");
        return -EINVAL;
    }
    char *item = (char *)member_at(target, key->offset) + count * key->item_size;
    int rc = mb_value_copy_string(value, len, item, key->item_size, why);
    if (rc < 0)
        return rc;
    count++;
    memcpy(member_at(target, key->count_offset), &count, sizeof(count));
    return 0;
}

/* Parses a value into the key's member of target. On error returns a
 * negative errno with the reason in why. */
static int assign(const struct mb_config_key *key, void *target, const char *value, size_t len,
                  bool first, struct mb_strbuf *why)
{
    void *dest = member_at(target, key->offset);
    int rc = 0;
    switch (key->type) {
    case MB_CONFIG_U64:
    case MB_CONFIG_DURATION: {
        uint64_t v = 0;
        rc = key->type == MB_CONFIG_U64
                 ? mb_value_parse_u64(value, len, &v, why)
                 : mb_value_parse_duration(value, len, key->default_unit, &v, why);
        if (rc == 0 && !in_range(key, v)) {
            range_text(why, key);
            rc = -ERANGE;
        }
        if (rc == 0)
            memcpy(dest, &v, sizeof(v));
        break;
    }
    case MB_CONFIG_SIZE: {
        struct mb_size v;
        rc = mb_value_parse_size(value, len, key->flags, &v, why);
        if (rc == 0)
            memcpy(dest, &v, sizeof(v));
        break;
    }
    case MB_CONFIG_BOOL: {
        bool v = false;
        rc = mb_value_parse_bool(value, len, &v, why);
        if (rc == 0)
            memcpy(dest, &v, sizeof(v));
        break;
    }
    case MB_CONFIG_U64_LIST: {
        size_t count = 0, capacity = key->size / sizeof(uint64_t);
        uint64_t *items = dest;
        rc = mb_value_parse_u64_list(value, len, items, capacity, &count, why);
        for (size_t i = 0; rc == 0 && i < count; i++) {
            if (!in_range(key, items[i])) {
                mb_strbuf_append(why, "item ");
                mb_strbuf_append_u64(why, i + 1);
                mb_strbuf_append(why, ": ");
                range_text(why, key);
                rc = -ERANGE;
            }
        }
        if (rc == 0)
            memcpy(member_at(target, key->count_offset), &count, sizeof(count));
        break;
    }
    case MB_CONFIG_SIZE_LIST: {
        size_t count = 0, capacity = key->size / sizeof(struct mb_size);
        rc = mb_value_parse_size_list(value, len, key->flags, dest, capacity, &count, why);
        if (rc == 0)
            memcpy(member_at(target, key->count_offset), &count, sizeof(count));
        break;
    }
    case MB_CONFIG_STRING:
        rc = mb_value_copy_string(value, len, dest, key->size, why);
        break;
    case MB_CONFIG_STRING_LIST:
        rc = append_string(key, target, value, len, first, why);
        break;
    default:
        mb_strbuf_append(why, "unknown type");
        rc = -EINVAL;
        break;
    }
    return rc;
}

/* Checks a line or variable value for bytes no config text may hold.
 * Returns the offending index, or len when all are fine. */
static size_t find_bad_byte(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return i;
    }
    return len;
}

static int bad_byte_error(struct parse_run *run, const char *key, size_t key_len, const char *s,
                          size_t at)
{
    static const char hex[] = "0123456789abcdef";
    struct mb_strbuf msg;
    unsigned char c = (unsigned char)s[at];
    error_start(run->err, &msg, -EINVAL, run->source, run->line, key, key_len);
    if (c == 0) {
        mb_strbuf_append(&msg, "NUL byte");
    } else {
        char code[4] = {'0', 'x', hex[c >> 4], hex[c & 0xf]};
        mb_strbuf_append(&msg, "control character ");
        mb_strbuf_append_n(&msg, code, sizeof(code));
    }
    mb_strbuf_append(&msg, " at column ");
    mb_strbuf_append_u64(&msg, at + 1);
    return -EINVAL;
}

/* Splits and assigns the text that follows a key (or an environment
 * variable's '='). name is what errors call the key; first tells whether
 * this is the key's first line in this source. */
static int set_key(struct parse_run *run, size_t index, const char *name, size_t name_len,
                   const char *text, size_t text_len, bool first)
{
    const struct mb_config_key *key = &run->schema->keys[index];
    char reason[MB_CONFIG_MESSAGE_MAX];
    struct mb_strbuf why;
    mb_strbuf_init(&why, reason, sizeof(reason));
    const char *value = NULL;
    size_t value_len = 0;
    bool quoted = false;
    int rc = mb_value_split(text, text_len, &value, &value_len, &quoted, &why);
    bool show_value = rc == 0;
    if (rc == 0 && value_len == 0 && !quoted) {
        mb_strbuf_append(&why, "missing value");
        show_value = false;
        rc = -EINVAL;
    } else if (rc == 0 && quoted && key->type != MB_CONFIG_STRING &&
               key->type != MB_CONFIG_STRING_LIST) {
        mb_strbuf_append(&why, "quotes are only for string values");
        rc = -EINVAL;
    } else if (rc == 0) {
        rc = assign(key, run->target, value, value_len, first, &why);
    }
    if (rc == 0) {
        bool yes = true;
        memcpy(member_at(run->target, run->schema->present_offset + index), &yes, sizeof(yes));
        return 0;
    }
    struct mb_strbuf msg;
    error_start(run->err, &msg, rc, run->source, run->line, name, name_len);
    if (show_value) {
        mb_strbuf_append_char(&msg, '"');
        mb_strbuf_append_printable(&msg, value, value_len, SHOWN_VALUE_BYTES);
        mb_strbuf_append(&msg, "\": ");
    }
    mb_strbuf_append(&msg, reason);
    return rc;
}

static int line_too_long(struct parse_run *run)
{
    struct mb_strbuf msg;
    error_start(run->err, &msg, -EINVAL, run->source, run->line, NULL, 0);
    mb_strbuf_append(&msg, "line longer than ");
    mb_strbuf_append_u64(&msg, MB_CONFIG_LINE_MAX);
    mb_strbuf_append(&msg, " bytes");
    return -EINVAL;
}

/* Counts a new line; refuses inputs with more than MB_CONFIG_MAX_LINES. */
static int next_line(struct parse_run *run)
{
    run->line++;
    if (run->line <= MB_CONFIG_MAX_LINES)
        return 0;
    struct mb_strbuf msg;
    error_start(run->err, &msg, -EINVAL, run->source, run->line, NULL, 0);
    mb_strbuf_append(&msg, "more than ");
    mb_strbuf_append_u64(&msg, MB_CONFIG_MAX_LINES);
    mb_strbuf_append(&msg, " lines");
    return -EINVAL;
}

/* Handles one line (without its '\n'); run->line is its number. */
static int handle_line(struct parse_run *run, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > MB_CONFIG_LINE_MAX)
        return line_too_long(run);
    size_t bad = find_bad_byte(line, len);
    if (bad < len)
        return bad_byte_error(run, NULL, 0, line, bad);

    size_t i = 0;
    while (i < len && is_blank(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return 0;
    const char *name = line + i;
    while (i < len && !is_blank(line[i]))
        i++;
    size_t name_len = (size_t)(line + i - name);

    int index = mb_config_find_key(run->schema, name, name_len);
    if (index < 0) {
        struct mb_strbuf msg;
        error_start(run->err, &msg, -EINVAL, run->source, run->line, name, name_len);
        mb_strbuf_append(&msg, "unknown key");
        return -EINVAL;
    }
    bool first = run->first_seen[index] == 0;
    if (!first && run->schema->keys[index].type != MB_CONFIG_STRING_LIST) {
        struct mb_strbuf msg;
        error_start(run->err, &msg, -EINVAL, run->source, run->line, name, name_len);
        mb_strbuf_append(&msg, "set again (first set on line ");
        mb_strbuf_append_u64(&msg, run->first_seen[index]);
        mb_strbuf_append(&msg, ")");
        return -EINVAL;
    }
    if (first)
        run->first_seen[index] = run->line;
    return set_key(run, (size_t)index, name, name_len, line + i, len - i, first);
}

static int parse_lines(struct parse_run *run, const char *buf, size_t len)
{
    size_t start = 0;
    while (start < len) {
        const char *newline = memchr(buf + start, '\n', len - start);
        size_t end = newline ? (size_t)(newline - buf) : len;
        int rc = next_line(run);
        if (rc == 0)
            rc = handle_line(run, buf + start, end - start);
        if (rc < 0)
            return rc;
        start = end + 1;
    }
    return 0;
}

static int file_error(struct parse_run *run, const char *what, int errnum)
{
    struct mb_strbuf msg;
    error_start(run->err, &msg, -errnum, run->source, 0, NULL, 0);
    mb_strbuf_append(&msg, what);
    mb_strbuf_append(&msg, ": ");
    mb_strbuf_append_errno(&msg, errnum);
    return -errnum;
}

/* Streams the file through a buffer that holds one longest line plus its
 * "\r\n", handling every complete line after each read. */
static int parse_fd(struct parse_run *run, int fd)
{
    char buf[MB_CONFIG_LINE_MAX + 2];
    size_t have = 0;
    for (;;) {
        ssize_t got = read(fd, buf + have, sizeof(buf) - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return file_error(run, "cannot read", errno);
        have += (size_t)got;

        size_t start = 0;
        const char *newline;
        while ((newline = memchr(buf + start, '\n', have - start)) != NULL) {
            size_t end = (size_t)(newline - buf);
            int rc = next_line(run);
            if (rc == 0)
                rc = handle_line(run, buf + start, end - start);
            if (rc < 0)
                return rc;
            start = end + 1;
        }
        if (got == 0) {
            if (start == have)
                return 0;
            int rc = next_line(run);
            return rc < 0 ? rc : handle_line(run, buf + start, have - start);
        }
        if (start == 0 && have == sizeof(buf)) {
            /* Even without a final '\r' the line has more than the limit. */
            int rc = next_line(run);
            return rc < 0 ? rc : line_too_long(run);
        }
        memmove(buf, buf + start, have - start);
        have -= start;
    }
}

/* Starts a run into scratch, a copy of dest. */
static int run_start(struct parse_run *run, const struct mb_config_schema *schema, const char *source,
                     const void *dest, void *scratch, struct mb_config_error *err)
{
    memset(run, 0, sizeof(*run));
    run->schema = schema;
    run->target = scratch;
    run->err = err;
    run->source = source;
    int rc = mb_config_schema_check(schema, err);
    if (rc < 0)
        return rc;
    if (!dest || !scratch)
        return schema_error(err, SIZE_MAX, NULL, "dest and scratch are required");
    uintptr_t d = (uintptr_t)dest, s = (uintptr_t)scratch;
    if ((d <= s && s - d < schema->struct_size) || (s <= d && d - s < schema->struct_size))
        return schema_error(err, SIZE_MAX, NULL, "scratch overlaps dest");
    memmove(scratch, dest, schema->struct_size);
    return 0;
}

static void clear_error(struct mb_config_error *err)
{
    memset(err, 0, sizeof(*err));
}

static int file_into(struct parse_run *run, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return file_error(run, "cannot open", errno);
    int rc = parse_fd(run, fd);
    close(fd);
    return rc;
}

/* The name part of "NAME=value" when NAME is prefix + a key; -1 otherwise. */
static int env_key(const struct mb_config_schema *schema, const char *entry, size_t prefix_len,
                   size_t *name_len)
{
    if (strncmp(entry, schema->env_prefix, prefix_len) != 0)
        return -1;
    size_t n = prefix_len;
    /* Longer names cannot be a key, so stop looking for '=' there. */
    while (n < prefix_len + MB_CONFIG_NAME_MAX && entry[n] != '\0' && entry[n] != '=')
        n++;
    if (entry[n] != '=')
        return -1;
    *name_len = n;
    return mb_config_find_key(schema, entry + prefix_len, n - prefix_len);
}

static int env_into(struct parse_run *run, char *const *envp)
{
    const struct mb_config_schema *schema = run->schema;
    if (!envp || !schema->env_prefix || schema->env_prefix[0] == '\0')
        return 0;
    size_t prefix_len = strlen(schema->env_prefix);
    memset(run->first_seen, 0, sizeof(run->first_seen));
    run->source = "environment";
    run->line = 0;
    for (size_t v = 0; envp[v] != NULL; v++) {
        const char *entry = envp[v];
        size_t name_len = 0;
        int index = env_key(schema, entry, prefix_len, &name_len);
        if (index < 0)
            continue;
        const char *value = entry + name_len + 1;
        size_t value_len = strnlen(value, MB_CONFIG_LINE_MAX + 1);
        struct mb_strbuf msg;
        if (value_len > MB_CONFIG_LINE_MAX) {
            error_start(run->err, &msg, -EINVAL, run->source, 0, entry, name_len);
            mb_strbuf_append(&msg, "value longer than ");
            mb_strbuf_append_u64(&msg, MB_CONFIG_LINE_MAX);
            mb_strbuf_append(&msg, " bytes");
            return -EINVAL;
        }
        size_t bad = find_bad_byte(value, value_len);
        if (bad < value_len)
            return bad_byte_error(run, entry, name_len, value, bad);
        if (run->first_seen[index] != 0) {
            error_start(run->err, &msg, -EINVAL, run->source, 0, entry, name_len);
            mb_strbuf_append(&msg, "set twice in the environment");
            return -EINVAL;
        }
        run->first_seen[index] = 1;
        int rc = set_key(run, (size_t)index, entry, name_len, value, value_len, true);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Copies the finished scratch over dest, or reports the failure. */
static int run_finish(const struct parse_run *run, int rc, void *dest)
{
    if (rc == 0) {
        memmove(dest, run->target, run->schema->struct_size);
        clear_error(run->err);
    }
    return rc;
}

int mb_config_parse_buffer(const struct mb_config_schema *schema, const char *name, const char *buf,
                           size_t len, void *dest, void *scratch, struct mb_config_error *err)
{
    struct mb_config_error ignored;
    struct parse_run run;
    if (!err)
        err = &ignored;
    const char *source = name ? name : "(buffer)";
    int rc = run_start(&run, schema, source, dest, scratch, err);
    if (rc < 0)
        return rc;
    if (!buf && len > 0)
        return schema_error(err, SIZE_MAX, NULL, "no buffer");
    rc = parse_lines(&run, buf, len);
    return run_finish(&run, rc, dest);
}

int mb_config_parse_file(const struct mb_config_schema *schema, const char *path, void *dest,
                         void *scratch, struct mb_config_error *err)
{
    return mb_config_load(schema, path ? path : "", NULL, dest, scratch, err);
}

int mb_config_apply_env(const struct mb_config_schema *schema, char *const *envp, void *dest,
                        void *scratch, struct mb_config_error *err)
{
    return mb_config_load(schema, NULL, envp, dest, scratch, err);
}

int mb_config_load(const struct mb_config_schema *schema, const char *path, char *const *envp,
                   void *dest, void *scratch, struct mb_config_error *err)
{
    struct mb_config_error ignored;
    struct parse_run run;
    if (!err)
        err = &ignored;
    int rc = run_start(&run, schema, path ? path : "environment", dest, scratch, err);
    if (rc < 0)
        return rc;
    if (path)
        rc = file_into(&run, path);
    if (rc == 0)
        rc = env_into(&run, envp);
    return run_finish(&run, rc, dest);
}

int mb_config_error_format(const struct mb_config_error *err, char *buf, size_t cap)
{
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, buf, cap);
    if (err->source[0] != '\0') {
        mb_strbuf_append(&sb, err->source);
        if (err->line > 0) {
            mb_strbuf_append_char(&sb, ':');
            mb_strbuf_append_u64(&sb, err->line);
        }
        mb_strbuf_append(&sb, ": ");
    }
    if (err->key[0] != '\0') {
        mb_strbuf_append(&sb, err->key);
        mb_strbuf_append(&sb, ": ");
    }
    mb_strbuf_append(&sb, err->message[0] != '\0' ? err->message : "no error");
    return mb_strbuf_truncated(&sb) ? -ENOSPC : 0;
}
