/* classes.c: which class a client belongs to, and how much room it has.
 *
 * Classes draw on the one global pool; a class limit caps what its members
 * hold together, counting what their pending requests may still receive so
 * two members waiting at once cannot overshoot it. */
#include "broker/broker_internal.h"

#include <string.h>

static bool rule_matches(const struct mb_class_rule *r, const struct client *c,
                         const char *requested_class)
{
    if (r->match_uid && r->uid != c->uid)
        return false;
    if (r->match_gid && r->gid != c->gid)
        return false;
    if (r->exe[0] != '\0' && strcmp(r->exe, c->exe) != 0)
        return false;
    if (r->client_name[0] != '\0' && strcmp(r->client_name, c->name) != 0)
        return false;
    if (r->requested_class[0] != '\0' && strcmp(r->requested_class, requested_class) != 0)
        return false;
    return true;
}

uint8_t class_select(const struct mb_broker_config *cfg, const struct client *c,
                     const char *requested_class)
{
    for (uint32_t i = 0; i < cfg->rule_count; i++)
        if (rule_matches(&cfg->rules[i], c, requested_class))
            return cfg->rules[i].class_index;
    return cfg->default_class;
}

uint64_t class_room(const struct mb_broker *b, const struct client *c)
{
    uint64_t limit = b->cfg.classes[c->class_index].limit;
    if (limit == 0)
        return MB_PAGES_MAX;
    const struct class_books *k = &b->classes[c->class_index];
    uint64_t used = k->held + k->pending;
    return used >= limit ? 0 : limit - used;
}

void class_hold(struct mb_broker *b, const struct client *c, uint64_t pages)
{
    b->classes[c->class_index].held += pages;
}

void class_release(struct mb_broker *b, const struct client *c, uint64_t pages)
{
    b->classes[c->class_index].held -= pages;
}
