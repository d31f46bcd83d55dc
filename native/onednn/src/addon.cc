// galmorph's native CPU kernels: oneDNN primitives run directly on the tfjs wasm backend's heap.
//
// The TypeScript side (src/backend/onednn.ts) registers tfjs kernels that hand this addon the
// wasm heap (a Uint8Array over the wasm memory) and, per call,
// a Float64Array of shape parameters followed by byte offsets of the tensors in that heap. Every
// tensor stays where tfjs allocated it: inputs are read and outputs written in place, with
// tfjs's layouts (NHWC activations, HWIO / HWCM filters, row-major matrices).
//
// Primitives are cached by their shape parameters (a training step calls the same few shapes
// every time), together with the buffers they own: reordered weights, user scratchpads, pooling
// workspaces. All calls are synchronous on the JS thread; oneDNN parallelises each primitive on
// its OpenMP threads (setThreads).
#include <napi.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
using dims = memory::dims;

// The hand-written loops (batch-norm passes, element-wise ops, reductions) are compiled three
// times (target_clones: AVX-512, AVX2 + FMA, and the x86-64 baseline) and the loader picks the
// best the CPU has, so an addon built on one machine runs on any x86-64 (the build has no -march).
#define GALMORPH_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace {

engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}
stream& strm() {
  static stream s(eng());
  return s;
}

// Threads: the user's count (setThreads; OpenMP's default otherwise) for large primitives, one for
// small ones. On two shared cores a parallel region costs a barrier, and when the other core is
// busy (another process, or the OS) that barrier waits for a whole time slice: a 300 KB filter
// reorder took 15 ms on two threads against 0.05 ms on one. oneDNN sizes its work partition when
// a primitive is created, so the same count is set around creation and execution.
int userThreads = 0;
int wantThreads() { return userThreads > 0 ? userThreads : omp_get_max_threads(); }

struct ThreadScope {
  int saved;
  explicit ThreadScope(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~ThreadScope() { omp_set_num_threads(saved); }
};

/** One thread below this much work (floating-point operations or bytes moved). */
int threadsFor(double work, double threshold) { return work < threshold ? 1 : wantThreads(); }

/** A 64-byte aligned buffer owned by a cached primitive. */
struct Buffer {
  void* ptr = nullptr;
  size_t size = 0;
  void ensure(size_t bytes) {
    if (bytes <= size) return;
    std::free(ptr);
    ptr = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!ptr) throw std::bad_alloc();
    size = bytes;
  }
  ~Buffer() { std::free(ptr); }
};

/** Cache key: the shape parameters (everything before the offsets) as bytes. */
std::string keyOf(const double* p, size_t n) { return std::string(reinterpret_cast<const char*>(p), n * sizeof(double)); }

// The heap: the wasm memory's ArrayBuffer, or a Uint8Array over it. The typed-array form also
// reaches a SharedArrayBuffer (the threaded wasm build's memory), which N-API in Node 20 does not
// accept as an ArrayBuffer.
char* heapOf(const Napi::CallbackInfo& info) {
  if (info[0].IsArrayBuffer()) return static_cast<char*>(info[0].As<Napi::ArrayBuffer>().Data());
  if (info[0].IsTypedArray()) {
    auto view = info[0].As<Napi::Uint8Array>();
    return reinterpret_cast<char*>(view.Data());
  }
  throw Napi::TypeError::New(info.Env(), "galmorph onednn: heap must be the wasm memory (ArrayBuffer or Uint8Array)");
}

const double* paramsOf(const Napi::CallbackInfo& info, size_t need) {
  if (!info[1].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "galmorph onednn: parameters must be a Float64Array");
  auto p = info[1].As<Napi::Float64Array>();
  if (p.ElementLength() < need) throw Napi::RangeError::New(info.Env(), "galmorph onednn: too few parameters");
  return p.Data();
}

inline void* at(char* heap, double offset) { return heap + static_cast<size_t>(offset); }
inline memory::dim D(double v) { return static_cast<memory::dim>(v); }

/** tfjs fused activations as oneDNN eltwise post-ops (0 none; prelu is left to tfjs). */
void appendActivation(post_ops& po, int act, float alpha) {
  switch (act) {
    case 0: break;
    case 1: po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f); break;
    case 2: po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f); break;
    case 3: po.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f); break;
    case 4: po.append_eltwise(1.f, algorithm::eltwise_elu, 1.f, 0.f); break;
    case 5: po.append_eltwise(1.f, algorithm::eltwise_relu, alpha, 0.f); break;
    default: throw std::runtime_error("galmorph onednn: unknown activation code");
  }
}

primitive_attr userScratchpad(int act = 0, float alpha = 0.f) {
  primitive_attr attr;
  // The scratchpad is allocated once per cached primitive instead of on every execution.
  attr.set_scratchpad_mode(scratchpad_mode::user);
  if (act) {
    post_ops po;
    appendActivation(po, act, alpha);
    attr.set_post_ops(po);
  }
  return attr;
}

// ---- convolutions ------------------------------------------------------------------------
// Parameters: 0 kind (0 forward, 1 backward data, 2 backward weights), 1 N, 2 IH, 3 IW, 4 IC,
// 5 OH, 6 OW, 7 OC, 8 KH, 9 KW, 10 groups (1, or IC for depthwise), 11 SH, 12 SW, 13 DH, 14 DW
// (tfjs dilations, 1 = none), 15 pad top, 16 left, 17 bottom, 18 right, 19 has bias, 20 activation,
// 21 activation alpha; offsets: 22 x (or dx), 23 filter (or dW), 24 y (or dy), 25 bias.
constexpr size_t CONV_KEY = 22;

struct ConvEntry {
  int kind = 0;
  int threads = 1;
  primitive prim;
  memory src, wei_user, wei_prim, dst, bias, scratch;
  bool reorder_wei = false;
  reorder wei_reorder;
  Buffer wei_buf, scratch_buf;
};

