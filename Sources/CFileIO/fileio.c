#define _GNU_SOURCE
#include "cfileio.h"
#include <errno.h>
#include <fcntl.h>

int ckpt_start_writeback(int fd, long long offset, long long count) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, (off64_t)offset, (off64_t)count, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : errno;
#else
    (void)fd; (void)offset; (void)count;
    return ENOSYS;
#endif
}
