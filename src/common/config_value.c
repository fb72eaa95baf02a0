/* config_value.c: see config_value.h. No malloc, stdio or locale calls. */
#include "common/config_value.h"

#include <errno.h>
#include <string.h>

#include "common/numparse.h"

/* How much of an offending tail or list item a message quotes. */
#define SHOWN_BYTES 16

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static void say(struct mb_strbuf *why, const char *text)
{
    if (why)
        mb_strbuf_append(why, text);
}

/* Appends "'<tail>'" with unprintable bytes escaped. */
static void say_quoted(struct mb_strbuf *why, const char *s, size_t n)
{
    if (!why)
        return;
    mb_strbuf_append_char(why, '\'');
    mb_strbuf_append_printable(why, s, n, SHOWN_BYTES);
    mb_strbuf_append_char(why, '\'');
}

static bool text_is(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len == n && memcmp(s, word, n) == 0;
}

/* Parses the leading digits of s. Returns how many characters they take
 * (at least 1), or a negative errno with the reason said. */
static int leading_number(const char *s, size_t len, uint64_t *out, struct mb_strbuf *why)
{
    if (len == 0) {
        say(why, "missing value");
        return -EINVAL;
    }
    if (!is_digit(s[0])) {
        say(why, s[0] == '-' ? "negative numbers are not allowed" : "not a number");
        return -EINVAL;
    }
    int used = mb_parse_u64_prefix(s, len, out);
    if (used < 0) {
        say(why, "too large for 64 bits");
        return -ERANGE;
    }
    return used;
}

int mb_value_parse_u64(const char *s, size_t len, uint64_t *out, struct mb_strbuf *why)
{
    uint64_t value = 0;
    int used = leading_number(s, len, &value, why);
    if (used < 0)
        return used;
    if ((size_t)used != len) {
        say(why, "unexpected ");
        say_quoted(why, s + used, len - (size_t)used);
        say(why, " after the number");
        return -EINVAL;
    }
    *out = value;
    return 0;
}

struct size_suffix {
    const char *text;
    uint64_t multiplier;
};

static const struct size_suffix size_suffixes[] = {
    {"", 1},
    {"K", UINT64_C(1) << 10},
    {"k", UINT64_C(1) << 10},
    {"KiB", UINT64_C(1) << 10},
    {"M", UINT64_C(1) << 20},
    {"MiB", UINT64_C(1) << 20},
    {"G", UINT64_C(1) << 30},
    {"GiB", UINT64_C(1) << 30},
    {"T", UINT64_C(1) << 40},
    {"TiB", UINT64_C(1) << 40},
};

/* "all-except" followed by a blank or the end of the value. */
static bool starts_all_except(const char *s, size_t len)
{
    static const char word[] = "all-except";
    size_t n = sizeof(word) - 1;
    return len >= n && memcmp(s, word, n) == 0 && (len == n || is_blank(s[n]));
}

/* A size without the all-except form. */
static int parse_plain_size(const char *s, size_t len, unsigned allow, struct mb_size *out,
                            struct mb_strbuf *why)
{
    if (starts_all_except(s, len)) {
        say(why, "all-except is not allowed here");
        return -EINVAL;
    }
    uint64_t whole = 0;
    int used = leading_number(s, len, &whole, why);
    if (used < 0)
        return used;
    size_t i = (size_t)used;

    if (i < len && s[i] == '.') {
        size_t frac_start = ++i;
        uint64_t hundredths = 0;
        while (i < len && is_digit(s[i]) && i - frac_start < 3) {
            hundredths = hundredths * 10 + (uint64_t)(s[i] - '0');
            i++;
        }
        size_t decimals = i - frac_start;
        if (decimals == 0) {
            say(why, "digit expected after '.'");
            return -EINVAL;
        }
        if (decimals > 2) {
            say(why, "at most two decimals");
            return -EINVAL;
        }
        if (i == len || s[i] != '%' || i + 1 != len) {
            say(why, "decimals are only allowed with %");
            return -EINVAL;
        }
        if (decimals == 1)
            hundredths *= 10;
        if (!(allow & MB_SIZE_ALLOW_PERCENT)) {
            say(why, "percent is not allowed here");
            return -EINVAL;
        }
        if (whole > 100 || whole * 100 + hundredths > 10000) {
            say(why, "percent over 100");
            return -ERANGE;
        }
        out->unit = MB_SIZE_PERCENT;
        out->all_except = false;
        out->amount = whole * 100 + hundredths;
        return 0;
    }