std::unordered_map<std::string, std::unique_ptr<ConvEntry>> convCache;

ConvEntry& convEntry(const double* p) {
  auto key = keyOf(p, CONV_KEY);
  auto it = convCache.find(key);
  if (it != convCache.end()) return *it->second;
  auto e = std::make_unique<ConvEntry>();
  const int kind = static_cast<int>(p[0]);
  const memory::dim N = D(p[1]), IH = D(p[2]), IW = D(p[3]), IC = D(p[4]), OH = D(p[5]), OW = D(p[6]), OC = D(p[7]);
  const memory::dim KH = D(p[8]), KW = D(p[9]), G = D(p[10]);
  const dims strides = {D(p[11]), D(p[12])}, dil = {D(p[13]) - 1, D(p[14]) - 1};
  const dims padL = {D(p[15]), D(p[16])}, padR = {D(p[17]), D(p[18])};
  const bool hasBias = p[19] != 0;
  e->kind = kind;
  e->threads = threadsFor(2.0 * N * OH * OW * OC * KH * KW * (IC / G), 4e6);
  ThreadScope scope(e->threads);
  // Activations in tfjs's NHWC layout, used as they are (no reorder): oneDNN's AVX2 kernels take
  // channels-last directly, and a reorder to a blocked layout would cost a pass over the tensor
  // before and after every convolution.
  memory::desc src_md({N, IC, IH, IW}, dt::f32, tag::nhwc);
  memory::desc dst_md({N, OC, OH, OW}, dt::f32, tag::nhwc);
  // Filters in tfjs's layout, described by strides: [KH, KW, IC, OC] for a convolution, and
  // [KH, KW, C, M] (C groups of M outputs each) for a depthwise one.
  memory::desc wei_user_md, wei_any;
  if (G == 1) {
    wei_user_md = memory::desc({OC, IC, KH, KW}, dt::f32, dims{1, OC, KW * IC * OC, IC * OC});
    wei_any = memory::desc({OC, IC, KH, KW}, dt::f32, tag::any);
  } else {
    const memory::dim M = OC / G;
    wei_user_md = memory::desc({G, M, IC / G, KH, KW}, dt::f32, dims{M, 1, 1, KW * OC, OC});
    wei_any = memory::desc({G, M, IC / G, KH, KW}, dt::f32, tag::any);
  }
  memory::desc bias_md = hasBias ? memory::desc({OC}, dt::f32, tag::x) : memory::desc();
  const auto alg = algorithm::convolution_direct;
  memory::desc wei_prim_md;
  memory::desc scratch_md;
  if (kind == 0) {
    convolution_forward::desc d(prop_kind::forward_inference, alg, src_md, wei_any, bias_md, dst_md, strides, dil, padL, padR);
    convolution_forward::primitive_desc pd(d, userScratchpad(static_cast<int>(p[20]), static_cast<float>(p[21])), eng());
    e->prim = convolution_forward(pd);
    wei_prim_md = pd.weights_desc();
    scratch_md = pd.scratchpad_desc();
  } else {
    convolution_forward::desc fd(prop_kind::forward_training, alg, src_md, wei_any, memory::desc(), dst_md, strides, dil, padL, padR);
    convolution_forward::primitive_desc hint(fd, eng());
    if (kind == 1) {
      convolution_backward_data::desc d(alg, src_md, wei_any, dst_md, strides, dil, padL, padR);
      convolution_backward_data::primitive_desc pd(d, userScratchpad(), eng(), hint);
      e->prim = convolution_backward_data(pd);
      wei_prim_md = pd.weights_desc();
      scratch_md = pd.scratchpad_desc();
    } else {
      convolution_backward_weights::desc d(alg, src_md, wei_any, dst_md, strides, dil, padL, padR);
      convolution_backward_weights::primitive_desc pd(d, userScratchpad(), eng(), hint);
      e->prim = convolution_backward_weights(pd);
      wei_prim_md = pd.diff_weights_desc();
      scratch_md = pd.scratchpad_desc();
    }
  }
  e->src = memory(src_md, eng(), nullptr);
  e->dst = memory(dst_md, eng(), nullptr);
  e->wei_user = memory(wei_user_md, eng(), nullptr);
  if (hasBias) e->bias = memory(bias_md, eng(), nullptr);
  // Reorder of the filter: oneDNN's kernels want it in a blocked layout (e.g. OIhw8i8o) that
  // tfjs does not use. It runs on every call (the weights change every training step) into a
  // buffer this entry owns; a filter is small next to the activations it is applied to.
  // For backward weights the primitive writes dW in its layout and the reorder goes the other way.
  e->reorder_wei = wei_prim_md != wei_user_md;
  if (e->reorder_wei) {
    e->wei_buf.ensure(wei_prim_md.get_size());
    e->wei_prim = memory(wei_prim_md, eng(), e->wei_buf.ptr);
    ThreadScope one(1);
    e->wei_reorder = kind == 2 ? reorder(e->wei_prim, e->wei_user) : reorder(e->wei_user, e->wei_prim);
  }
  e->scratch_buf.ensure(scratch_md.get_size() ? scratch_md.get_size() : 64);
  e->scratch = memory(scratch_md, eng(), e->scratch_buf.ptr);
  auto& ref = *e;
  convCache.emplace(key, std::move(e));
  return ref;
}

