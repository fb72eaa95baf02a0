/* pressure_level.c: see pressure_level.h. */
#include "watch/pressure_level.h"

#include "membroker/protocol.h"
#include "proto/codec.h"

#include <string.h>

void mbw_level_init(struct mbw_level *l, const struct mbw_level_config *cfg)
{
    memset(l, 0, sizeof *l);
    l->cfg = *cfg;
    l->level = MB_PRESSURE_NONE;
}

static uint64_t hold_of(const struct mbw_level *l, uint8_t level)
{
    return level == MB_PRESSURE_CRITICAL ? l->cfg.critical_hold_ns : l->cfg.moderate_hold_ns;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Something at `top` happened at t: the holds of top and every level below
 * it start again there. A hold never starts earlier than it already did. */
static void start_holds(struct mbw_level *l, uint8_t top, uint64_t t)
{
    for (unsigned i = MB_PRESSURE_MODERATE; i <= top; i++) {
        if (!l->hold_seen[i] || t > l->hold_start_ns[i])
            l->hold_start_ns[i] = t;
        l->hold_seen[i] = true;
    }
}

uint8_t mbw_level_update(struct mbw_level *l, uint64_t now_ns)
{
    uint8_t level = MB_PRESSURE_NONE;
    for (size_t i = 0; i < MBW_LEVEL_MAX_SOURCES; i++)
        if (l->state[i] > level)
            level = l->state[i];
    for (unsigned lv = MB_PRESSURE_MODERATE; lv <= MB_PRESSURE_CRITICAL; lv++)
        if (l->hold_seen[lv] && now_ns < add_sat(l->hold_start_ns[lv], hold_of(l, (uint8_t)lv)) &&
            lv > level)
            level = (uint8_t)lv;
    l->level = level;
    return level;
}

uint8_t mbw_level_event(struct mbw_level *l, size_t source, const struct mbw_pressure_event *ev)
{
    uint8_t lv = ev->level < MB_PRESSURE_COUNT ? ev->level : MB_PRESSURE_CRITICAL;
    l->events++;
    if (ev->kind == MBW_EVENT_STATE) {
        l->states++;
        if (source < MBW_LEVEL_MAX_SOURCES) {
            /* Falling ends a pulse at the level left: it is held like
             * one, so the broker's reserve is not released at once. */
            if (lv < l->state[source])
                start_holds(l, l->state[source], ev->time_ns);
            l->state[source] = lv;
        }
    } else {
        l->pulses++;
        if (ev->kind == MBW_EVENT_OOM)
            l->ooms++;
        /* A pulse at a level is one at every level below it too. */
        start_holds(l, lv, ev->time_ns);
    }
    if (lv > MB_PRESSURE_NONE && (!l->sent_valid || lv >= l->sent_level))
        l->event_since_send = true;
    return mbw_level_update(l, ev->time_ns);
}

bool mbw_level_should_send(struct mbw_level *l, uint64_t now_ns, uint8_t *level)
{
    uint8_t lv = mbw_level_update(l, now_ns);
    *level = lv;
    if (!l->sent_valid || lv != l->sent_level)
        return true;
    return lv > MB_PRESSURE_NONE && l->event_since_send && l->cfg.resend_interval_ns > 0 &&
           now_ns >= add_sat(l->sent_ns, l->cfg.resend_interval_ns);
}

void mbw_level_sent(struct mbw_level *l, uint8_t level, uint64_t now_ns)
{
    l->sent_valid = true;
    l->sent_level = level;
    l->sent_ns = now_ns;
    l->event_since_send = false;
}

void mbw_level_forget_sent(struct mbw_level *l)
{
    l->sent_valid = false;
}

uint64_t mbw_level_next_deadline(const struct mbw_level *l, uint64_t now_ns)
{
    uint64_t next = UINT64_MAX;
    for (unsigned lv = MB_PRESSURE_MODERATE; lv <= MB_PRESSURE_CRITICAL; lv++) {
        if (!l->hold_seen[lv])
            continue;
        uint64_t end = add_sat(l->hold_start_ns[lv], hold_of(l, (uint8_t)lv));
        if (end > now_ns && end < next)
            next = end;
    }
    if (l->sent_valid && l->sent_level > MB_PRESSURE_NONE && l->event_since_send &&
        l->cfg.resend_interval_ns > 0) {
        uint64_t due = add_sat(l->sent_ns, l->cfg.resend_interval_ns);
        if (due < next)
            next = due < now_ns ? now_ns : due;
    }
    return next;
}

const char *mbw_level_name(uint8_t level)
{
    return mb_proto_pressure_name(level);
}
