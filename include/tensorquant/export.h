/* Symbol visibility for libtensorquant.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * TQ_API are exported. Static builds define TQ_STATIC (the CMake target and
 * tensorquant.pc do this for you). */
#ifndef TENSORQUANT_EXPORT_H
#define TENSORQUANT_EXPORT_H

#if defined(TQ_STATIC)
#define TQ_API
#elif defined(_WIN32)
#if defined(TQ_BUILDING_LIBRARY)
#define TQ_API __declspec(dllexport)
#else
#define TQ_API __declspec(dllimport)
#endif
#else
#define TQ_API __attribute__((visibility("default")))
#endif

#endif