Napi::Value Conv(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 26);
  ConvEntry& e = convEntry(p);
  e.src.set_data_handle(at(heap, p[22]));
  e.wei_user.set_data_handle(at(heap, p[23]));
  e.dst.set_data_handle(at(heap, p[24]));
  memory& wei = e.reorder_wei ? e.wei_prim : e.wei_user;
  auto& s = strm();
  // Filters are small: their reorders run on one thread (see ThreadScope).
  auto reorderWeights = [&](memory& from, memory& to) {
    ThreadScope one(1);
    e.wei_reorder.execute(s, from, to);
  };
  ThreadScope scope(e.threads);
  if (e.kind == 0) {
    if (e.reorder_wei) reorderWeights(e.wei_user, e.wei_prim);
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, e.dst}, {DNNL_ARG_SCRATCHPAD, e.scratch}};
    if (p[19] != 0) {
      e.bias.set_data_handle(at(heap, p[25]));
      args[DNNL_ARG_BIAS] = e.bias;
    }
    e.prim.execute(s, args);
  } else if (e.kind == 1) {
    if (e.reorder_wei) reorderWeights(e.wei_user, e.wei_prim);
    e.prim.execute(s, {{DNNL_ARG_DIFF_DST, e.dst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, e.src}, {DNNL_ARG_SCRATCHPAD, e.scratch}});
  } else {
    e.prim.execute(s, {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_DIFF_DST, e.dst}, {DNNL_ARG_DIFF_WEIGHTS, wei}, {DNNL_ARG_SCRATCHPAD, e.scratch}});
    if (e.reorder_wei) reorderWeights(e.wei_prim, e.wei_user);
  }
  s.wait();
  return info.Env().Undefined();
}

// ---- pooling -----------------------------------------------------------------------------
// Parameters: 0 kind (0 max forward, 1 avg forward, 2 avg backward; max backward: MaxPoolGrad
// below), 1 N, 2 IH, 3 IW, 4 C, 5 OH, 6 OW, 7 KH, 8 KW, 9 SH, 10 SW, 11 pad top, 12 left,
// 13 bottom, 14 right; offsets: 15 x (or dx), 16 y (or dy).
constexpr size_t POOL_KEY = 15;

struct PoolEntry {
  int kind = 0;
  int threads = 1;
  primitive fwd, bwd;
  memory src, dst, scratch, fwd_scratch;
  Buffer scratch_buf, fwd_scratch_buf;
};

std::unordered_map<std::string, std::unique_ptr<PoolEntry>> poolCache;

PoolEntry& poolEntry(const double* p) {
  auto key = keyOf(p, POOL_KEY);
  auto it = poolCache.find(key);
  if (it != poolCache.end()) return *it->second;
  auto e = std::make_unique<PoolEntry>();
  const int kind = static_cast<int>(p[0]);
  e->kind = kind;
  const memory::dim N = D(p[1]), IH = D(p[2]), IW = D(p[3]), C = D(p[4]), OH = D(p[5]), OW = D(p[6]);
  const dims kernel = {D(p[7]), D(p[8])}, strides = {D(p[9]), D(p[10])};
  const dims padL = {D(p[11]), D(p[12])}, padR = {D(p[13]), D(p[14])};
  memory::desc src_md({N, C, IH, IW}, dt::f32, tag::nhwc);
  memory::desc dst_md({N, C, OH, OW}, dt::f32, tag::nhwc);
  e->threads = threadsFor(4.0 * N * C * IH * IW, 1 << 18);
  ThreadScope scope(e->threads);
  // tfjs averages over the window's pixels inside the image only (padding excluded), as TF does.
  const auto alg = kind == 0 ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
  const bool backward = kind == 2;
  pooling_forward::desc fd(backward ? prop_kind::forward_training : prop_kind::forward_inference, alg, src_md, dst_md, strides, kernel, padL, padR);
  pooling_forward::primitive_desc fpd(fd, userScratchpad(), eng());
  e->src = memory(src_md, eng(), nullptr);
  e->dst = memory(dst_md, eng(), nullptr);
  e->fwd_scratch_buf.ensure(fpd.scratchpad_desc().get_size() + 64);
  e->fwd_scratch = memory(fpd.scratchpad_desc(), eng(), e->fwd_scratch_buf.ptr);
  e->fwd = pooling_forward(fpd);
  if (backward) {
    pooling_backward::desc bd(alg, src_md, dst_md, strides, kernel, padL, padR);
    pooling_backward::primitive_desc bpd(bd, userScratchpad(), eng(), fpd);
    e->bwd = pooling_backward(bpd);
    e->scratch_buf.ensure(bpd.scratchpad_desc().get_size() + 64);
    e->scratch = memory(bpd.scratchpad_desc(), eng(), e->scratch_buf.ptr);
  }
  auto& ref = *e;
  poolCache.emplace(key, std::move(e));
  return ref;
}

Napi::Value Pool(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 17);
  PoolEntry& e = poolEntry(p);
  auto& s = strm();
  ThreadScope scope(e.threads);
  e.src.set_data_handle(at(heap, p[15]));  // x, or dx for a backward pass
  e.dst.set_data_handle(at(heap, p[16]));  // y, or dy
  if (e.kind < 2) {
    e.fwd.execute(s, {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_DST, e.dst}, {DNNL_ARG_SCRATCHPAD, e.fwd_scratch}});
  } else {
    e.bwd.execute(s, {{DNNL_ARG_DIFF_DST, e.dst}, {DNNL_ARG_DIFF_SRC, e.src}, {DNNL_ARG_SCRATCHPAD, e.scratch}});
  }
  s.wait();
  return info.Env().Undefined();
}