    const char *suffix = s + i;
    size_t suffix_len = len - i;
    if (text_is(suffix, suffix_len, "%")) {
        if (!(allow & MB_SIZE_ALLOW_PERCENT)) {
            say(why, "percent is not allowed here");
            return -EINVAL;
        }
        if (whole > 100) {
            say(why, "percent over 100");
            return -ERANGE;
        }
        out->unit = MB_SIZE_PERCENT;
        out->all_except = false;
        out->amount = whole * 100;
        return 0;
    }
    if (text_is(suffix, suffix_len, "p")) {
        out->unit = MB_SIZE_PAGES;
        out->all_except = false;
        out->amount = whole;
        return 0;
    }
    for (size_t k = 0; k < sizeof(size_suffixes) / sizeof(size_suffixes[0]); k++) {
        if (!text_is(suffix, suffix_len, size_suffixes[k].text))
            continue;
        uint64_t bytes = 0;
        if (mb_mul_u64(whole, size_suffixes[k].multiplier, &bytes) < 0) {
            say(why, "too large for 64 bits");
            return -ERANGE;
        }
        out->unit = MB_SIZE_BYTES;
        out->all_except = false;
        out->amount = bytes;
        return 0;
    }
    say(why, "unknown size suffix ");
    say_quoted(why, suffix, suffix_len);
    say(why, (allow & MB_SIZE_ALLOW_PERCENT) ? " (use K, M, G, T, p or %)" : " (use K, M, G, T or p)");
    return -EINVAL;
}

int mb_value_parse_size(const char *s, size_t len, unsigned allow, struct mb_size *out,
                        struct mb_strbuf *why)
{
    if (!starts_all_except(s, len))
        return parse_plain_size(s, len, allow & ~MB_SIZE_ALLOW_ALL_EXCEPT, out, why);
    if (!(allow & MB_SIZE_ALLOW_ALL_EXCEPT)) {
        say(why, "all-except is not allowed here");
        return -EINVAL;
    }
    size_t i = sizeof("all-except") - 1;
    while (i < len && is_blank(s[i]))
        i++;
    if (i == len) {
        say(why, "all-except needs a size");
        return -EINVAL;
    }
    struct mb_size inner;
    int rc = parse_plain_size(s + i, len - i, allow & ~MB_SIZE_ALLOW_ALL_EXCEPT, &inner, why);
    if (rc < 0)
        return rc;
    inner.all_except = true;
    *out = inner;
    return 0;
}

int mb_value_parse_duration(const char *s, size_t len, enum mb_duration_unit default_unit,
                            uint64_t *out_ms, struct mb_strbuf *why)
{
    uint64_t number = 0;
    int used = leading_number(s, len, &number, why);
    if (used < 0)
        return used;
    const char *suffix = s + used;
    size_t suffix_len = len - (size_t)used;
    uint64_t ms_per_unit;
    if (suffix_len == 0) {
        static const uint64_t default_ms[] = {1, 1000, 60000, 3600000};
        ms_per_unit = (unsigned)default_unit < 4 ? default_ms[default_unit] : 1;
    } else if (text_is(suffix, suffix_len, "ms")) {
        ms_per_unit = 1;
    } else if (text_is(suffix, suffix_len, "s")) {
        ms_per_unit = 1000;
    } else if (text_is(suffix, suffix_len, "m")) {
        ms_per_unit = 60000;
    } else if (text_is(suffix, suffix_len, "h")) {
        ms_per_unit = 3600000;
    } else {
        say(why, "unknown duration suffix ");
        say_quoted(why, suffix, suffix_len);
        say(why, " (use ms, s, m or h)");
        return -EINVAL;
    }
    uint64_t ms = 0;
    if (mb_mul_u64(number, ms_per_unit, &ms) < 0) {
        say(why, "too large for 64 bits");
        return -ERANGE;
    }
    *out_ms = ms;
    return 0;
}

