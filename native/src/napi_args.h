/*
 * napi_args.h - reading JavaScript arguments in the addon's Node-API functions: one copy of each
 * check, shared by every file that exports functions (instead of a private get_i32 per file).
 */
#ifndef TSN_NAPI_ARGS_H
#define TSN_NAPI_ARGS_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* @v as a 32-bit integer (a JS number, truncated as napi_get_value_int32 does): 0, or -1 if not a number. Throws nothing. */
int tsn_arg_i32(napi_env env, napi_value v, int32_t *out);

/* @v as a uint32 (a JS number from -2^31 to 2^32-1, negatives wrapped as int32 bit patterns): 0, or -1. Throws nothing. */
int tsn_arg_u32(napi_env env, napi_value v, uint32_t *out);

/*
 * Optional integer property @key of @obj: @dflt when absent or undefined, else an integer in
 * @lo..@hi. Return: 0, or -1 with a pending ERR_INVALID_ARG_VALUE naming "@fn: opts.@key" and the range.
 */
int tsn_arg_opt_int(napi_env env, napi_value obj, const char *fn, const char *key, int dflt, int lo, int hi, int *out);

/* @v as a typed array of @type with at least @min_len elements: 0 with *@data and *@len set, or -1. Throws nothing. */
int tsn_arg_typed(napi_env env, napi_value v, napi_typedarray_type type, size_t min_len, void **data, size_t *len);

/*
 * @v as a Uint8Array (a Buffer is one), of exactly @want bytes unless @want is 0: 0 with *@data and
 * *@len set, or -1 with a pending ERR_INVALID_ARG_TYPE "@what must be a Uint8Array[ of @want bytes]".
 */
int tsn_arg_u8(napi_env env, napi_value v, const char *what, size_t want, uint8_t **data, size_t *len);

/* Set property @key of @obj to the 32-bit integer @v (results built for JavaScript). */
void tsn_set_i32(napi_env env, napi_value obj, const char *key, int32_t v);

#endif