// ---- max-pool gradient, directly ----------------------------------------------------------------
// dx from x, y = maxpool(x) and dy in one pass: each window's dy goes to the first pixel equal to
// the window's maximum (tfjs's rule for ties). oneDNN's backward pass needs the forward pass's
// workspace, which tfjs does not keep: running the forward again with a workspace cost 4x more than
// this pass (smallcnn at 128 px: 1.1 s of a 6.4 s step, PyTorch 0.17 s).
// Parameters: 0 N, 1 IH, 2 IW, 3 C, 4 OH, 5 OW, 6 KH, 7 KW, 8 SH, 9 SW, 10 pad top, 11 left;
// offsets 12 x, 13 y, 14 dy, 15 dx.
// One image: dx = 0, then each window's dy to the first pixel (in window order) equal to its
// maximum. Vectorised over channels: `taken` marks the channels whose window already found it.
GALMORPH_CLONES void maxPoolGradImage(const float* xn, const float* yn, const float* dyn, float* dxn, float* taken, memory::dim IH, memory::dim IW, memory::dim C, memory::dim OH, memory::dim OW, memory::dim KH, memory::dim KW, memory::dim SH, memory::dim SW, memory::dim PT, memory::dim PL) {
  std::memset(dxn, 0, sizeof(float) * IH * IW * C);
  for (memory::dim oh = 0; oh < OH; oh++)
    for (memory::dim ow = 0; ow < OW; ow++) {
      const float* m = yn + (oh * OW + ow) * C;
      const float* g = dyn + (oh * OW + ow) * C;
      std::memset(taken, 0, sizeof(float) * C);
      for (memory::dim kh = 0; kh < KH; kh++) {
        const memory::dim ih = oh * SH - PT + kh;
        if (ih < 0 || ih >= IH) continue;
        for (memory::dim kw = 0; kw < KW; kw++) {
          const memory::dim iw = ow * SW - PL + kw;
          if (iw < 0 || iw >= IW) continue;
          const float* xi = xn + (ih * IW + iw) * C;
          float* dxi = dxn + (ih * IW + iw) * C;
#pragma omp simd
          for (memory::dim c = 0; c < C; c++) {
            const bool hit = taken[c] == 0.f && xi[c] == m[c];
            dxi[c] += hit ? g[c] : 0.f;
            taken[c] = hit ? 1.f : taken[c];
          }
        }
      }
    }
}

Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 16);
  const memory::dim N = D(p[0]), IH = D(p[1]), IW = D(p[2]), C = D(p[3]), OH = D(p[4]), OW = D(p[5]);
  const memory::dim KH = D(p[6]), KW = D(p[7]), SH = D(p[8]), SW = D(p[9]), PT = D(p[10]), PL = D(p[11]);
  const float* x = static_cast<const float*>(at(heap, p[12]));
  const float* y = static_cast<const float*>(at(heap, p[13]));
  const float* dy = static_cast<const float*>(at(heap, p[14]));
  float* dx = static_cast<float*>(at(heap, p[15]));
  // Parallel over images: windows of one image may overlap, windows of two images never do.
#pragma omp parallel num_threads(threadsFor(4.0 * N * IH * IW * C, 1 << 18))
  {
    std::unique_ptr<float[]> taken(new float[C]);
#pragma omp for schedule(static)
    for (memory::dim n = 0; n < N; n++) {
      maxPoolGradImage(x + n * IH * IW * C, y + n * OH * OW * C, dy + n * OH * OW * C, dx + n * IH * IW * C, taken.get(), IH, IW, C, OH, OW, KH, KW, SH, SW, PT, PL);
    }
  }
  return info.Env().Undefined();
}

// ---- matrix multiplication -----------------------------------------------------------------
// Parameters: 0 batch of a (1 broadcasts), 1 batch of b, 2 M, 3 K, 4 N, 5 transpose a,
// 6 transpose b, 7 has bias, 8 activation, 9 alpha; offsets: 10 a, 11 b, 12 out, 13 bias.
// Transposes are strides: oneDNN reads a transposed operand where it is, no copy.
constexpr size_t MM_KEY = 10;

struct MatMulEntry {
  primitive prim;
  memory a, b, c, bias, scratch;
  Buffer scratch_buf;
  bool hasBias = false;
  int threads = 1;
};

std::unordered_map<std::string, std::unique_ptr<MatMulEntry>> mmCache;

MatMulEntry& mmEntry(const double* p) {
  auto key = keyOf(p, MM_KEY);
  auto it = mmCache.find(key);
  if (it != mmCache.end()) return *it->second;
  auto e = std::make_unique<MatMulEntry>();
  const memory::dim BA = D(p[0]), BB = D(p[1]), M = D(p[2]), K = D(p[3]), N = D(p[4]);
  const bool ta = p[5] != 0, tb = p[6] != 0;
  e->hasBias = p[7] != 0;
  const memory::dim B = BA > BB ? BA : BB;
  e->threads = threadsFor(2.0 * B * M * N * K, 4e6);
  ThreadScope scope(e->threads);
  memory::desc a_md({BA, M, K}, dt::f32, ta ? dims{M * K, 1, M} : dims{M * K, K, 1});
  memory::desc b_md({BB, K, N}, dt::f32, tb ? dims{K * N, 1, K} : dims{K * N, N, 1});
  memory::desc c_md({B, M, N}, dt::f32, dims{M * N, N, 1});
  memory::desc bias_md = e->hasBias ? memory::desc({1, 1, N}, dt::f32, dims{N, N, 1}) : memory::desc();
  matmul::desc d(a_md, b_md, bias_md, c_md);
  matmul::primitive_desc pd(d, userScratchpad(static_cast<int>(p[8]), static_cast<float>(p[9])), eng());
  e->prim = matmul(pd);
  e->a = memory(a_md, eng(), nullptr);
  e->b = memory(b_md, eng(), nullptr);
  e->c = memory(c_md, eng(), nullptr);
  if (e->hasBias) e->bias = memory(bias_md, eng(), nullptr);
  e->scratch_buf.ensure(pd.scratchpad_desc().get_size() + 64);
  e->scratch = memory(pd.scratchpad_desc(), eng(), e->scratch_buf.ptr);
  auto& ref = *e;
  mmCache.emplace(key, std::move(e));
  return ref;
}

