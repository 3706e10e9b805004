/* SPDX-License-Identifier: MIT */
/* mpi.c — the message layer of a sweep across MPI ranks (see mpi.h). */
#include "regsweep/mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef RS_HAVE_MPI
#include <mpi.h>
#endif

int rs_mpi_launched(void)
{
    /* Open MPI's mpirun; MPICH's hydra and Slurm's PMI-2; PMIx (Open MPI
     * 4 and 5, srun --mpi=pmix) */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
                                       "PMIX_RANK", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return 1;
    }
    return 0;
}

#ifdef RS_HAVE_MPI

int rs_mpi_built(void)
{
    return 1;
}

rs_status rs_mpi_init(int *rank, int *size, rs_error_t *err)
{
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) !=
        MPI_SUCCESS)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "this MPI library cannot serialise calls from "
                            "several threads (MPI_THREAD_SERIALIZED)");
    }
    /* errors come back as codes (a message we cannot take is dropped by a
     * truncated receive) instead of aborting every rank */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return RS_OK;
}

void rs_mpi_finalize(void)
{
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down)
        MPI_Finalize();
}

int rs_mpi_send(int dest, int tag, const void *buf, size_t n)
{
    if (n > INT_MAX)
        return -1;
    return MPI_Send(buf, (int)n, MPI_BYTE, dest, tag, MPI_COMM_WORLD) ==
                   MPI_SUCCESS ? 0 : -1;
}

int rs_mpi_recv(int src, int tag, void *buf, size_t n, int *from)
{
    MPI_Status s;
    if (n > INT_MAX)
        return -1;
    /* Open MPI's blocking receive spins on a core; a rank that waits (for
     * rank 0 to set up, or for a reply) naps instead, 0.1 ms at a time */
    int flag = 0;
    while (MPI_Iprobe(src < 0 ? MPI_ANY_SOURCE : src, tag, MPI_COMM_WORLD,
                      &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && !flag) {
        struct timespec nap = {0, 100000};
        nanosleep(&nap, NULL);
    }
    if (MPI_Recv(buf, (int)n, MPI_BYTE, src < 0 ? MPI_ANY_SOURCE : src, tag,
                 MPI_COMM_WORLD, &s) != MPI_SUCCESS)
        return -1;
    if (from)
        *from = s.MPI_SOURCE;
    return 0;
}

int rs_mpi_poll(int tag, int *from, int *tag_out)
{
    int flag = 0;
    MPI_Status s;
    if (MPI_Iprobe(MPI_ANY_SOURCE, tag < 0 ? MPI_ANY_TAG : tag, MPI_COMM_WORLD,
                   &flag, &s) != MPI_SUCCESS || !flag)
        return 0;
    *from = s.MPI_SOURCE;
    *tag_out = s.MPI_TAG;
    return 1;
}

void rs_mpi_host(char *buf, size_t n)
{
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    if (MPI_Get_processor_name(name, &len) != MPI_SUCCESS)
        len = 0;
    name[len] = '\0';
    snprintf(buf, n, "%s", name);
}

#else   /* built without MPI */

int rs_mpi_built(void)
{
    return 0;
}

rs_status rs_mpi_init(int *rank, int *size, rs_error_t *err)
{
    *rank = 0;
    *size = 1;
    return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                        "this regsweep was built without MPI (meson setup "
                        "-Dmpi=enabled with an MPI library installed)");
}

void rs_mpi_finalize(void)
{
}

int rs_mpi_send(int dest, int tag, const void *buf, size_t n)
{
    (void)dest, (void)tag, (void)buf, (void)n;
    return -1;
}

int rs_mpi_recv(int src, int tag, void *buf, size_t n, int *from)
{
    (void)src, (void)tag, (void)buf, (void)n, (void)from;
    return -1;
}

int rs_mpi_poll(int tag, int *from, int *tag_out)
{
    (void)tag, (void)from, (void)tag_out;
    return 0;
}

void rs_mpi_host(char *buf, size_t n)
{
    if (gethostname(buf, n) != 0 && n)
        buf[0] = '\0';
}

#endif
