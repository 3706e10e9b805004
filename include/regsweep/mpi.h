/* SPDX-License-Identifier: MIT */
/* mpi.h — the message layer of a sweep run by several MPI ranks.
 *
 * A thin wrapper around the few MPI calls the sweep needs, so that sweep.c
 * carries no MPI header and builds the same without MPI (-Dmpi=disabled):
 * then rs_mpi_built() is 0 and the other calls fail.  Messages are byte
 * buffers on MPI_COMM_WORLD; the ranks are assumed to share byte order and
 * type sizes (one cluster, one build).
 */
#ifndef RS_MPI_H
#define RS_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "regsweep/common.h"

/* 1 if this regsweep was built with MPI. */
int rs_mpi_built(void);

/* 1 if an MPI launcher started this process (mpirun, mpiexec, srun with
 * PMI/PMIx set their variables): reads the environment only, so a plain
 * run never starts MPI. */
int rs_mpi_launched(void);

/* MPI_Init_thread with MPI_THREAD_SERIALIZED (the threads of a rank take
 * turns, under one critical section).  RS_EINPUT without MPI or when the
 * library cannot serialise threads. */
rs_status rs_mpi_init(int *rank, int *size, rs_error_t *err);
void rs_mpi_finalize(void);

/* Blocking send / receive of n bytes (n < 2 GiB).  src may be -1 (any
 * rank); *from receives the sender.  0 on success, -1 on an MPI error. */
int rs_mpi_send(int dest, int tag, const void *buf, size_t n);
int rs_mpi_recv(int src, int tag, void *buf, size_t n, int *from);

/* Is a message with this tag (-1: any) waiting?  1 and *from, *tag_out
 * filled; 0 if none.  Does not block. */
int rs_mpi_poll(int tag, int *from, int *tag_out);

/* This host's name as MPI knows it (for messages). */
void rs_mpi_host(char *buf, size_t n);

#endif