Napi::Value MatMul(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 14);
  MatMulEntry& e = mmEntry(p);
  e.a.set_data_handle(at(heap, p[10]));
  e.b.set_data_handle(at(heap, p[11]));
  e.c.set_data_handle(at(heap, p[12]));
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, e.a}, {DNNL_ARG_WEIGHTS, e.b}, {DNNL_ARG_DST, e.c}, {DNNL_ARG_SCRATCHPAD, e.scratch}};
  if (e.hasBias) {
    e.bias.set_data_handle(at(heap, p[13]));
    args[DNNL_ARG_BIAS] = e.bias;
  }
  auto& s = strm();
  ThreadScope scope(e.threads);
  e.prim.execute(s, args);
  s.wait();
  return info.Env().Undefined();
}

/** Splits [0, n) over the threads that `work` (bytes touched) justifies and runs fn(lo, hi) on each part. */
template <typename F>
void parallelRange(memory::dim n, double work, F&& fn) {
  const int T = threadsFor(work, 1 << 18);
  if (T <= 1) {
    fn(memory::dim(0), n);
    return;
  }
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    fn(n * t / nt, n * (t + 1) / nt);
  }
}

// ---- batch normalisation (galmorph's closed-form layer) -------------------------------------
// Per-channel statistics and the affine maps of src/models/layers/batch-norm.ts over NHWC data
// viewed as [m, C]: one pass each, parallel over rows with per-thread partial sums.
// BnStats: params 0 m, 1 C; offsets 2 x, 3 mean out, 4 variance out (biased, over m).
// BnBackwardSums: params 0 m, 1 C; offsets 2 dy, 3 x, 4 mean, 5 sum(dy) out, 6 sum(dy·(x − mean)) out.
// BnAffine: params 0 m, 1 C, 2 has x2; offsets 3 in, 4 scale, 5 shift, 6 out, 7 x2, 8 scale2,
//   9 center: out = in·scale + shift (+ (x2 − center)·scale2) per channel.
// Both centre x on the mean: Σdy·x − μ·Σdy and x·b − μ·b cancel in float32 when |μ| >> σ.
template <typename F>
void channelSums(memory::dim m, memory::dim C, double* acc, int parts, F&& rows) {
  // acc: threads × parts × C doubles, zeroed by the caller; rows(lo, hi, dst) adds rows [lo, hi).
  const int T = threadsFor(4.0 * m * C, 1 << 18);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    rows(m * t / nt, m * (t + 1) / nt, acc + static_cast<size_t>(t) * parts * C);
  }
  for (int t = 1; t < T; t++)
    for (memory::dim i = 0; i < parts * C; i++) acc[i] += acc[static_cast<size_t>(t) * parts * C + i];
}

GALMORPH_CLONES void statsRows(const float* x, memory::dim C, memory::dim lo, memory::dim hi, double* s) {
  for (memory::dim r = lo; r < hi; r++) {
    const float* row = x + r * C;
#pragma omp simd
    for (memory::dim c = 0; c < C; c++) {
      const double d = static_cast<double>(row[c]) - x[c];
      s[c] += d;
      s[C + c] += d * d;
    }
  }
}

GALMORPH_CLONES void gradSumRows(const float* dy, const float* x, const float* mean, memory::dim C, memory::dim lo, memory::dim hi, double* s) {
  for (memory::dim r = lo; r < hi; r++) {
    const float* g = dy + r * C;
    const float* v = x + r * C;
#pragma omp simd
    for (memory::dim c = 0; c < C; c++) {
      s[c] += g[c];
      s[C + c] += static_cast<double>(g[c]) * (v[c] - mean[c]);
    }
  }
}

Napi::Value BnStats(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 5);
  const memory::dim m = D(p[0]), C = D(p[1]);
  const float* x = static_cast<const float*>(at(heap, p[2]));
  float* mean = static_cast<float*>(at(heap, p[3]));
  float* var = static_cast<float*>(at(heap, p[4]));
  const int T = wantThreads();
  // Shifted sums (about the first row) keep the variance accurate when |mean| >> std.
  std::unique_ptr<double[]> acc(new double[static_cast<size_t>(T) * 2 * C]());
  channelSums(m, C, acc.get(), 2, [&](memory::dim lo, memory::dim hi, double* s) { statsRows(x, C, lo, hi, s); });
  for (memory::dim c = 0; c < C; c++) {
    const double mu = acc[c] / m;
    mean[c] = static_cast<float>(x[c] + mu);
    const double v = acc[C + c] / m - mu * mu;
    var[c] = static_cast<float>(v > 0 ? v : 0);
  }
  return info.Env().Undefined();
}

Napi::Value BnBackwardSums(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 7);
  const memory::dim m = D(p[0]), C = D(p[1]);
  const float* dy = static_cast<const float*>(at(heap, p[2]));
  const float* x = static_cast<const float*>(at(heap, p[3]));
  const float* mean = static_cast<const float*>(at(heap, p[4]));
  float* sdy = static_cast<float*>(at(heap, p[5]));
  float* sdyx = static_cast<float*>(at(heap, p[6]));
  const int T = wantThreads();
  std::unique_ptr<double[]> acc(new double[static_cast<size_t>(T) * 2 * C]());
  channelSums(m, C, acc.get(), 2, [&](memory::dim lo, memory::dim hi, double* s) { gradSumRows(dy, x, mean, C, lo, hi, s); });
  for (memory::dim c = 0; c < C; c++) {
    sdy[c] = static_cast<float>(acc[c]);
    sdyx[c] = static_cast<float>(acc[C + c]);
  }
  return info.Env().Undefined();
}