int mb_value_parse_bool(const char *s, size_t len, bool *out, struct mb_strbuf *why)
{
    static const struct {
        const char *word;
        bool value;
    } words[] = {
        {"1", true},    {"yes", true}, {"true", true},   {"on", true},
        {"0", false},   {"no", false}, {"false", false}, {"off", false},
    };
    char lower[6];
    if (len > 0 && len < sizeof(lower)) {
        for (size_t i = 0; i < len; i++)
            lower[i] = ascii_lower(s[i]);
        for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
            if (text_is(lower, len, words[w].word)) {
                *out = words[w].value;
                return 0;
            }
        }
    }
    say(why, len == 0 ? "missing value" : "not a boolean (use 1/0, yes/no, true/false or on/off)");
    return -EINVAL;
}

/* Finds the next item of a list from *pos. Returns 1 with the item, 0 at
 * the end, or -EINVAL for an empty item. */
static int list_next(const char *s, size_t len, size_t *pos, bool first, const char **item,
                     size_t *item_len, struct mb_strbuf *why)
{
    size_t i = *pos;
    while (i < len && is_blank(s[i]))
        i++;
    if (!first && i < len && s[i] == ',') {
        i++;
        while (i < len && is_blank(s[i]))
            i++;
        if (i == len) {
            say(why, "empty list item after the last ','");
            return -EINVAL;
        }
    }
    if (i == len)
        return 0;
    if (s[i] == ',') {
        say(why, "empty list item");
        return -EINVAL;
    }
    size_t start = i;
    while (i < len && !is_blank(s[i]) && s[i] != ',')
        i++;
    *item = s + start;
    *item_len = i - start;
    *pos = i;
    return 1;
}

static void say_item(struct mb_strbuf *why, size_t index, const char *item, size_t item_len)
{
    if (!why)
        return;
    mb_strbuf_append(why, "item ");
    mb_strbuf_append_u64(why, index + 1);
    mb_strbuf_append(why, " \"");
    mb_strbuf_append_printable(why, item, item_len, SHOWN_BYTES);
    mb_strbuf_append(why, "\": ");
}

static int say_too_many(struct mb_strbuf *why, size_t max_items)
{
    if (why) {
        mb_strbuf_append(why, "more than ");
        mb_strbuf_append_u64(why, max_items);
        mb_strbuf_append(why, max_items == 1 ? " item" : " items");
    }
    return -EINVAL;
}

int mb_value_parse_u64_list(const char *s, size_t len, uint64_t *items, size_t max_items,
                            size_t *count, struct mb_strbuf *why)
{
    size_t pos = 0, n = 0;
    const char *item = NULL;
    size_t item_len = 0;
    int rc;
    /* Each round consumes at least one byte of s, so this ends. */
    while ((rc = list_next(s, len, &pos, n == 0, &item, &item_len, why)) > 0) {
        if (n == max_items)
            return say_too_many(why, max_items);
        char reason[96];
        struct mb_strbuf sub;
        mb_strbuf_init(&sub, reason, sizeof(reason));
        uint64_t value = 0;
        rc = mb_value_parse_u64(item, item_len, &value, &sub);
        if (rc < 0) {
            say_item(why, n, item, item_len);
            say(why, reason);
            return rc;
        }
        items[n++] = value;
    }
    if (rc < 0)
        return rc;
    *count = n;
    return 0;
}

