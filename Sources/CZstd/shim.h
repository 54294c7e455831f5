#ifndef LITEPROOF_CZSTD_SHIM_H
#define LITEPROOF_CZSTD_SHIM_H
#include <zstd.h>
#endif
