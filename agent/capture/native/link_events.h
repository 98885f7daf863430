/* link_events.c: watchLinks/unwatchLinks on the addon's exports (1 on success). */
#ifndef LBTA_LINK_EVENTS_H
#define LBTA_LINK_EVENTS_H
#include <node_api.h>
int link_events_define(napi_env env, napi_value exports);
#endif