GALMORPH_CLONES void affineRows(const float* in, const float* scale, const float* shift, const float* x2, const float* scale2, const float* center, float* out, memory::dim C, memory::dim lo, memory::dim hi) {
  for (memory::dim r = lo; r < hi; r++) {
    const float* a = in + r * C;
    float* o = out + r * C;
    if (x2) {
      const float* b = x2 + r * C;
#pragma omp simd
      for (memory::dim c = 0; c < C; c++) o[c] = a[c] * scale[c] + shift[c] + (b[c] - center[c]) * scale2[c];
    } else {
#pragma omp simd
      for (memory::dim c = 0; c < C; c++) o[c] = a[c] * scale[c] + shift[c];
    }
  }
}

Napi::Value BnAffine(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 10);
  const memory::dim m = D(p[0]), C = D(p[1]);
  const bool two = p[2] != 0;
  const float* center = two ? static_cast<const float*>(at(heap, p[9])) : nullptr;
  const float* in = static_cast<const float*>(at(heap, p[3]));
  const float* scale = static_cast<const float*>(at(heap, p[4]));
  const float* shift = static_cast<const float*>(at(heap, p[5]));
  float* out = static_cast<float*>(at(heap, p[6]));
  const float* x2 = two ? static_cast<const float*>(at(heap, p[7])) : nullptr;
  const float* scale2 = two ? static_cast<const float*>(at(heap, p[8])) : nullptr;
  parallelRange(m, 8.0 * m * C, [&](memory::dim lo, memory::dim hi) { affineRows(in, scale, shift, x2, scale2, center, out, C, lo, hi); });
  return info.Env().Undefined();
}

// ---- element-wise ops and reductions -----------------------------------------------------------
// The passes over whole activations that are left once the convolutions are native: on wasm they
// run on one thread, 4 floats at a time.

/** e^x in float32 for vector loops (Cephes' polynomial; relative error about 1e-7): libm's expf does not vectorise. */
static inline float vexp(float x) {
  x = x < -87.f ? -87.f : (x > 88.f ? 88.f : x);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
static inline float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }

// Unary ops. Parameters: 0 op, 1 n; offsets 2 x, 3 dy (gradients only), 4 out; 5 alpha (step).
// Ops: 0 relu(x), 1 sigmoid(x), 2 swish x·σ(x), 3 swish's gradient dy·σ(x)·(1 + x·(1 − σ(x))),
// 4 step(x) = 1 where x > 0, else alpha (the mask of tfjs's ReLU gradient).
GALMORPH_CLONES void unaryLoop(int op, const float* x, const float* dy, float* o, float alpha, memory::dim lo, memory::dim hi) {
  switch (op) {
    case 0:
#pragma omp simd
      for (memory::dim i = lo; i < hi; i++) o[i] = x[i] > 0.f ? x[i] : 0.f;
      break;
    case 1:
#pragma omp simd
      for (memory::dim i = lo; i < hi; i++) o[i] = vsigmoid(x[i]);
      break;
    case 2:
#pragma omp simd
      for (memory::dim i = lo; i < hi; i++) o[i] = x[i] * vsigmoid(x[i]);
      break;
    case 3:
#pragma omp simd
      for (memory::dim i = lo; i < hi; i++) {
        const float s = vsigmoid(x[i]);
        o[i] = dy[i] * s * (1.f + x[i] * (1.f - s));
      }
      break;
    case 4:
#pragma omp simd
      for (memory::dim i = lo; i < hi; i++) o[i] = x[i] != x[i] ? x[i] : (x[i] > 0.f ? 1.f : alpha);  // NaN stays NaN, as in tfjs
      break;
    default: break;
  }
}

Napi::Value Unary(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 6);
  const int op = static_cast<int>(p[0]);
  if (op < 0 || op > 4) throw std::runtime_error("galmorph onednn: unknown unary op");
  const memory::dim n = D(p[1]);
  const float* x = static_cast<const float*>(at(heap, p[2]));
  const float* dy = op == 3 ? static_cast<const float*>(at(heap, p[3])) : nullptr;
  float* o = static_cast<float*>(at(heap, p[4]));
  // σ costs about ten flops an element: worth a second thread at a smaller size than a copy.
  parallelRange(n, (op == 0 ? 4.0 : 16.0) * n, [&](memory::dim lo, memory::dim hi) { unaryLoop(op, x, dy, o, static_cast<float>(p[5]), lo, hi); });
  return info.Env().Undefined();
}

// Binary ops with broadcasting. The output is viewed as [outer, mid, inner]; the full operand has
// that shape, the broadcast one [outer, 1, inner] (a scalar: 1 × n × 1; per channel: 1 × rows × C;
// per image and channel, as squeeze-and-excitation scales: N × HW × C). Parameters: 0 op (0 a·b,
// 1 a + b, 2 a − b, 3 a / b, 4 min(a, b), 5 max(a, b)), 1 outer, 2 mid, 3 inner, 4 which operand
// is broadcast (0 neither, 1 b, 2 a); offsets 5 a, 6 b, 7 out.
// Minimum with a scalar is how tfjs-layers computes ReLU6 (min(6, relu(x))): 35 of them in
// MobileNetV2, which on wasm's broadcasting path cost seven times its convolutions.
template <int OP>
static inline float binop(float a, float b) {
  if constexpr (OP == 0) return a * b;
  if constexpr (OP == 1) return a + b;
  if constexpr (OP == 2) return a - b;
  if constexpr (OP == 3) return a / b;
  // NaN in either operand gives NaN, as Math.min / Math.max (tfjs's reference) do; a + b carries it.
  if constexpr (OP == 4) return (a != a || b != b) ? a + b : (a < b ? a : b);
  return (a != a || b != b) ? a + b : (a > b ? a : b);
}

