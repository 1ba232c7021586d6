/*
 * spawn.c - run a command; report its wall time and peak memory.
 *
 *   cc -O2 -o spawn spawn.c && ./spawn REPORT COMMAND [ARG...]
 *
 * Forks, executes COMMAND, waits for it with wait4() and writes
 * "<ru_maxrss in KiB> <wall seconds> <exit status>" to the file REPORT
 * (status 128+N when killed by signal N).  The benchmark suite runs every
 * measured tool through this small program rather than straight from
 * Python: on Linux a child's ru_maxrss includes the memory of the process
 * it was forked from (exec keeps the high-water mark of the old image),
 * so a tool forked from the suite's Python process would report at least
 * that process's size.  Forked from here it starts from about a megabyte.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    struct rusage ru;
    int status, code;
    pid_t pid;
    FILE *report;

    if (argc < 3) {
        fprintf(stderr, "usage: %s REPORT COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    report = fopen(argv[1], "w");
    if (report == NULL) {
        perror(argv[1]);
        return 2;
    }
    fprintf(report, "%ld %.6f %d\n", ru.ru_maxrss,
            (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, code);
    fclose(report);
    return code;
}
