/* Unit tests for status_format.c: the exact table and JSON mbctl prints. */
#include "tools/status_format.h"
#include "mbtest.h"

#include <stdlib.h>

static struct mbctl_status st;

static void fill(void)
{
    memset(&st, 0, sizeof st);
    st.page_size = 4096;
    st.summary = (struct mb_client_status_summary){
        .total = 16384, .configured_total = 16384, .pool = 12288, .gathered = 0,
        .requests = 7, .grants_immediate = 6, .requests_timed_out = 1, .queries_sent = 2,
        .answers_late = 1, .clients = 2, .max_clients = 64};
    st.class_count = 1;
    snprintf(st.classes[0].name, sizeof st.classes[0].name, "default");
    st.classes[0].held = 4096;
    st.classes[0].members = 2;
    st.client_count = 2;
    st.clients[0] = (struct mb_client_status_client){
        .id = 1, .pid = 100, .uid = 0, .kind = MB_KIND_BIDIRECTIONAL, .balance = 4096};
    snprintf(st.clients[0].name, sizeof st.clients[0].name, "cache");
    st.clients[1] = (struct mb_client_status_client){
        .id = 2, .pid = 101, .kind = MB_KIND_SIMPLE, .pending_kind = MB_PENDING_REQUEST,
        .pending_pages = 100, .pending_gathered = 40, .queries_outstanding = 1};
    snprintf(st.clients[1].name, sizeof st.clients[1].name, "we\"ird\n");
}

static char *render(void (*print)(FILE *, const struct mbctl_status *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    print(f, &st);
    fclose(f);
    return text;
}

static void test_table(void)
{
    fill();
    char *text = render(mbctl_status_print_table);
    const char *expected =
        "total 16384 pages (64 MiB)   pool 12288 pages (48 MiB)   page size 4096\n"
        "gathered 0   lent 0   debt 0   pressure none   clients 2/64\n"
        "requests 7 (immediate 6, timed out 1)   reserves failed 0   queries 2 (late 1, ignored 0, missed 0)\n"
        "\n"
        "CLASS            PRIORITY        LIMIT         HELD  MEMBERS\n"
        "default                 0         none         4096        2\n"
        "\n"
        "   ID     PID NAME             KIND          CLASS         BALANCE WAITING         FOR  QUERIES MISSED\n"
        "    1     100 cache            bidirectional default          4096 -                 -        0      0\n"
        "    2     101 we\"ird?          simple        default             0 request      40/100        1      0\n";
    MBT_EQ_STR(expected, text);
    free(text);
}

static void test_json(void)
{
    fill();
    char *text = render(mbctl_status_print_json);
    const char *expected =
        "{\"page_size\":4096,\"total\":16384,\"configured_total\":16384,\"pool\":12288,"
        "\"gathered\":0,\"lent\":0,\"debt\":0,\"pressure\":\"none\",\"clients_connected\":2,"
        "\"max_clients\":64,\"counters\":{\"requests\":7,\"grants_immediate\":6,"
        "\"requests_timed_out\":1,\"reserves_failed\":0,\"queries_sent\":2,\"answers_late\":1,"
        "\"answers_ignored\":0,\"deadlines_missed\":0},\"classes\":[{\"name\":\"default\","
        "\"priority\":0,\"limit\":0,\"held\":4096,\"members\":2}],\"clients\":[{\"id\":1,"
        "\"pid\":100,\"uid\":0,\"gid\":0,\"name\":\"cache\",\"kind\":\"bidirectional\","
        "\"class\":\"default\",\"balance\":4096,\"lent\":0,\"waiting\":\"-\",\"waiting_pages\":0,"
        "\"waiting_gathered\":0,\"waiting_ms\":0,\"queries_outstanding\":0,\"missed_deadlines\":0,"
        "\"ignored_answers\":0},{\"id\":2,\"pid\":101,\"uid\":0,\"gid\":0,"
        "\"name\":\"we\\\"ird\\u000a\",\"kind\":\"simple\",\"class\":\"default\",\"balance\":0,"
        "\"lent\":0,\"waiting\":\"request\",\"waiting_pages\":100,\"waiting_gathered\":40,"
        "\"waiting_ms\":0,\"queries_outstanding\":1,\"missed_deadlines\":0,\"ignored_answers\":0}],"
        "\"clients_truncated\":false}\n";
    MBT_EQ_STR(expected, text);
    free(text);
}

static void test_names(void)
{
    MBT_EQ_STR("source", mbctl_kind_name(MB_KIND_SOURCE));
    MBT_EQ_STR("?", mbctl_kind_name(9));
    MBT_EQ_STR("reserve", mbctl_pending_name(MB_PENDING_RESERVE));
    MBT_EQ_STR("critical", mbctl_pressure_name(MB_PRESSURE_CRITICAL));
    MBT_EQ_STR("?", mbctl_pressure_name(3));
}

int main(void)
{
    MBT_RUN(test_table);
    MBT_RUN(test_json);
    MBT_RUN(test_names);
    return mbt_finish();
}
