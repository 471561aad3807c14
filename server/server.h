/*
 * server.h - the loop thread: listener, connections, signals and drain.
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include "settings.h"

/**
 * Runs concordd until SIGTERM/SIGINT has drained it. Returns the process exit
 * status (0 after a clean drain).
 */
int srv_run(const srv_settings *cfg);

#endif
