#ifndef CKPT_CFILEIO_H
#define CKPT_CFILEIO_H

/// Starts writeback of the dirty pages of [offset, offset + count) of `fd` without waiting for it
/// (Linux `sync_file_range` with SYNC_FILE_RANGE_WRITE; Swift's Glibc module does not export it).
/// Returns 0, or the errno (ENOSYS where the call does not exist).
int ckpt_start_writeback(int fd, long long offset, long long count);

#endif