template <int OP>
GALMORPH_CLONES void binaryRows(const float* a, const float* b, float* o, int side, memory::dim inner, memory::dim mid, memory::dim lo, memory::dim hi) {
  // [lo, hi) counts rows of `inner` elements over outer × mid; the broadcast operand's row is row / mid.
  for (memory::dim r = lo; r < hi; r++) {
    float* out = o + r * inner;
    if (side == 0) {
      const float* x = a + r * inner;
      const float* y = b + r * inner;
#pragma omp simd
      for (memory::dim i = 0; i < inner; i++) out[i] = binop<OP>(x[i], y[i]);
    } else if (side == 1) {
      const float* x = a + r * inner;
      const float* y = b + (r / mid) * inner;
#pragma omp simd
      for (memory::dim i = 0; i < inner; i++) out[i] = binop<OP>(x[i], y[i]);
    } else {
      const float* x = a + (r / mid) * inner;
      const float* y = b + r * inner;
#pragma omp simd
      for (memory::dim i = 0; i < inner; i++) out[i] = binop<OP>(x[i], y[i]);
    }
  }
}

template <int OP>
GALMORPH_CLONES void binaryScalar(const float* a, const float* b, float* o, int side, memory::dim lo, memory::dim hi) {
  if (side == 1) {
    const float y = *b;
#pragma omp simd
    for (memory::dim i = lo; i < hi; i++) o[i] = binop<OP>(a[i], y);
  } else {
    const float x = *a;
#pragma omp simd
    for (memory::dim i = lo; i < hi; i++) o[i] = binop<OP>(x, b[i]);
  }
}

template <int OP>
void binary(const float* a, const float* b, float* o, int side, memory::dim outer, memory::dim mid, memory::dim inner) {
  const memory::dim n = outer * mid * inner;
  if (side == 0 || (outer == 1 && inner == 1)) {
    // Same shapes, or a scalar: one flat loop.
    if (side == 0) {
      parallelRange(n, 12.0 * n, [&](memory::dim lo, memory::dim hi) { binaryRows<OP>(a + lo, b + lo, o + lo, 0, hi - lo, 1, 0, 1); });
    } else {
      parallelRange(n, 8.0 * n, [&](memory::dim lo, memory::dim hi) { binaryScalar<OP>(a, b, o, side, lo, hi); });
    }
    return;
  }
  parallelRange(outer * mid, 8.0 * n, [&](memory::dim lo, memory::dim hi) { binaryRows<OP>(a, b, o, side, inner, mid, lo, hi); });
}

Napi::Value Binary(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 8);
  const int op = static_cast<int>(p[0]);
  const memory::dim outer = D(p[1]), mid = D(p[2]), inner = D(p[3]);
  const int side = static_cast<int>(p[4]);
  if (side < 0 || side > 2) throw std::runtime_error("galmorph onednn: broadcast side must be 0, 1 or 2");
  const float* a = static_cast<const float*>(at(heap, p[5]));
  const float* b = static_cast<const float*>(at(heap, p[6]));
  float* o = static_cast<float*>(at(heap, p[7]));
  switch (op) {
    case 0: binary<0>(a, b, o, side, outer, mid, inner); break;
    case 1: binary<1>(a, b, o, side, outer, mid, inner); break;
    case 2: binary<2>(a, b, o, side, outer, mid, inner); break;
    case 3: binary<3>(a, b, o, side, outer, mid, inner); break;
    case 4: binary<4>(a, b, o, side, outer, mid, inner); break;
    case 5: binary<5>(a, b, o, side, outer, mid, inner); break;
    default: throw std::runtime_error("galmorph onednn: unknown binary op");
  }
  return info.Env().Undefined();
}

// Sum or mean over the middle axis of x viewed as [outer, mid, inner] (e.g. a global average pool:
// N × HW × C; a bias gradient: 1 × rows × C). tfjs's wasm reduction transposes the whole tensor
// first when the reduced axes are not the innermost. Accumulates in double per (outer, inner).
// Parameters: 0 mean (0 sum, 1 mean), 1 outer, 2 mid, 3 inner; offsets 4 x, 5 out.
GALMORPH_CLONES void sumRows(const float* x, double* acc, memory::dim inner, memory::dim lo, memory::dim hi) {
  for (memory::dim r = lo; r < hi; r++) {
    const float* row = x + r * inner;
#pragma omp simd
    for (memory::dim i = 0; i < inner; i++) acc[i] += row[i];
  }
}

Napi::Value Reduce(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 6);
  const bool mean = p[0] != 0;
  const memory::dim outer = D(p[1]), mid = D(p[2]), inner = D(p[3]);
  const float* x = static_cast<const float*>(at(heap, p[4]));
  float* out = static_cast<float*>(at(heap, p[5]));
  const double scale = mean ? 1.0 / static_cast<double>(mid) : 1.0;
  const int T = threadsFor(4.0 * outer * mid * inner, 1 << 18);
  if (outer >= T) {
    // Whole outer slices per thread (global pooling of a batch).
#pragma omp parallel num_threads(T)
    {
      std::unique_ptr<double[]> acc(new double[inner]);
#pragma omp for schedule(static)
      for (memory::dim o = 0; o < outer; o++) {
        std::fill(acc.get(), acc.get() + inner, 0.0);
        sumRows(x + o * mid * inner, acc.get(), inner, 0, mid);
        for (memory::dim i = 0; i < inner; i++) out[o * inner + i] = static_cast<float>(acc[i] * scale);
      }
    }
  } else {
    // Few slices: split each slice's rows over the threads, then add the partial sums.
    std::unique_ptr<double[]> acc(new double[static_cast<size_t>(T) * inner]);
    for (memory::dim o = 0; o < outer; o++) {
      std::fill(acc.get(), acc.get() + static_cast<size_t>(T) * inner, 0.0);
      const float* slice = x + o * mid * inner;
#pragma omp parallel num_threads(T)
      {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        sumRows(slice, acc.get() + static_cast<size_t>(t) * inner, inner, mid * t / nt, mid * (t + 1) / nt);
      }
      for (memory::dim i = 0; i < inner; i++) {
        double s = 0;
        for (int t = 0; t < T; t++) s += acc[static_cast<size_t>(t) * inner + i];
        out[o * inner + i] = static_cast<float>(s * scale);
      }
    }
  }
  return info.Env().Undefined();
}

