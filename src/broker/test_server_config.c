/* Unit tests for server_config.c: mbserver's keys, classes and class rules
 * parsed from config text into the engine's settings, with exact values and
 * exact error messages. */
#include "broker/server_config.h"
#include "mbtest.h"

#include <errno.h>
#include <string.h>

#define PAGE 4096u
#define MEMTOTAL (UINT64_C(1) << 30) /* 1 GiB: 262144 pages */

static struct mbserver_file_config fc, scratch;
static struct mb_server_options opts;
static char why[512];

/* Parses text as mbserver.conf over the defaults; returns the parse result. */
static int load(const char *text)
{
    struct mb_config_error err;
    mbserver_file_config_defaults(&fc);
    int rc = mb_config_parse_buffer(&mbserver_config_schema, "mbserver.conf", text, strlen(text),
                                    &fc, &scratch, &err);
    if (rc < 0)
        mb_config_error_format(&err, why, sizeof why);
    return rc;
}

/* Parses and resolves text; returns what mbserver_options_from_config does. */
static int resolve(const char *text)
{
    why[0] = '\0';
    int rc = load(text);
    if (rc < 0)
        return rc;
    return mbserver_options_from_config(&fc, MEMTOTAL, PAGE, &opts, why, sizeof why);
}

static void expect_error(const char *text, const char *message)
{
    MBT_EQ_INT(-EINVAL, resolve(text));
    MBT_EQ_STR(message, why);
}

static void test_schema_and_defaults(void)
{
    MBT_EQ_INT(0, mb_config_schema_check(&mbserver_config_schema, NULL));
    MBT_EQ_INT(0, resolve("TOTAL 1000p\n"));
    MBT_EQ_U64(1000, opts.broker.total_pages);
    /* No CLASS lines: the engine's single unlimited class "default". */
    MBT_EQ_U64(1, opts.broker.class_count);
    MBT_EQ_STR("default", opts.broker.classes[0].name);
    MBT_EQ_U64(0, opts.broker.classes[0].limit);
    MBT_EQ_U64(0, opts.broker.rule_count);
    MBT_EQ_U64(0, opts.broker.default_class);
    MBT_EQ_INT(0, mb_broker_config_check(&opts.broker));
    /* PRESSURE_RESERVE: a tenth of TOTAL unless set; 0 turns it off. */
    MBT_EQ_U64(100, opts.broker.pressure_reserve_pages);
    MBT_EQ_INT(0, resolve("TOTAL 1005p\n"));
    MBT_EQ_U64(100, opts.broker.pressure_reserve_pages);
    MBT_EQ_INT(0, resolve("TOTAL 1000p\nPRESSURE_RESERVE 0\n"));
    MBT_EQ_U64(0, opts.broker.pressure_reserve_pages);
    MBT_EQ_INT(0, resolve("TOTAL 1000p\nPRESSURE_RESERVE 250p\n"));
    MBT_EQ_U64(250, opts.broker.pressure_reserve_pages);
    expect_error("TOTAL 1000p\nPRESSURE_RESERVE 1001p\n",
                 "PRESSURE_RESERVE must resolve to at most TOTAL");
}

