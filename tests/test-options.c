/*
 * tests/test-options.c - the options table and the strict parser
 * (lib/options.c, lib/parse.h), internal API.
 *
 *   - every entry of the options table is documented in numaslab(7),
 *     ENVIRONMENT, and every variable documented there is in the table;
 *   - no source of lib/ or numa/ but lib/options.c reads the environment;
 *   - the parser takes what numaslab(7) says and refuses blanks, signs,
 *     base prefixes, trailing junk and overflow.
 *
 * Lines and exit codes of tests/testutil.h; 99: the sources or the
 * manual page could not be read.
 */
#include "config.h"

#include "lib/internal.h"
#include "tests/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One check whose message is already made. */
static void check(int ok, const char *what)
{
    CHECK(ok, "%s", what);
}

/* The whole file at path (tu_read_fd), NULL when it cannot be opened. */
static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    char *text = tu_read_fd(fd);
    close(fd);
    return text;
}

/* ------------------------------------------------------------------------
 * The table against numaslab(7)
 * ---------------------------------------------------------------------- */

static int in_table(const char *name, size_t len)
{
    const char *n;
    for (unsigned i = 0; (n = nslab__option_doc(i, NULL, NULL)); i++)
        if (strlen(n) == len && !strncmp(n, name, len))
            return 1;
    return 0;
}

static void check_manual(const char *top)
{
    char path[4096], what[256];
    snprintf(path, sizeof(path), "%s/doc/numaslab.7", top);
    char *man = slurp(path);
    tu_case("the options table and numaslab(7)");
    REQUIRE(man, "%s: %s", path, strerror(errno));
    char *env = strstr(man, "\n.SH ENVIRONMENT");
    char *end = env ? strstr(env + 1, "\n.SH ") : NULL;
    check(env && end, "numaslab(7) has an ENVIRONMENT section");
    if (!env || !end) {
        free(man);
        return;
    }
    *end = '\0';

    const char *name, *dflt, *doc;
    unsigned n = 0;
    for (unsigned i = 0; (name = nslab__option_doc(i, &dflt, &doc)); i++, n++) {
        char entry[128];
        snprintf(entry, sizeof(entry), "\n.TP\n.B %s\n", name);
        snprintf(what, sizeof(what), "%s (%s; default %s) has an entry in numaslab(7), ENVIRONMENT",
                 name, doc, dflt);
        check(strstr(env, entry) != NULL && *doc && *dflt, what);
    }
    check(n >= 15, "the table holds every variable (15 or more)");

    /* The other way: each ".TP\n.B NUMASLAB_X" of the section is an entry. */
    for (const char *p = env; (p = strstr(p, "\n.TP\n.B NUMASLAB_")); p++) {
        const char *v = p + 8, *e = v;
        while ((*e >= 'A' && *e <= 'Z') || *e == '_')
            e++;
        snprintf(what, sizeof(what), "%.*s, documented in numaslab(7), is in the options table",
                 (int)(e - v), v);
        check(in_table(v, (size_t)(e - v)), what);
    }
    free(man);
}

/* No getenv( in lib/ or numa/ but in lib/options.c. */
static void check_sources(const char *top)
{
    static const char *const dirs[] = {"lib", "numa"};
    int files = 0;
    tu_case("the environment is read by lib/options.c alone");
    for (int d = 0; d < 2; d++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", top, dirs[d]);
        DIR *dir = opendir(path);
        REQUIRE(dir, "%s: %s", path, strerror(errno));
        struct dirent *de;
        while ((de = readdir(dir))) {
            size_t len = strlen(de->d_name);
            if (len < 3 || strcmp(de->d_name + len - 2, ".c") || !strcmp(de->d_name, "options.c"))
                continue;
            char file[4400], what[300];
            snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
            char *text = slurp(file);
            if (!text)
                continue;
            files++;
            snprintf(what, sizeof(what), "%s/%s reads no environment variable", dirs[d],
                     de->d_name);
            check(strstr(text, "getenv(") == NULL, what);
            free(text);
        }
        closedir(dir);
    }
    check(files >= 10, "the library's sources were read");
}

