#define _GNU_SOURCE
#include "cfileio.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int ckpt_start_writeback(int fd, long long offset, long long count) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, (off64_t)offset, (off64_t)count, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : errno;
#else
    (void)fd; (void)offset; (void)count;
    return ENOSYS;
#endif
}

long long ckpt_copy_file_range(int in_fd, long long *in_offset, int out_fd, long long count) {
#if defined(__linux__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 27))
    off64_t offset = (off64_t)*in_offset;
    ssize_t copied = copy_file_range(in_fd, &offset, out_fd, NULL, (size_t)count, 0);
    if (copied < 0) return -(long long)errno;
    *in_offset = (long long)offset;
    return (long long)copied;
#else
    (void)in_fd; (void)in_offset; (void)out_fd; (void)count;
    return -(long long)ENOSYS;
#endif
}

int ckpt_set_direct_io(int fd, int on) {
#ifdef O_DIRECT
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    int wanted = on ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
    if (wanted != flags && fcntl(fd, F_SETFL, wanted) != 0) return errno;
    return 0;
#else
    (void)fd; (void)on;
    return ENOSYS;
#endif
}
