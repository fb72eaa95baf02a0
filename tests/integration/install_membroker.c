/* install_membroker.c: built against the installed libmbclient through
 * `pkg-config --cflags --libs membroker` (tests/integration/test_install.sh).
 * Uses both public headers and calls what needs no server: the version,
 * the error strings, and a connect to a socket that does not exist. */
#include <membroker/client.h>
#include <membroker/compat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(mb_client_version(), "") == 0)
        return 1;
    if (strcmp(mb_client_strerror(MB_CLIENT_ERR(MB_ERR_NOMEM)), "server: not enough quota") != 0)
        return 2;
    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = "/nonexistent/membroker/socket";
    if (mb_client_init(&c, &o) != 0)
        return 3;
    if (mb_client_connect_timeout(&c, 0) != -ENOENT)
        return 4;
    uint64_t granted = 1;
    if (mb_client_request_timeout(&c, 1, &granted, 0) != -ENOENT || granted != 0)
        return 5;
    mb_client_destroy(&c);
    if (mb_request_pages(1) != MB_BAD_ID) /* the compat API, not registered */
        return 6;
    printf("libmbclient %s\n", mb_client_version());
    return 0;
}
