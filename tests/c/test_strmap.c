/* The string map of src/core/strmap.c (irbis/files.h) against hand-computed cases: the hash of
 * known strings, keys that collide in the first table, growth, missing keys, keys holding NUL
 * bytes, add vs set, and an allocation failure while growing that leaves the map as it was. */
#include "check.h"

#include <stdint.h>

#include "core/alloc.h"
#include "irbis/files.h"

static int64_t get(const irb_strmap *m, const char *k, size_t len)
{
    int64_t v = -99;
    return irb_strmap_get(m, k, len, &v) ? v : -1;
}

static void test_hash(void)
{
    /* computed by hand with Python: h = 1469598103934665603; h = (h ^ b) * 1099511628211 mod 2^64 */
    CHECK(irb_strmap_hash("", 0) == 0x14650fb0739d0383ull, "hash of \"\"");
    CHECK(irb_strmap_hash("a", 1) == 0x44bd8ad473cd9906ull, "hash of a");
    CHECK(irb_strmap_hash("foobar", 6) == 0x88fad7c0a8ff07f2ull, "hash of foobar");
    CHECK(irb_strmap_hash("a\0b", 3) == 0xe02908510caa06f0ull, "hash of a NUL b");
    CHECK(irb_strmap_hash("foobar", 3) == irb_strmap_hash("foo", 3), "only len bytes are hashed");
}

static void test_collisions(void)
{
    /* cam0, cam22, cam31 and cam40 all hash to slot 14 of the first 16-slot table
     * (0x...c7be, 0x...c01e, 0x...d48e, 0x...460e) */
    static const char *const same[] = {"cam0", "cam22", "cam31", "cam40"};
    for (int i = 0; i < 4; i++)
        CHECK((irb_strmap_hash(same[i], strlen(same[i])) & 15) == 14, "%s lands in slot 14", same[i]);
    irb_strmap *m = NULL;
    irb_error err = {0};
    CHECK(irb_strmap_new(0, &m, &err) == IRB_OK && m, "new");
    for (int i = 0; i < 4; i++)
        CHECK(irb_strmap_add(m, same[i], strlen(same[i]), 10 * i, NULL, &err) == IRB_OK, "add %s", same[i]);
    for (int i = 0; i < 4; i++)
        CHECK(get(m, same[i], strlen(same[i])) == 10 * i, "%s -> %d", same[i], 10 * i);
    CHECK(get(m, "cam4", 4) == -1, "cam4 (not added) is missing");
    CHECK(get(m, "cam2", 4) == -1, "cam2, a prefix of cam22, is missing");
    CHECK(irb_strmap_count(m) == 4, "4 keys");
    irb_strmap_free(m);
}

static void test_add_set_missing(void)
{
    irb_strmap *m = NULL;
    irb_error err = {0};
    int64_t stored = 0, v = 7;
    CHECK(irb_strmap_new(4, &m, &err) == IRB_OK, "new");
    CHECK(!irb_strmap_get(m, "x", 1, &v) && v == 7, "missing in an empty map, value untouched");
    CHECK(irb_strmap_add(m, "x", 1, 1, &stored, &err) == IRB_OK && stored == 1, "add x -> 1");
    CHECK(irb_strmap_add(m, "x", 1, 2, &stored, &err) == IRB_OK && stored == 1, "add keeps x -> 1");
    CHECK(irb_strmap_set(m, "x", 1, 3, &err) == IRB_OK && get(m, "x", 1) == 3, "set replaces: x -> 3");
    CHECK(irb_strmap_set(m, "y", 1, -5, &err) == IRB_OK && get(m, "y", 1) == -5, "set adds y -> -5");
    CHECK(irb_strmap_get(m, "x", 1, NULL) == 1, "get without a value pointer");
    CHECK(irb_strmap_count(m) == 2, "2 keys");
    /* NUL-safe: the length is the key */
    CHECK(irb_strmap_add(m, "a\0b", 3, 100, NULL, &err) == IRB_OK, "add a NUL b");
    CHECK(irb_strmap_add(m, "a\0c", 3, 101, NULL, &err) == IRB_OK, "add a NUL c");
    CHECK(irb_strmap_add(m, "a", 1, 102, NULL, &err) == IRB_OK, "add a");
    CHECK(irb_strmap_add(m, "", 0, 103, NULL, &err) == IRB_OK, "add the empty key");
    CHECK(get(m, "a\0b", 3) == 100 && get(m, "a\0c", 3) == 101 && get(m, "a", 1) == 102 && get(m, "", 0) == 103,
          "a NUL b, a NUL c, a and \"\" are four keys");
    CHECK(get(m, "a\0", 2) == -1, "a NUL is missing");
    CHECK(irb_strmap_count(m) == 6, "6 keys");
    irb_strmap_free(m);
    irb_strmap_free(NULL);
}

static void test_growth(void)
{
    irb_strmap *m = NULL;
    irb_error err = {0};
    CHECK(irb_strmap_new(1, &m, &err) == IRB_OK, "new");
    char k[32];
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof k, "img_%05d.jpg", i);
        bad += irb_strmap_add(m, k, (size_t)n, i * 3, NULL, &err) != IRB_OK;
    }
    CHECK(!bad, "5000 adds");
    CHECK(irb_strmap_count(m) == 5000, "5000 keys, got %zu", irb_strmap_count(m));
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof k, "img_%05d.jpg", i);
        bad += get(m, k, (size_t)n) != i * 3;
    }
    CHECK(!bad, "every key keeps its value through the growth (%d wrong)", bad);
    CHECK(get(m, "img_05000.jpg", 13) == -1, "img_05000.jpg is missing");
    irb_strmap_free(m);
}

static void test_nomem(void)
{
    irb_strmap *m = NULL;
    irb_error err = {0};
    CHECK(irb_strmap_new(0, &m, &err) == IRB_OK, "new");
    char k[16];
    for (int i = 0; i < 8; i++) /* 8 of 16 slots: the next add grows the table */
        irb_strmap_add(m, k, (size_t)snprintf(k, sizeof k, "k%d", i), i, NULL, &err);
    irb_alloc_fail_after(1);
    irb_status s = irb_strmap_add(m, "k8", 2, 8, NULL, &err);
    irb_alloc_fail_after(0);
    CHECK(s == IRB_NOMEM && err.status == IRB_NOMEM, "a failed growth is IRB_NOMEM: %s", err.message);
    CHECK(irb_strmap_count(m) == 8 && get(m, "k8", 2) == -1 && get(m, "k7", 2) == 7 && get(m, "k0", 2) == 0,
          "and leaves the map as it was");
    CHECK(irb_strmap_add(m, "k8", 2, 8, NULL, &err) == IRB_OK && get(m, "k8", 2) == 8, "the same add then works");
    irb_strmap_free(m);
    irb_strmap *m2 = NULL;
    irb_alloc_fail_after(1);
    s = irb_strmap_new(0, &m2, &err);
    irb_alloc_fail_after(0);
    CHECK(s == IRB_NOMEM && m2 == NULL, "new out of memory");
}

int main(void)
{
    test_hash();
    test_collisions();
    test_add_set_missing();
    test_growth();
    test_nomem();
    return CHECK_DONE();
}