int mb_value_parse_size_list(const char *s, size_t len, unsigned allow, struct mb_size *items,
                             size_t max_items, size_t *count, struct mb_strbuf *why)
{
    size_t pos = 0, n = 0;
    const char *item = NULL;
    size_t item_len = 0;
    int rc;
    while ((rc = list_next(s, len, &pos, n == 0, &item, &item_len, why)) > 0) {
        if (n == max_items)
            return say_too_many(why, max_items);
        char reason[96];
        struct mb_strbuf sub;
        mb_strbuf_init(&sub, reason, sizeof(reason));
        struct mb_size value;
        rc = parse_plain_size(item, item_len, allow & ~MB_SIZE_ALLOW_ALL_EXCEPT, &value, &sub);
        if (rc < 0) {
            say_item(why, n, item, item_len);
            say(why, reason);
            return rc;
        }
        items[n++] = value;
    }
    if (rc < 0)
        return rc;
    *count = n;
    return 0;
}

int mb_value_copy_string(const char *s, size_t len, char *dst, size_t cap, struct mb_strbuf *why)
{
    if (cap == 0 || len > cap - 1) {
        if (why) {
            mb_strbuf_append(why, "longer than ");
            mb_strbuf_append_u64(why, cap > 0 ? cap - 1 : 0);
            mb_strbuf_append(why, " bytes");
        }
        return -EINVAL;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

int mb_value_split(const char *s, size_t len, const char **value, size_t *value_len, bool *quoted,
                   struct mb_strbuf *why)
{
    size_t i = 0;
    while (i < len && is_blank(s[i]))
        i++;
    if (i < len && s[i] == '"') {
        const char *close = memchr(s + i + 1, '"', len - i - 1);
        if (!close) {
            say(why, "missing closing quote");
            return -EINVAL;
        }
        size_t after = (size_t)(close - s) + 1;
        size_t j = after;
        while (j < len && is_blank(s[j]))
            j++;
        if (j < len && !(s[j] == '#' && j > after)) {
            say(why, "unexpected text after the closing quote");
            return -EINVAL;
        }
        *value = s + i + 1;
        *value_len = (size_t)(close - s) - i - 1;
        *quoted = true;
        return 0;
    }
    size_t start = i, end = i;
    while (i < len) {
        /* A '#' right after a blank starts a comment, so "a#b" stays one
         * value (URLs, colour codes) while "64M # default" does not. */
        if (s[i] == '#' && i > 0 && is_blank(s[i - 1]))
            break;
        if (!is_blank(s[i]))
            end = i + 1;
        i++;
    }
    *value = s + start;
    *value_len = end - start;
    *quoted = false;
    return 0;
}

/* floor(total * hundredths / 10000) without overflowing the product. */
static uint64_t percent_of(uint64_t total, uint64_t hundredths)
{
    return (total / 10000) * hundredths + (total % 10000) * hundredths / 10000;
}

int mb_size_resolve(const struct mb_size *size, uint64_t page_size, uint64_t memtotal_bytes,
                    uint64_t *bytes)
{
    uint64_t amount = 0;
    switch (size->unit) {
    case MB_SIZE_BYTES:
        amount = size->amount;
        break;
    case MB_SIZE_PAGES:
        if (page_size == 0)
            return -EINVAL;
        if (mb_mul_u64(size->amount, page_size, &amount) < 0)
            return -ERANGE;
        break;
    case MB_SIZE_PERCENT:
        if (size->amount > 10000)
            return -EINVAL;
        amount = percent_of(memtotal_bytes, size->amount);
        break;
    default:
        return -EINVAL;
    }
    if (size->all_except) {
        if (amount > memtotal_bytes)
            return -EINVAL;
        amount = memtotal_bytes - amount;
    }
    *bytes = amount;
    return 0;
}

int mb_size_resolve_pages(const struct mb_size *size, uint64_t page_size, uint64_t memtotal_bytes,
                          uint64_t *pages)
{
    if (page_size == 0)
        return -EINVAL;
    if (size->unit == MB_SIZE_PAGES && !size->all_except) {
        *pages = size->amount;
        return 0;
    }
    uint64_t bytes = 0;
    int rc = mb_size_resolve(size, page_size, memtotal_bytes, &bytes);
    if (rc < 0)
        return rc;
    *pages = bytes / page_size + (bytes % page_size != 0);
    return 0;
}
