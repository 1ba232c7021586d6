/*
 * write_files.c - the floor of per-flow output: create the same files with
 * the same bytes, nothing else.
 *
 *   cc -O2 -o write_files write_files.c && ./write_files SRC DST
 *
 * Reads every regular file of folder SRC into memory (not timed), then
 * times writing each into folder DST with open(O_CREAT | O_TRUNC), one
 * write() and close().  Prints "<files> <bytes> <seconds>".
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *name;
    char *data;
    size_t len;
} file;

static int load(const char *dir, const char *name, file *f)
{
    char path[8192];
    struct stat st;
    int fd;
    size_t got = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    f->name = strdup(name);
    f->len = (size_t)st.st_size;
    f->data = malloc(f->len ? f->len : 1);
    if (f->name == NULL || f->data == NULL) {
        perror("malloc");
        exit(1);
    }
    while (got < f->len) {
        ssize_t n = read(fd, f->data + got, f->len - got);
        if (n <= 0) {
            perror(path);
            exit(1);
        }
        got += (size_t)n;
    }
    close(fd);
    return 1;
}

int main(int argc, char **argv)
{
    DIR *d;
    struct dirent *e;
    file *files = NULL;
    size_t n = 0, cap = 0, i;
    unsigned long long bytes = 0;
    struct timespec t0, t1;
    int dst;

    if (argc != 3) {
        fprintf(stderr, "usage: %s SRC DST\n", argv[0]);
        return 2;
    }
    d = opendir(argv[1]);
    if (d == NULL) {
        perror(argv[1]);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            files = realloc(files, cap * sizeof(*files));
            if (files == NULL) {
                perror("realloc");
                return 1;
            }
        }
        if (e->d_name[0] != '.' && load(argv[1], e->d_name, &files[n]))
            bytes += files[n++].len;
    }
    closedir(d);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    dst = open(argv[2], O_RDONLY | O_DIRECTORY);
    if (dst < 0) {
        perror(argv[2]);
        return 1;
    }
    for (i = 0; i < n; i++) {
        int fd = openat(dst, files[i].name, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0 || write(fd, files[i].data, files[i].len) != (ssize_t)files[i].len
            || close(fd) != 0) {
            perror(files[i].name);
            return 1;
        }
    }
    close(dst);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%zu %llu %.6f\n", n, bytes, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    for (i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].data);
    }
    free(files);
    return 0;
}