static void test_classes_and_rules(void)
{
    MBT_EQ_INT(0, resolve("TOTAL 1000p\n"
                          "CLASS media limit=32M priority=2\n"
                          "CLASS_RULE class=media exe=player\n"
                          "CLASS batch   limit=10%  # a tenth of RAM\n"
                          "CLASS free limit=0\n"
                          "CLASS_RULE class=batch uid=1000 gid=100 name=job requested=batch\n"
                          "CLASS_RULE class=free\n"
                          "DEFAULT_CLASS batch\n"));
    const struct mb_broker_config *b = &opts.broker;
    MBT_EQ_U64(4, b->class_count);
    MBT_EQ_STR("default", b->classes[0].name);
    MBT_EQ_STR("media", b->classes[1].name);
    MBT_EQ_U64(8192, b->classes[1].limit); /* 32 MiB of 4 KiB pages */
    MBT_EQ_U64(2, b->classes[1].priority);
    MBT_EQ_STR("batch", b->classes[2].name);
    MBT_EQ_U64(26215, b->classes[2].limit); /* 10% of 1 GiB, rounded up to pages */
    MBT_EQ_U64(0, b->classes[2].priority);
    MBT_EQ_STR("free", b->classes[3].name);
    MBT_EQ_U64(0, b->classes[3].limit); /* 0: no limit of its own */
    MBT_EQ_U64(2, b->default_class);

    MBT_EQ_U64(3, b->rule_count);
    MBT_EQ_U64(1, b->rules[0].class_index);
    MBT_EQ_STR("player", b->rules[0].exe);
    MBT_FALSE(b->rules[0].match_uid);
    MBT_FALSE(b->rules[0].match_gid);
    MBT_EQ_STR("", b->rules[0].client_name);
    MBT_EQ_U64(2, b->rules[1].class_index);
    MBT_TRUE(b->rules[1].match_uid);
    MBT_EQ_U64(1000, b->rules[1].uid);
    MBT_TRUE(b->rules[1].match_gid);
    MBT_EQ_U64(100, b->rules[1].gid);
    MBT_EQ_STR("job", b->rules[1].client_name);
    MBT_EQ_STR("batch", b->rules[1].requested_class);
    MBT_EQ_U64(3, b->rules[2].class_index);
    MBT_EQ_INT(0, mb_broker_config_check(b));

    char text[1024];
    MBT_EQ_INT(0, mbserver_format_classes(b, text, sizeof text));
    MBT_EQ_STR("class default: no limit, priority 0\n"
               "class media: limit 8192 pages, priority 2\n"
               "class batch: limit 26215 pages, priority 0 (the default class)\n"
               "class free: no limit, priority 0\n"
               "rule 1: exe=player -> media\n"
               "rule 2: uid=1000 gid=100 name=job requested=batch -> batch\n"
               "rule 3: (every client) -> free\n",
               text);
    char small[16];
    MBT_EQ_INT(-ENOSPC, mbserver_format_classes(b, small, sizeof small));
    MBT_EQ_STR("class default: ", small);
}

static void test_default_class_redefined(void)
{
    /* A CLASS line for "default" sets the implicit class, which stays first. */
    MBT_EQ_INT(0, resolve("TOTAL 1000p\nCLASS a\nCLASS default limit=100p priority=5\n"));
    MBT_EQ_U64(2, opts.broker.class_count);
    MBT_EQ_STR("default", opts.broker.classes[0].name);
    MBT_EQ_U64(100, opts.broker.classes[0].limit);
    MBT_EQ_U64(5, opts.broker.classes[0].priority);
    MBT_EQ_STR("a", opts.broker.classes[1].name);
    MBT_EQ_U64(0, opts.broker.default_class);
}

static void test_class_errors(void)
{
    expect_error("TOTAL 1000p\nCLASS a\nCLASS b\nCLASS a limit=1p\n",
                 "CLASS 3 (\"a limit=1p\"): class \"a\" is defined twice");
    expect_error("TOTAL 1000p\nCLASS default\nCLASS default\n",
                 "CLASS 2 (\"default\"): class \"default\" is defined twice");
    expect_error("TOTAL 1000p\nCLASS a limit=12Q\n",
                 "CLASS 1 (\"a limit=12Q\"): limit \"12Q\": unknown size suffix 'Q' (use K, M, "
                 "G, T, p or %)");
    expect_error("TOTAL 1000p\nCLASS a size=1M\n",
                 "CLASS 1 (\"a size=1M\"): unknown field \"size\" (use limit= or priority=)");
    expect_error("TOTAL 1000p\nCLASS a limit\n",
                 "CLASS 1 (\"a limit\"): \"limit\": expected limit=SIZE or priority=N");
    expect_error("TOTAL 1000p\nCLASS a priority=-1\n",
                 "CLASS 1 (\"a priority=-1\"): priority \"-1\" is not a number from 0 to "
                 "4294967295");
    expect_error("TOTAL 1000p\nCLASS a limit=1p limit=2p\n",
                 "CLASS 1 (\"a limit=1p limit=2p\"): limit= given twice");
    expect_error("TOTAL 1000p\nCLASS limit=1p\n",
                 "CLASS 1 (\"limit=1p\"): the line must start with a class name of 1-31 "
                 "letters, digits, '_', '-' or '.'");
    expect_error("TOTAL 1000p\nCLASS a/b\n",
                 "CLASS 1 (\"a/b\"): the line must start with a class name of 1-31 letters, "
                 "digits, '_', '-' or '.'");
    expect_error("TOTAL 1000p\nCLASS a limit=200%\n",
                 "CLASS 1 (\"a limit=200%\"): limit \"200%\": percent over 100");
    /* 15 classes besides "default" fit; a 16th does not. */
    char text[1024] = "TOTAL 1000p\n";
    for (int i = 0; i < 15; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "CLASS c%d\n", i);
    MBT_EQ_INT(0, resolve(text));
    MBT_EQ_U64(16, opts.broker.class_count);
    snprintf(text + strlen(text), sizeof text - strlen(text), "CLASS c15\n");
    expect_error(text, "CLASS 16 (\"c15\"): more than 16 classes (\"default\" counts as one)");
    /* With "default" among them, 16 lines fit. */
    snprintf(text, sizeof text, "TOTAL 1000p\nCLASS default\n");
    for (int i = 0; i < 15; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "CLASS c%d\n", i);
    MBT_EQ_INT(0, resolve(text));
    MBT_EQ_U64(16, opts.broker.class_count);
    /* A 17th line is refused by the parser itself, naming the line. */
    snprintf(text + strlen(text), sizeof text - strlen(text), "CLASS c15\n");
    MBT_EQ_INT(-EINVAL, load(text));
    MBT_EQ_STR("mbserver.conf:18: CLASS: \"c15\": more than 16 lines with this key", why);
}