/* ------------------------------------------------------------------------
 * The parser
 * ---------------------------------------------------------------------- */

static void check_parser(void)
{
    char what[256];
    tu_case("the strict parser: numbers");
    static const struct {
        const char *s;
        int ok;
        uint64_t v;
    } nums[] = {
        {"0", 1, 0},
        {"42", 1, 42},
        {"18446744073709551615", 1, UINT64_MAX},
        {"18446744073709551616", 0, 0},
        {"", 0, 0},
        {" 1", 0, 0},
        {"1 ", 0, 0},
        {"+1", 0, 0},
        {"-1", 0, 0},
        {"0x10", 0, 0},
        {"1e3", 0, 0},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        uint64_t v = 7;
        int rc = nslab_parse_u64(nums[i].s, UINT64_MAX, NULL, &v);
        snprintf(what, sizeof(what), "number \"%s\": %s", nums[i].s,
                 nums[i].ok ? "accepted" : "refused, output untouched");
        check(nums[i].ok ? rc == 0 && v == nums[i].v : rc == -EINVAL && v == 7, what);
    }
    uint64_t v = 0;
    check(nslab_parse_count("100", 1, 100, &v) == 0 && v == 100 &&
              nslab_parse_count("101", 1, 100, &v) == -EINVAL &&
              nslab_parse_count("0", 1, 100, &v) == -EINVAL,
          "counts: the range's ends are in, beyond is refused");

    tu_case("the strict parser: sizes");
    static const struct {
        const char *s;
        int ok;
        uint64_t v;
    } sizes[] = {
        {"4096", 1, 4096},
        {"64K", 1, 64 << 10},
        {"64k", 1, 64 << 10},
        {"8MB", 1, 8 << 20},
        {"2G", 1, (uint64_t)2 << 30},
        {"1T", 1, (uint64_t)1 << 40},
        {"3B", 1, 3},
        {"16777216T", 0, 0},
        {"8X", 0, 0},
        {"8 M", 0, 0},
        {"M", 0, 0},
        {"-4M", 0, 0},
        {"8MiB", 0, 0},
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t sz = 7;
        int rc = nslab_parse_size(sizes[i].s, &sz);
        snprintf(what, sizeof(what), "size \"%s\": %s", sizes[i].s,
                 sizes[i].ok ? "accepted" : "refused, output untouched");
        check(sizes[i].ok ? rc == 0 && sz == sizes[i].v : rc == -EINVAL && sz == 7, what);
    }

    tu_case("the strict parser: node lists");
    uint64_t m[2] = {0}, want = (1u << 0) | (1u << 2) | (1u << 3);
    check(nslab_parse_nodelist("0,2-3", 128, m) == 0 && m[0] == want && m[1] == 0,
          "node list \"0,2-3\"");
    check(nslab_parse_nodelist("127", 128, m) == 0 && m[1] == UINT64_C(1) << 63 && m[0] == 0,
          "node list \"127\": the last id");
    static const char *const badlists[] = {"128", "3-1", "1,", ",1", "1,,2", " 1", "1-", "-1", "a"};
    for (size_t i = 0; i < sizeof(badlists) / sizeof(badlists[0]); i++) {
        m[0] = 5;
        snprintf(what, sizeof(what), "node list \"%s\" refused, mask untouched", badlists[i]);
        check(nslab_parse_nodelist(badlists[i], 128, m) == -EINVAL && m[0] == 5, what);
    }
}

int main(int argc, char **argv)
{
    const char *top = getenv("top_srcdir");
    (void)argc;
    (void)argv;
    tu_init("test-options");
    check_parser();
    check_manual(top ? top : ".");
    check_sources(top ? top : ".");
    return tu_exit();
}
