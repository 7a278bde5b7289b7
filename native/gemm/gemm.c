/*
 * sage_gemm: OpenBLAS's sgemm for the wasm backend's float32 matrix products.
 *
 * tfjs-backend-wasm multiplies matrices with XNNPACK's 128-bit SIMD kernels (no fused
 * multiply-add): 26-38 GFLOP/s per core for a plain 1024x768x768 product and under 3 for
 * attention's batched ones, where OpenBLAS's kernels reach 92-103 and 70-79 (BENCHMARKS.md). The kernels in src/clip/native-matmul.ts hand this addon views of the wasm
 * heap (no copies): the operands are read and the product written in place.
 *
 * One call: multiply(heap, aOffset, bOffset, cOffset, batch, batchA, batchB, m, n, k,
 * transposeA, transposeB, beta). Offsets count float32 elements of `heap`; batch item i
 * uses a's item i % batchA and b's item i % batchB (tfjs's broadcasting of rank-3
 * operands). c = a·b + beta·c, so beta = 1 adds a bias already written into c.
 * OpenBLAS runs on the calling thread only: each replica is one core.
 */
#include <node_api.h>
#include <stdint.h>
#include <cblas.h>

extern void openblas_set_num_threads(int);
extern char *openblas_get_corename(void);
extern int openblas_get_parallel(void);

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "SAGE_GEMM", "sage_gemm: bad arguments");        \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static napi_value multiply(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 13) {
    napi_throw_type_error(env, "SAGE_GEMM", "sage_gemm.multiply takes 13 arguments");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value buffer;
  size_t byteOffset;
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &byteOffset));
  if (type != napi_float32_array) {
    napi_throw_type_error(env, "SAGE_GEMM", "sage_gemm.multiply: heap must be a Float32Array");
    return NULL;
  }
  int64_t v[11];
  for (int i = 0; i < 11; i++) CHECK(napi_get_value_int64(env, argv[1 + i], &v[i]));
  double beta;
  CHECK(napi_get_value_double(env, argv[12], &beta));
  const int64_t aOffset = v[0], bOffset = v[1], cOffset = v[2];
  const int64_t batch = v[3], batchA = v[4], batchB = v[5], m = v[6], n = v[7], k = v[8];
  const int transA = v[9] != 0, transB = v[10] != 0;
  /* Every extent is computed with overflow checks: an operand must lie inside the heap. */
  int64_t aEnd, bEnd, cEnd, mk, kn, mn;
  int bad = batch < 0 || batchA < 1 || batchB < 1 || m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX ||
            k > INT32_MAX || aOffset < 0 || bOffset < 0 || cOffset < 0 || (batch > 0 && (batchA > batch || batchB > batch));
  bad = bad || __builtin_mul_overflow(m, k, &mk) || __builtin_mul_overflow(k, n, &kn) || __builtin_mul_overflow(m, n, &mn);
  bad = bad || __builtin_mul_overflow(batchA, mk, &aEnd) || __builtin_add_overflow(aEnd, aOffset, &aEnd);
  bad = bad || __builtin_mul_overflow(batchB, kn, &bEnd) || __builtin_add_overflow(bEnd, bOffset, &bEnd);
  bad = bad || __builtin_mul_overflow(batch, mn, &cEnd) || __builtin_add_overflow(cEnd, cOffset, &cEnd);
  if (bad || aEnd > (int64_t)length || bEnd > (int64_t)length || cEnd > (int64_t)length) {
    napi_throw_range_error(env, "SAGE_GEMM", "sage_gemm.multiply: operands outside the heap");
    return NULL;
  }
  if (n == 0 || m == 0) return NULL;
  float *heap = (float *)data;
  const int lda = transA ? (int)m : (int)k;
  const int ldb = transB ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    const float *a = heap + aOffset + (i % batchA) * m * k;
    const float *b = heap + bOffset + (i % batchB) * k * n;
    float *c = heap + cOffset + i * m * n;
    if (k == 0) {
      if (beta == 0) for (int64_t j = 0; j < m * n; j++) c[j] = 0;
      continue;
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, 1.0f, a, lda, b, ldb, (float)beta, c, (int)n);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  openblas_set_num_threads(1);
  napi_value fn;
  CHECK(napi_create_function(env, "multiply", NAPI_AUTO_LENGTH, multiply, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "multiply", fn));
  napi_value config;
  CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config));
  CHECK(napi_set_named_property(env, exports, "library", config));
  napi_value core;
  CHECK(napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core));
  CHECK(napi_set_named_property(env, exports, "core", core));
  /* 0 serial, 1 pthreads, 2 OpenMP: which variant -lopenblas resolved to (the start-up line names it). */
  napi_value parallel;
  CHECK(napi_create_int32(env, openblas_get_parallel(), &parallel));
  CHECK(napi_set_named_property(env, exports, "parallel", parallel));
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
