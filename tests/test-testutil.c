/*
 * tests/test-testutil.c - the test helpers themselves (tests/testutil.h):
 * a skip never hides a failure, and every check names its case.
 *
 * Each scenario runs as a child of its own ("--child NAME", a re-exec
 * through tu_spawn_self), whose exit status and output are judged here.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

/* The children: each ends as its name says. */
static int child(const char *what)
{
    tu_init("test-testutil child");
    tu_case("child case one");
    CHECK(1, "a check that passes");
    if (!strcmp(what, "fail-then-skip")) {
        tu_case("child case two");
        CHECK(0, "a check that fails");
        tu_skip("a skip after a failure");
    }
    if (!strcmp(what, "pass-then-skip"))
        tu_skip("a skip after checks that passed");
    if (!strcmp(what, "fail"))
        CHECK(0, "a check that fails");
    return tu_exit();
}

/* Run scenario what: its exit status, or -1 when it did not exit. */
static int run(const char *what, char **out)
{
    struct tu_child ch = tu_spawn_self("test-testutil", what, NULL, 0);
    free(ch.err);
    *out = ch.out;
    return WIFEXITED(ch.status) ? WEXITSTATUS(ch.status) : -1;
}

int main(int argc, char **argv)
{
    char *out;
    int st;

    if (argc > 2 && !strcmp(argv[1], "--child"))
        return child(argv[2]);
    tu_init("test-testutil");

    tu_case("tu_skip after a failed check");
    st = run("fail-then-skip", &out);
    CHECK(st == TU_FAIL, "a failed check followed by tu_skip exits %d, not %d (got %d)", TU_FAIL,
          TU_SKIP, st);
    CHECK(tu_count_lines(out, "# failed case: child case two") == 1 &&
              tu_count_lines(out, "# failed case: child case one") == 0,
          "its summary names the case that failed, and only that one");
    tu_show("child's output", out);
    free(out);

    tu_case("tu_skip after passed checks");
    st = run("pass-then-skip", &out);
    CHECK(st == TU_SKIP, "passed checks followed by tu_skip exit %d (got %d)", TU_SKIP, st);
    free(out);

    tu_case("check lines name their case");
    st = run("fail", &out);
    CHECK(st == TU_FAIL, "a failed check makes tu_exit return %d (got %d)", TU_FAIL, st);
    CHECK(tu_count_lines(out, "## child case one") == 1,
          "tu_case prints a header line naming the case");
    CHECK(tu_count(out, "ok:   [child case one] a check that passes") == 1,
          "a passed check's line names its case");
    CHECK(tu_count(out, "FAIL: [child case one] a check that fails  [") == 1,
          "a failed check's line names its case, then the file and line");
    CHECK(tu_count_lines(out, "# failed case: child case one") == 1,
          "the summary lists the failed case");
    tu_show("child's output", out);
    free(out);

    tu_case("a clean run");
    st = run("pass", &out);
    CHECK(st == TU_PASS && tu_count(out, "# failed case") == 0,
          "checks that all pass exit %d and list no failed case (got %d)", TU_PASS, st);
    free(out);
    return tu_exit();
}
