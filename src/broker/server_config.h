/* server_config.h: mbserver's config file keys and command line, turned into
 * mb_server_options. docs/config.md ("mbserver") lists every key. */
#ifndef MB_BROKER_SERVER_CONFIG_H
#define MB_BROKER_SERVER_CONFIG_H

#include "broker/server.h"
#include "common/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_SERVER_DEFAULT_SOCKET "/run/membroker/socket"
#define MB_SERVER_DEFAULT_CONFIG "/etc/membroker/mbserver.conf"
/* Longest CLASS and CLASS_RULE line values, NUL excluded. */
#define MBS_CLASS_LINE_MAX 127u
#define MBS_RULE_LINE_MAX 191u
/* PRESSURE_RESERVE when the config does not set it: TOTAL / this. */
#define MBS_DEFAULT_PRESSURE_RESERVE_DIVISOR 10u

enum mbserver_key {
    MBS_TOTAL,
    MBS_SOCKET,
    MBS_SOCKET_MODE,
    MBS_SOCKET_GROUP,
    MBS_MAX_CLIENTS,
    MBS_REQUEST_TIMEOUT,
    MBS_QUERY_TIMEOUT,
    MBS_MISSED_DEADLINE_LIMIT,
    MBS_PRESSURE_RESERVE,
    MBS_ALLOW_UIDS,
    MBS_ALLOW_GIDS,
    MBS_PRIVILEGED_UIDS,
    MBS_SEND_QUEUE_DEPTH,
    MBS_LOG_LEVEL,
    MBS_CLASS,
    MBS_CLASS_RULE,
    MBS_DEFAULT_CLASS,
    MBS_KEY_COUNT
};

/* The file's values as written (sizes unresolved). */
struct mbserver_file_config {
    struct mb_size total;
    char socket[108];
    char socket_mode[8];  /* octal text, e.g. "0660" */
    char socket_group[64];
    uint64_t max_clients;
    uint64_t request_timeout_ms;
    uint64_t query_timeout_ms;
    uint64_t missed_deadline_limit;
    struct mb_size pressure_reserve;
    uint64_t allow_uids[MB_SERVER_MAX_ID_LIST];
    size_t allow_uid_count;
    uint64_t allow_gids[MB_SERVER_MAX_ID_LIST];
    size_t allow_gid_count;
    uint64_t privileged_uids[MB_SERVER_MAX_ID_LIST];
    size_t privileged_uid_count;
    uint64_t send_queue_depth;
    char log_level[16];
    /* CLASS lines as written ("NAME [limit=SIZE] [priority=N]"). */
    char classes[MB_MAX_CLASSES][MBS_CLASS_LINE_MAX + 1];
    size_t class_count;
    /* CLASS_RULE lines as written ("class=NAME [uid=N] [gid=N] ..."). */
    char class_rules[MB_MAX_CLASS_RULES][MBS_RULE_LINE_MAX + 1];
    size_t class_rule_count;
    char default_class[MB_NAME_BUF];
    bool present[MBS_KEY_COUNT];
};

extern const struct mb_config_schema mbserver_config_schema;

/* Defaults for every key (TOTAL has none: it must be given). */
void mbserver_file_config_defaults(struct mbserver_file_config *fc);

/* Turns the file's values into server options for a machine with
 * `memtotal_bytes` of RAM and pages of `page_size`. The socket path points
 * into fc, which must outlive opts. Returns 0, or -EINVAL with a message in
 * why[0..why_len) (no TOTAL, a bad mode, an unknown group, a total that
 * resolves to 0 or past 2^63 pages, and every class error of
 * mbserver_classes_from_config). */
int mbserver_options_from_config(const struct mbserver_file_config *fc, uint64_t memtotal_bytes,
                                 uint64_t page_size, struct mb_server_options *opts, char *why,
                                 size_t why_len);

/* Turns the CLASS, CLASS_RULE and DEFAULT_CLASS lines of fc into
 * cfg->classes, cfg->rules and cfg->default_class (the rest of cfg is not
 * touched). Class "default" (no limit, priority 0) is class 0 unless a CLASS
 * line defines it, which then sets its limit and priority. A limit resolves
 * to pages like TOTAL (rounded up); limit=0, or no limit=, means the class
 * has no limit of its own. Rules keep their order (the first that matches
 * wins). Returns 0, or -EINVAL with a message naming the line's position
 * and the problem in why (bad field, duplicate class or field, a rule or
 * DEFAULT_CLASS naming an unknown class, too many classes). Does not block. */
int mbserver_classes_from_config(const struct mbserver_file_config *fc, uint64_t memtotal_bytes,
                                 uint64_t page_size, struct mb_broker_config *cfg, char *why,
                                 size_t why_len);

/* Writes the classes and rules of cfg, one per line, as --check-config
 * shows them:
 *     class default: no limit, priority 0 (the default class)
 *     class media: limit 8192 pages, priority 1
 *     rule 1: exe=player uid=1000 -> media
 * Returns 0, or -ENOSPC when buf was too small (the text is cut). */
int mbserver_format_classes(const struct mb_broker_config *cfg, char *buf, size_t cap);

/* "err", "warning", "notice", "info", "debug" to a level; -1 if unknown. */
int mbserver_parse_log_level(const char *name);

#endif
