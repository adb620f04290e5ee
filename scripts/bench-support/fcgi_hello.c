/*
 * The FastCGI ceiling for `scripts/bench http`: the least a libfcgi responder can do per request.
 * Every request is answered "Content-Type: text/plain\r\n\r\nhello\n", whatever it asks for.
 *
 *   fcgi_hello [THREADS]     (default 1)
 *
 * lighttpd starts it through bin-path and hands it the listening socket as fd 0, as it does for
 * sluice. With THREADS = 1 it is the classic single-threaded FCGX_Accept loop (on one request
 * object, with FCGX_Accept_r). With THREADS > 1 it is the same model as Sluice's front end
 * (Sources/FastCGI/FastCGIServer.swift): that many threads, each owning one FCGX_Request and
 * calling FCGX_Accept_r on the shared socket without a lock (Linux needs none; see
 * shared/reference/lighttpd-fastcgi.md, section 4).
 *
 * SIGTERM and SIGINT are blocked in every thread and taken with sigwait in main, which then exits:
 * libfcgi's own SIGTERM handler only sets a flag, and threads blocked in accept() would keep the
 * process alive after lighttpd has gone.
 *
 * Build: gcc -O2 -Wall -o fcgi_hello fcgi_hello.c -lfcgi -lpthread
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char response[] = "Content-Type: text/plain\r\n\r\nhello\n";

static void *serve(void *unused) {
    (void)unused;
    FCGX_Request request;
    if (FCGX_InitRequest(&request, 0, 0) != 0) {
        fprintf(stderr, "fcgi_hello: FCGX_InitRequest failed\n");
        exit(1);
    }
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutStr(response, (int)sizeof(response) - 1, request.out);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "usage: fcgi_hello [THREADS 1..256]\n");
        return 2;
    }
    if (FCGX_Init() != 0) {
        fprintf(stderr, "fcgi_hello: FCGX_Init failed\n");
        return 1;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* inherited by every thread created below */
    for (int i = 0; i < threads; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, serve, NULL) != 0) {
            fprintf(stderr, "fcgi_hello: pthread_create failed\n");
            return 1;
        }
        pthread_detach(thread);
    }
    int signal = 0;
    sigwait(&stop, &signal);
    _exit(0);
}