static void test_rule_errors(void)
{
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE class=b uid=1\n",
                 "CLASS_RULE 1 (\"class=b uid=1\"): class \"b\" is not defined by a CLASS line");
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE uid=1\n",
                 "CLASS_RULE 1 (\"uid=1\"): class=NAME is required");
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE class=a pid=3\n",
                 "CLASS_RULE 1 (\"class=a pid=3\"): unknown field \"pid\" (use class=, uid=, "
                 "gid=, exe=, name= or requested=)");
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE class=a uid=x\n",
                 "CLASS_RULE 1 (\"class=a uid=x\"): uid \"x\": not a number below 4294967295");
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE class=a gid=4294967295\n",
                 "CLASS_RULE 1 (\"class=a gid=4294967295\"): gid \"4294967295\": not a number "
                 "below 4294967295");
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE class=a exe=0123456789abcdef\n",
                 "CLASS_RULE 1 (\"class=a exe=0123456789abcdef\"): exe \"0123456789abcdef\": "
                 "empty or longer than 15 bytes (the kernel's comm)");
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE class=a name=\n",
                 "CLASS_RULE 1 (\"class=a name=\"): name \"\": empty or longer than 31 bytes");
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE class=a uid=1 uid=2\n",
                 "CLASS_RULE 1 (\"class=a uid=1 uid=2\"): uid= given twice");
    expect_error("TOTAL 1000p\nCLASS a\nCLASS_RULE class=a\nCLASS_RULE class=a exe\n",
                 "CLASS_RULE 2 (\"class=a exe\"): \"exe\": expected FIELD=VALUE");
    expect_error("TOTAL 1000p\nCLASS a\nDEFAULT_CLASS b\n",
                 "DEFAULT_CLASS \"b\" is not defined by a CLASS line");
    /* The rule for "default" needs no CLASS line. */
    MBT_EQ_INT(0, resolve("TOTAL 1000p\nCLASS a\nCLASS_RULE class=default uid=0\n"
                          "DEFAULT_CLASS a\n"));
    MBT_EQ_U64(0, opts.broker.rules[0].class_index);
    MBT_EQ_U64(1, opts.broker.default_class);
}

static void test_environment_replaces_classes(void)
{
    char *env[] = {(char[]){"MBSERVER_CLASS=env limit=4p"}, NULL};
    struct mb_config_error err;
    mbserver_file_config_defaults(&fc);
    static const char text[] = "TOTAL 1000p\nCLASS a\nCLASS b\n";
    MBT_EQ_INT(0, mb_config_parse_buffer(&mbserver_config_schema, "f", text, sizeof text - 1, &fc,
                                         &scratch, &err));
    MBT_EQ_INT(0, mb_config_apply_env(&mbserver_config_schema, env, &fc, &scratch, &err));
    MBT_EQ_INT(0, mbserver_options_from_config(&fc, MEMTOTAL, PAGE, &opts, why, sizeof why));
    MBT_EQ_U64(2, opts.broker.class_count);
    MBT_EQ_STR("env", opts.broker.classes[1].name);
    MBT_EQ_U64(4, opts.broker.classes[1].limit);
}

int main(void)
{
    MBT_RUN(test_schema_and_defaults);
    MBT_RUN(test_classes_and_rules);
    MBT_RUN(test_default_class_redefined);
    MBT_RUN(test_class_errors);
    MBT_RUN(test_rule_errors);
    MBT_RUN(test_environment_replaces_classes);
    return mbt_finish();
}
