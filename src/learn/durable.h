/* Durable replacement of files: after renaming temporaries into place, the directory entry is
 * fsynced too, so the new names survive a crash. */
#ifndef IRB_LEARN_DURABLE_H
#define IRB_LEARN_DURABLE_H

/* fsyncs the directory holding `path`; returns 0 or -1 with errno set (ENOMEM: no memory). */
int irb_sync_parent_dir(const char *path);

#endif
