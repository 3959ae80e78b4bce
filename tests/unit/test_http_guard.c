/* test_http_guard: engine/http/guard.c's rules for browsers' requests (issue 11): the Host
 * header on a loopback listen (loopback names with the listened port only; any on another
 * listen), and writes on /api/ (Content-Type application/json, Origin same as Host). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "engine/http/http_internal.h"

static int host(bool loopback, int port, const char *value)
{
    df_http h = {.port = port, .loopback = loopback};
    df_http_reply rep = {0};
    int rc = df_http_guard_host(&h, value, &rep);
    if (rc)
        assert_int_equal(rep.status, 403);
    else
        assert_null(rep.json);
    json_decref(rep.json);
    return rc;
}

static void test_host_on_loopback(void **state)
{
    (void)state;
    const char *ok[] = {"127.0.0.1:8080", "127.9.8.7:8080", "localhost:8080",
                        "LocalHost:8080", "[::1]:8080",     "[::ffff:127.0.0.1]:8080"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(host(true, 8080, ok[i]), 0);
    const char *bad[] = {NULL,
                         "",
                         "evil.example",
                         "evil.example:8080",
                         "127.0.0.1",
                         "127.0.0.1:8081",
                         "127.0.0.1:",
                         "127.0.0.1:80x",
                         "127.0.0.1:8080:1",
                         "10.0.0.1:8080",
                         "[::2]:8080",
                         "[::1",
                         "[::1]x",
                         "::1:8080",
                         "localhost.evil.example:8080",
                         "127.0.0.1.evil.example:8080",
                         "0x7f000001:8080"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(host(true, 8080, bad[i]), -1);
    /* port 80: a Host without a port names it */
    assert_int_equal(host(true, 80, "localhost"), 0);
    assert_int_equal(host(true, 80, "localhost:80"), 0);
}

static void test_host_elsewhere_is_free(void **state)
{
    (void)state;
    assert_int_equal(host(false, 8080, "dagflow.example.org"), 0);
    assert_int_equal(host(false, 8080, NULL), 0);
}

static int write_(const char *method, const char *path, const char *ct, const char *origin,
                  int want_status)
{
    df_http_reply rep = {0};
    int rc = df_http_guard_write(method, path, "127.0.0.1:8080", ct, origin, &rep);
    assert_int_equal(rep.status, want_status);
    json_decref(rep.json);
    return rc;
}

static void test_writes(void **state)
{
    (void)state;
    const char *runs = "/api/v1/workflows/w/runs";
    assert_int_equal(write_("POST", runs, "application/json", NULL, 0), 0);
    assert_int_equal(write_("POST", runs, "Application/JSON; charset=utf-8", NULL, 0), 0);
    assert_int_equal(write_("POST", runs, "application/json", "http://127.0.0.1:8080", 0), 0);
    assert_int_equal(write_("POST", runs, "text/plain", NULL, 415), -1);
    assert_int_equal(write_("POST", runs, NULL, NULL, 415), -1);
    assert_int_equal(write_("POST", runs, "application/jsonx", NULL, 415), -1);
    assert_int_equal(write_("POST", runs, "application/x-www-form-urlencoded", NULL, 415), -1);
    assert_int_equal(write_("DELETE", "/api/v1/runs/1", NULL, NULL, 415), -1);
    assert_int_equal(write_("PUT", "/api", "text/plain", NULL, 415), -1);
    assert_int_equal(write_("POST", runs, "application/json", "http://evil.example", 403), -1);
    assert_int_equal(write_("POST", runs, "application/json", "null", 403), -1);
    assert_int_equal(write_("POST", runs, "application/json", "https://127.0.0.1:8080", 403), -1);
    assert_int_equal(write_("POST", runs, "application/json", "http://localhost:8080", 403), -1);
    /* reads, and paths outside /api/, are not this check's */
    assert_int_equal(write_("GET", runs, "text/plain", "http://evil.example", 0), 0);
    assert_int_equal(write_("HEAD", runs, NULL, "http://evil.example", 0), 0);
    assert_int_equal(write_("POST", "/healthz", NULL, NULL, 0), 0);
    assert_int_equal(write_("POST", "/apix", NULL, NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_on_loopback),
        cmocka_unit_test(test_host_elsewhere_is_free),
        cmocka_unit_test(test_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