// ---- Adam ---------------------------------------------------------------------------------------
// One pass per variable for tfjs's Adam update, which tfjs composes from about thirteen kernels per
// variable (EfficientNetB0 has 213 variables: 2,800 kernel calls a step, most on tiny tensors):
//   m' = β1·m + (1 − β1)·g,  v' = β2·v + (1 − β2)·g²,  w' = w − lr·(m'/c1) / (√(v'/c2) + ε)
// with the bias corrections c1 = 1 − β1^t, c2 = 1 − β2^t. Parameters: 0 n, 1 lr, 2 β1, 3 β2, 4 ε,
// 5 c1, 6 c2, 7 1 − β1, 8 1 − β2 (in double, as tfjs computes them: 1 − 0.999f in float32 is off
// by 1e-5); offsets 9 w, 10 m, 11 v, 12 g, 13 w', 14 m', 15 v'.
GALMORPH_CLONES void adamLoop(const float* w, const float* m, const float* v, const float* g, float* w2, float* m2, float* v2, float lr, float b1, float b2, float eps, float c1, float c2, float d1, float d2, memory::dim lo, memory::dim hi) {
#pragma omp simd
  for (memory::dim i = lo; i < hi; i++) {
    const float mi = m[i] * b1 + g[i] * d1;
    const float vi = v[i] * b2 + g[i] * g[i] * d2;
    m2[i] = mi;
    v2[i] = vi;
    w2[i] = w[i] + (mi / c1) / (std::sqrt(vi / c2) + eps) * -lr;
  }
}

Napi::Value Adam(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 16);
  const memory::dim n = D(p[0]);
  auto f = [&](int i) { return static_cast<const float*>(at(heap, p[i])); };
  auto o = [&](int i) { return static_cast<float*>(at(heap, p[i])); };
  const float lr = static_cast<float>(p[1]), b1 = static_cast<float>(p[2]), b2 = static_cast<float>(p[3]), eps = static_cast<float>(p[4]);
  const float c1 = static_cast<float>(p[5]), c2 = static_cast<float>(p[6]), d1 = static_cast<float>(p[7]), d2 = static_cast<float>(p[8]);
  parallelRange(n, 28.0 * n, [&](memory::dim lo, memory::dim hi) { adamLoop(f(9), f(10), f(11), f(12), o(13), o(14), o(15), lr, b1, b2, eps, c1, c2, d1, d2, lo, hi); });
  return info.Env().Undefined();
}

// ---- set-up and reports --------------------------------------------------------------------
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "galmorph onednn: thread count must be at least 1");
  userThreads = n;
  // Primitives were partitioned for the old count.
  convCache.clear();
  poolCache.clear();
  mmCache.clear();
  return info.Env().Undefined();
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), wantThreads()); }

const char* isaName(cpu_isa isa) {
  switch (isa) {
    case cpu_isa::sse41: return "sse41";
    case cpu_isa::avx: return "avx";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx2_vnni: return "avx2_vnni";
    case cpu_isa::avx512_core: return "avx512_core";
    case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const dnnl_version_t* v = dnnl_version();
  auto o = Napi::Object::New(env);
  o.Set("version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("isa", isaName(get_effective_cpu_isa()));
  o.Set("runtime", v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB" : "other");
  o.Set("threads", wantThreads());
  o.Set("cachedPrimitives", static_cast<double>(convCache.size() + poolCache.size() + mmCache.size()));
  return o;
}

Napi::Value ClearCache(const Napi::CallbackInfo& info) {
  convCache.clear();
  poolCache.clear();
  mmCache.clear();
  return info.Env().Undefined();
}

/** Wraps a kernel so that oneDNN's errors become JS errors with the status. */
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const dnnl::error& err) {
    throw Napi::Error::New(info.Env(), std::string("galmorph onednn: ") + err.what() + " (status " + std::to_string(static_cast<int>(err.status)) + ")");
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "galmorph onednn: out of memory");
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("conv", Napi::Function::New<guarded<Conv>>(env, "conv"));
  exports.Set("pool", Napi::Function::New<guarded<Pool>>(env, "pool"));
  exports.Set("maxPoolGrad", Napi::Function::New<guarded<MaxPoolGrad>>(env, "maxPoolGrad"));
  exports.Set("matmul", Napi::Function::New<guarded<MatMul>>(env, "matmul"));
  exports.Set("bnStats", Napi::Function::New<guarded<BnStats>>(env, "bnStats"));
  exports.Set("bnBackwardSums", Napi::Function::New<guarded<BnBackwardSums>>(env, "bnBackwardSums"));
  exports.Set("bnAffine", Napi::Function::New<guarded<BnAffine>>(env, "bnAffine"));
  exports.Set("unary", Napi::Function::New<guarded<Unary>>(env, "unary"));
  exports.Set("binary", Napi::Function::New<guarded<Binary>>(env, "binary"));
  exports.Set("reduce", Napi::Function::New<guarded<Reduce>>(env, "reduce"));
  exports.Set("adam", Napi::Function::New<guarded<Adam>>(env, "adam"));
  exports.Set("setThreads", Napi::Function::New<guarded<SetThreads>>(env, "setThreads"));
  exports.Set("threads", Napi::Function::New<guarded<Threads>>(env, "threads"));
  exports.Set("info", Napi::Function::New<guarded<Info>>(env, "info"));
  exports.Set("clearCache", Napi::Function::New<guarded<ClearCache>>(env, "clearCache"));
  return exports;
}

}  // namespace

NODE_API_MODULE(galmorph_onednn, Init)
