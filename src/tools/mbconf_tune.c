/* mbconf_tune.c: the pure decisions of `mbconf tune` (see mbconf_tune.h). */
#include "tools/mbconf_tune.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

unsigned mbconf_tune_judge(const struct mbconf_tune_limits *limits,
                           const struct mbconf_tune_sample *sample)
{
    unsigned reasons = 0;
    if (sample->load_killed)
        reasons |= MBCONF_TUNE_KILLED;
    if (sample->window_us == 0)
        return reasons;
    /* stall / window >= permille / 1000, in integers (a window is at most
     * hours, so permille * window_us cannot overflow). */
    if (sample->have_psi && limits->psi_some_permille > 0 &&
        (sample->psi_some_us > UINT64_MAX / 1000u ||
         sample->psi_some_us * 1000u >= (uint64_t)limits->psi_some_permille * sample->window_us))
        reasons |= MBCONF_TUNE_PSI;
    /* faults / seconds >= rate  <=>  faults * 1e6 >= rate * window_us; a
     * count too large to multiply is pressure by any measure. */
    if (sample->have_majfaults && limits->majfaults_per_second > 0 &&
        (sample->majfaults > UINT64_MAX / 1000000u ||
         sample->majfaults * 1000000u >=
             (uint64_t)limits->majfaults_per_second * sample->window_us))
        reasons |= MBCONF_TUNE_MAJFAULTS;
    return reasons;
}

int mbconf_tune_plan_check(const struct mbconf_tune_plan *plan, char *why, size_t why_size)
{
    const char *problem = NULL;
    if (plan->granule == 0)
        problem = "the granule is 0";
    else if (plan->start == 0)
        problem = "the first candidate (--start) is 0";
    else if (plan->step == 0)
        problem = "the step (--step) is 0";
    else if (plan->start > plan->max)
        problem = "the first candidate (--start) is above the last (--max)";
    else if (plan->max < plan->granule)
        problem = "the last candidate (--max) is under 64 KiB";
    else if (plan->margin_percent >= 100)
        problem = "the margin (--margin) must be under 100%";
    if (problem == NULL)
        return 0;
    snprintf(why, why_size, "%s", problem);
    return -EINVAL;
}

uint64_t mbconf_tune_first(const struct mbconf_tune_plan *plan)
{
    uint64_t first = plan->start - plan->start % plan->granule;
    return first == 0 ? plan->granule : first;
}

uint64_t mbconf_tune_next(const struct mbconf_tune_plan *plan, uint64_t current)
{
    uint64_t step = plan->step - plan->step % plan->granule;
    if (step == 0)
        step = plan->granule;
    if (current > UINT64_MAX - step || current + step > plan->max)
        return 0;
    return current + step;
}

int mbconf_tune_recommend(const struct mbconf_tune_plan *plan, uint64_t last_quiet,
                          uint64_t *total)
{
    if (last_quiet == 0)
        return -ENODATA;
    /* last_quiet * (100 - margin) / 100 without overflowing 64 bits */
    uint64_t keep = 100u - plan->margin_percent;
    uint64_t value = last_quiet / 100u * keep + last_quiet % 100u * keep / 100u;
    value -= value % plan->granule;
    if (value == 0)
        return -ENODATA;
    *total = value;
    return 0;
}

/* ---- rewriting the config --------------------------------------------- */

struct out_buf {
    char *data;
    size_t cap, len;
    bool overflow;
};

static void put(struct out_buf *o, const char *text, size_t len)
{
    if (o->overflow || len > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->data + o->len, text, len);
    o->len += len;
}

static void put_str(struct out_buf *o, const char *text)
{
    put(o, text, strlen(text));
}

/* True when line[0..len) has TOTAL as its first word. */
static bool is_total_line(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    static const char key[] = "TOTAL";
    size_t key_len = sizeof key - 1;
    if (len - i < key_len || memcmp(line + i, key, key_len) != 0)
        return false;
    i += key_len;
    return i == len || line[i] == ' ' || line[i] == '\t' || line[i] == '=' || line[i] == '\r';
}

static bool is_tune_comment(const char *line, size_t len)
{
    static const char mark[] = "# mbconf tune";
    return len >= sizeof mark - 1 && memcmp(line, mark, sizeof mark - 1) == 0;
}

static void put_comment_and_total(struct out_buf *o, uint64_t total, const char *comment)
{
    for (const char *c = comment; c != NULL && *c != '\0';) {
        const char *end = strchr(c, '\n');
        size_t len = end != NULL ? (size_t)(end - c) : strlen(c);
        put_str(o, "# mbconf tune: ");
        put(o, c, len);
        put_str(o, "\n");
        c = end != NULL ? end + 1 : c + len;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "TOTAL               %" PRIu64 "K\n", total / 1024u);
    put(o, line, (size_t)n);
}

int mbconf_tune_rewrite_total(const char *in, size_t in_len, uint64_t total, const char *comment,
                              char *out, size_t cap, size_t *out_len)
{
    struct out_buf o = {.data = out, .cap = cap};
    bool replaced = false;
    /* Lines of an earlier run's comment are held back until we know whether
     * the TOTAL line follows them. */
    size_t held_start = 0, held_len = 0;
    size_t pos = 0;
    while (pos < in_len) {
        const char *nl = memchr(in + pos, '\n', in_len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - (in + pos)) : in_len - pos;
        size_t full_len = nl != NULL ? line_len + 1 : line_len;
        const char *line = in + pos;
        if (!replaced && is_tune_comment(line, line_len)) {
            if (held_len == 0)
                held_start = pos;
            held_len = pos + full_len - held_start;
        } else if (!replaced && is_total_line(line, line_len)) {
            held_len = 0; /* the earlier run's comment is dropped */
            put_comment_and_total(&o, total, comment);
            replaced = true;
        } else {
            if (held_len > 0) {
                put(&o, in + held_start, held_len);
                held_len = 0;
            }
            put(&o, line, full_len);
        }
        pos += full_len;
    }
    if (held_len > 0)
        put(&o, in + held_start, held_len);
    if (!replaced) {
        if (o.len > 0 && out != NULL && !o.overflow && out[o.len - 1] != '\n')
            put_str(&o, "\n");
        put_comment_and_total(&o, total, comment);
    }
    if (o.overflow)
        return -EFBIG;
    *out_len = o.len;
    return 0;
}
