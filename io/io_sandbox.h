/* SPDX-License-Identifier: MIT */
#ifndef IO_SANDBOX_H
#define IO_SANDBOX_H

/* Confines this process to the system calls serving needs once every socket is bound and every
 * disk open (list and reasons in docs/io-partition.md). Anything else kills the process. */
int io_sandbox_enter(void);

/* The connector's tighter set (uvconnect.c): requests in, Unix-socket connections out. */
int io_sandbox_connector(void);

#endif
