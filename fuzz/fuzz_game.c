/* fuzz_game — any text as a game file (game.family: file) through game_load_file. It takes a
 * path, so the input goes into an in-memory file (memfd) opened by its /proc name: no disk. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/game.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz_game", 0)) < 0) return 0;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) return 0;
    char path[64], why[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    game_set_t g;
    if (game_load_file(&g, path, 5, why, sizeof why) == 0) game_set_free(&g);
    return 0;
}
