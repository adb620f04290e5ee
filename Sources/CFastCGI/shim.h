#ifndef CFASTCGI_SHIM_H
#define CFASTCGI_SHIM_H
// libfcgi's request API (fcgiapp.h). Only the FastCGI target imports this module.
#include <fcgiapp.h>
#include <fcgios.h>
#include <sys/socket.h>
#include <signal.h>
#include <pthread.h>
#endif
