// SPDX-License-Identifier: MIT
/*
 * mpi_check: MPI correctness over whatever transport mpirun picks (the
 * guest suite picks pml cm + mtl ofi + the unet provider).  Any number of
 * ranks >= 2; written for 4.  Every byte is checked.  Rank 0 prints one
 * "PASS guest/mpi-LABEL-NAME" or "FAIL guest/mpi-LABEL-NAME: why" per check.
 *
 *   mpirun -np 4 mpi_check LABEL
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;
static const char *label = "x";

static unsigned char pattern(int from, int to, int tag, size_t off)
{
	return (unsigned char)(from * 37 + to * 11 + tag * 5 + off * 3 + (off >> 9));
}

static void fill(unsigned char *b, size_t n, int from, int to, int tag)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(from, to, tag, i);
}

static long check(const unsigned char *b, size_t n, int from, int to, int tag)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pattern(from, to, tag, i))
			return (long)i;
	return -1;
}

/* Every rank's error count summed; rank 0 reports. */
static void report(const char *name, long errors, const char *what)
{
	long total = 0;

	MPI_Allreduce(&errors, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0) {
		if (total)
			printf("FAIL guest/mpi-%s-%s: %ld errors (%s)\n", label, name, total, what);
		else
			printf("PASS guest/mpi-%s-%s\n", label, name);
		fflush(stdout);
	}
}

/* A ring: every rank sends to the next and receives from the previous,
 * sizes 1 B .. 4 MiB, each with its own tag. */
static void check_ring(void)
{
	static const size_t sizes[] = { 1, 2, 7, 64, 72, 73, 1000, 4096, 65495,
		65496, 65497, 100000, 262144, 1048576, 4194304 };
	int next = (rank + 1) % size, prev = (rank + size - 1) % size;
	unsigned char *out = malloc(4194304), *in = malloc(4194304);
	long errors = 0;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		MPI_Request r[2];
		MPI_Status st;
		int count, tag = (int)k + 10;

		fill(out, sizes[k], rank, next, tag);
		memset(in, 0, sizes[k]);
		MPI_Irecv(in, (int)sizes[k], MPI_BYTE, prev, tag, MPI_COMM_WORLD, &r[0]);
		MPI_Isend(out, (int)sizes[k], MPI_BYTE, next, tag, MPI_COMM_WORLD, &r[1]);
		MPI_Wait(&r[0], &st);
		MPI_Wait(&r[1], MPI_STATUS_IGNORE);
		MPI_Get_count(&st, MPI_BYTE, &count);
		if ((size_t)count != sizes[k] || st.MPI_SOURCE != prev || st.MPI_TAG != tag ||
		    check(in, sizes[k], prev, rank, tag) >= 0) {
			fprintf(stderr, "rank %d: ring size %zu: count %d source %d tag %d\n",
				rank, sizes[k], count, st.MPI_SOURCE, st.MPI_TAG);
			errors++;
		}
	}
	free(out);
	free(in);
	report("ring", errors, "sizes 1 B .. 4 MiB");
}

/* Rank 0 takes one message from each other rank by MPI_ANY_SOURCE and
 * MPI_ANY_TAG, and must learn who sent what from the status. */
static void check_any(void)
{
	long errors = 0;
	unsigned char buf[3000];

	if (rank == 0) {
		int seen = 0;

		for (int i = 1; i < size; i++) {
			MPI_Status st;
			int count;

			MPI_Recv(buf, sizeof(buf), MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG,
				 MPI_COMM_WORLD, &st);
			MPI_Get_count(&st, MPI_BYTE, &count);
			if (st.MPI_SOURCE < 1 || st.MPI_SOURCE >= size ||
			    (seen & (1 << st.MPI_SOURCE)) || st.MPI_TAG != 500 + st.MPI_SOURCE ||
			    count != 1000 * st.MPI_SOURCE ||
			    check(buf, (size_t)count, st.MPI_SOURCE, 0, st.MPI_TAG) >= 0)
				errors++;
			seen |= 1 << st.MPI_SOURCE;
		}
	} else {
		size_t n = 1000 * (size_t)rank;

		fill(buf, n, rank, 0, 500 + rank);
		MPI_Send(buf, (int)n, MPI_BYTE, 0, 500 + rank, MPI_COMM_WORLD);
	}
	report("any-source-any-tag", errors, "source, tag or bytes wrong");
}

/* Unexpected messages: every other rank sends 6 tagged messages to rank 0
 * and only then (after a barrier) does rank 0 post its receives, in
 * reverse tag order. */
static void check_unexpected(void)
{
	static const size_t sizes[6] = { 8, 100, 5000, 70000, 300000, 2000000 };
	long errors = 0;

	if (rank == 0) {
		unsigned char *buf = malloc(2000000);

		MPI_Barrier(MPI_COMM_WORLD);
		for (int src = 1; src < size; src++)
			for (int k = 5; k >= 0; k--) {
				MPI_Status st;
				int count;

				MPI_Recv(buf, (int)sizes[k], MPI_BYTE, src, 700 + k,
					 MPI_COMM_WORLD, &st);
				MPI_Get_count(&st, MPI_BYTE, &count);
				if ((size_t)count != sizes[k] ||
				    check(buf, sizes[k], src, 0, 700 + k) >= 0)
					errors++;
			}
		free(buf);
	} else {
		unsigned char *b[6];
		MPI_Request r[6];

		for (int k = 0; k < 6; k++) {
			b[k] = malloc(sizes[k]);
			fill(b[k], sizes[k], rank, 0, 700 + k);
			MPI_Isend(b[k], (int)sizes[k], MPI_BYTE, 0, 700 + k,
				  MPI_COMM_WORLD, &r[k]);
		}
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Waitall(6, r, MPI_STATUSES_IGNORE);
		for (int k = 0; k < 6; k++)
			free(b[k]);
	}
	report("unexpected", errors, "messages received in reverse tag order");
}

static void check_collectives(void)
{
	const int n = 1 << 18;	/* 2 MiB of doubles */
	double *v = malloc(sizeof(double) * (size_t)n), *sum = malloc(sizeof(double) * (size_t)n);
	const int block = 65536 + 3;
	unsigned char *out = malloc((size_t)block * (size_t)size);
	unsigned char *in = malloc((size_t)block * (size_t)size);
	long errors = 0;

	for (int i = 0; i < n; i++)
		v[i] = rank + i * 0.5;
	MPI_Allreduce(v, sum, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
	for (int i = 0; i < n; i++) {
		/* Sum of (r + i/2) over r: exact in binary for these values. */
		double want = size * (size - 1) / 2.0 + size * i * 0.5;

		if (sum[i] != want) {
			errors++;
			break;
		}
	}
	report("allreduce", errors, "sum of 2^18 doubles");

	errors = 0;
	for (int d = 0; d < size; d++)
		fill(out + (size_t)d * block, block, rank, d, 900);
	MPI_Alltoall(out, block, MPI_BYTE, in, block, MPI_BYTE, MPI_COMM_WORLD);
	for (int s = 0; s < size; s++)
		if (check(in + (size_t)s * block, block, s, rank, 900) >= 0)
			errors++;
	report("alltoall", errors, "64 KiB + 3 blocks");
	free(v);
	free(sum);
	free(out);
	free(in);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (argc > 1)
		label = argv[1];
	check_ring();
	check_any();
	check_unexpected();
	check_collectives();
	MPI_Finalize();
	return 0;
}
