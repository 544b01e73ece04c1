#ifndef CKPT_CFILEIO_H
#define CKPT_CFILEIO_H

/// Starts writeback of the dirty pages of [offset, offset + count) of `fd` without waiting for it
/// (Linux `sync_file_range` with SYNC_FILE_RANGE_WRITE; Swift's Glibc module does not export it).
/// Returns 0, or the errno (ENOSYS where the call does not exist).
int ckpt_start_writeback(int fd, long long offset, long long count);

/// Copies up to `count` bytes of `in_fd` from `*in_offset` (advanced) to `out_fd` at its file position,
/// inside the kernel (Linux `copy_file_range`, also missing from Swift's Glibc module). Returns the
/// bytes copied (0 at the end of the input), or −errno (−ENOSYS where the call does not exist).
long long ckpt_copy_file_range(int in_fd, long long *in_offset, int out_fd, long long count);

/// Sets (`on` = 1) or clears O_DIRECT on an open file: writes then go from the caller's buffer to the
/// device, bypassing the page cache, and must be aligned (buffer, offset and length) to the logical
/// block size. Returns 0, or the errno (EINVAL where the file system does not support it, ENOSYS
/// where the platform has no O_DIRECT).
int ckpt_set_direct_io(int fd, int on);

#endif
