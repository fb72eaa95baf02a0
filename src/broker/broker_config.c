/* broker_config.c: the engine's settings, their defaults and their checks.
 * The daemon fills struct mb_broker_config from its config file; these
 * functions keep the engine from ever running on values it cannot honour. */
#include "broker/broker_internal.h"

#include "common/clock.h"

#include <errno.h>
#include <string.h>

void mb_broker_config_defaults(struct mb_broker_config *cfg, uint64_t total_pages,
                               uint32_t page_size)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->total_pages = total_pages;
    cfg->page_size = page_size;
    cfg->max_clients = 64;
    cfg->request_timeout_ns = 500 * MB_NSEC_PER_MSEC;
    cfg->query_timeout_ns = 200 * MB_NSEC_PER_MSEC;
    cfg->class_count = 1;
    memcpy(cfg->classes[0].name, "default", sizeof("default"));
    cfg->classes[0].limit = 0;
    cfg->classes[0].priority = 0;
    cfg->default_class = 0;
}

static bool name_ok(const char *s, size_t buf)
{
    return strnlen(s, buf) < buf;
}

int mb_broker_config_check(const struct mb_broker_config *cfg)
{
    if (cfg->total_pages > MB_PAGES_MAX || cfg->max_clients == 0 ||
        cfg->max_clients > MB_BROKER_MAX_CLIENTS_LIMIT || cfg->class_count == 0 ||
        cfg->class_count > MB_MAX_CLASSES || cfg->rule_count > MB_MAX_CLASS_RULES ||
        cfg->default_class >= cfg->class_count || cfg->pressure_reserve_pages > MB_PAGES_MAX)
        return -EINVAL;
    /* A deadline of "now" could never be waited for: at least 1 ms each. */
    if (cfg->request_timeout_ns < MB_NSEC_PER_MSEC || cfg->query_timeout_ns < MB_NSEC_PER_MSEC)
        return -EINVAL;
    for (uint32_t i = 0; i < cfg->class_count; i++) {
        const struct mb_class_config *k = &cfg->classes[i];
        if (!name_ok(k->name, sizeof(k->name)) || k->name[0] == '\0' || k->limit > MB_PAGES_MAX)
            return -EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(cfg->classes[j].name, k->name) == 0)
                return -EINVAL;
    }
    for (uint32_t i = 0; i < cfg->rule_count; i++) {
        const struct mb_class_rule *r = &cfg->rules[i];
        if (r->class_index >= cfg->class_count || !name_ok(r->exe, sizeof(r->exe)) ||
            !name_ok(r->client_name, sizeof(r->client_name)) ||
            !name_ok(r->requested_class, sizeof(r->requested_class)))
            return -EINVAL;
    }
    return 0;
}
