/* pressure_level.h: from the kernel's events to the level mbwatch tells the
 * broker, with hysteresis. Pure: every call carries `now` (monotonic ns);
 * nothing here reads a clock, sleeps or does I/O, so it is tested without
 * sleeps.
 *
 * The level is the highest of
 *   - each state source's current level (usage thresholds), and
 *   - every level whose hold has not run out: a critical pulse holds
 *     critical for critical_hold, and any pulse (critical ones included)
 *     holds moderate for moderate_hold.
 * A state source that falls counts as a pulse at the level it left, ending
 * then: leaving critical holds critical for critical_hold and moderate for
 * moderate_hold from that moment; leaving moderate holds moderate for
 * moderate_hold. So the level rises at the first event (a pulse or a state
 * rising) and steps down only after quiet, whatever the source:
 * critical -> moderate after critical_hold without a critical event or
 * critical state, moderate -> none after moderate_hold without any.
 * (Without the hold a falling usage state would release the broker's reserve
 * at once; a greedy client would take the memory back, usage would rise
 * again, and the level would ping-pong.)
 *
 * What to send: the level whenever it differs from what the broker last
 * accepted (also after the connection was lost: the broker may have
 * restarted at NONE), and the same raised level again after resend_interval
 * while events keep coming, since each PRESSURE starts a new give-back round
 * at the broker.
 */
#ifndef MB_WATCH_PRESSURE_LEVEL_H
#define MB_WATCH_PRESSURE_LEVEL_H

#include "watch/pressure_source.h"

#include <stdbool.h>
#include <stdint.h>

/* State sources tracked (index given by the caller, e.g. its source table). */
#define MBW_LEVEL_MAX_SOURCES 32u

struct mbw_level_config {
    uint64_t moderate_hold_ns;
    uint64_t critical_hold_ns;
    uint64_t resend_interval_ns; /* 0: never resend an unchanged level */
};

struct mbw_level {
    struct mbw_level_config cfg;
    /* By level: when its hold last started (a pulse at or above it, or a
     * state source leaving it or a level above it); hold_seen: ever. */
    bool hold_seen[3];
    uint64_t hold_start_ns[3];
    uint8_t state[MBW_LEVEL_MAX_SOURCES];
    uint8_t level;               /* as of the last mbw_level_update */
    bool sent_valid;             /* the broker accepted sent_level */
    uint8_t sent_level;
    uint64_t sent_ns;
    bool event_since_send;       /* an event at >= the level came after the send */
    /* Counters for logs and tests. */
    uint64_t events, pulses, states, ooms;
};

/* Starts at level NONE with nothing sent. */
void mbw_level_init(struct mbw_level *l, const struct mbw_level_config *cfg);

/* Takes one event. source indexes state sources (< MBW_LEVEL_MAX_SOURCES;
 * ignored for pulses). A state below the source's previous one starts the
 * holds a pulse at the previous level would, at ev->time_ns. Returns the
 * level after it (as mbw_level_update). */
uint8_t mbw_level_event(struct mbw_level *l, size_t source, const struct mbw_pressure_event *ev);

/* Recomputes the level at now (holds running out). Returns it. */
uint8_t mbw_level_update(struct mbw_level *l, uint64_t now_ns);

/* True when the level at now should be sent; *level gets it. */
bool mbw_level_should_send(struct mbw_level *l, uint64_t now_ns, uint8_t *level);

/* The broker accepted `level` at now. */
void mbw_level_sent(struct mbw_level *l, uint8_t level, uint64_t now_ns);

/* The connection to the broker was lost: whatever the level, send it again. */
void mbw_level_forget_sent(struct mbw_level *l);

/* When the level may next change or be resent without a new event (a hold
 * running out, a resend falling due); UINT64_MAX when never. */
uint64_t mbw_level_next_deadline(const struct mbw_level *l, uint64_t now_ns);

/* "none", "moderate", "critical" ("?" otherwise). */
const char *mbw_level_name(uint8_t level);

#endif
