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
#pragma omp parallel for schedule(static) num_threads(threadsFor(4.0 * N * IH * IW * C, 1 << 18))
  for (memory::dim n = 0; n < N; n++) {
    const float* xn = x + n * IH * IW * C;
    float* dxn = dx + n * IH * IW * C;
    std::memset(dxn, 0, sizeof(float) * IH * IW * C);
    for (memory::dim oh = 0; oh < OH; oh++)
      for (memory::dim ow = 0; ow < OW; ow++) {
        const memory::dim o = ((n * OH + oh) * OW + ow) * C;
        for (memory::dim c = 0; c < C; c++) {
          const float m = y[o + c];
          bool found = false;
          for (memory::dim kh = 0; kh < KH && !found; kh++) {
            const memory::dim ih = oh * SH - PT + kh;
            if (ih < 0 || ih >= IH) continue;
            for (memory::dim kw = 0; kw < KW; kw++) {
              const memory::dim iw = ow * SW - PL + kw;
              if (iw < 0 || iw >= IW) continue;
              const memory::dim i = (ih * IW + iw) * C + c;
              if (xn[i] == m) {
                dxn[i] += dy[o + c];
                found = true;
                break;
              }
            }
          }
        }
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

// ---- batch normalisation (galmorph's closed-form layer) -------------------------------------
// Per-channel statistics and the affine maps of src/models/layers/batch-norm.ts over NHWC data
// viewed as [m, C]: one pass each, parallel over rows with per-thread partial sums.
// BnStats: params 0 m, 1 C; offsets 2 x, 3 mean out, 4 variance out (biased, over m).
// BnBackwardSums: params 0 m, 1 C; offsets 2 dy, 3 x, 4 mean, 5 sum(dy) out, 6 sum(dy·(x − mean)) out.
// BnAffine: params 0 m, 1 C, 2 has x2; offsets 3 in, 4 scale, 5 shift, 6 out, 7 x2, 8 scale2,
//   9 center: out = in·scale + shift (+ (x2 − center)·scale2) per channel.
// Both centre x on the mean: Σdy·x − μ·Σdy and x·b − μ·b cancel in float32 when |μ| >> σ.
template <typename F>
void channelSums(memory::dim m, memory::dim C, double* acc, int parts, F&& row) {
  // acc: parts × parts-of-sums × C doubles, zeroed by the caller; row(r, dst) adds row r.
  const int T = threadsFor(4.0 * m * C, 1 << 18);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* mine = acc + static_cast<size_t>(t) * parts * C;
    const memory::dim lo = m * t / nt, hi = m * (t + 1) / nt;
    for (memory::dim r = lo; r < hi; r++) row(r, mine);
  }
  for (int t = 1; t < T; t++)
    for (memory::dim i = 0; i < parts * C; i++) acc[i] += acc[static_cast<size_t>(t) * parts * C + i];
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
  channelSums(m, C, acc.get(), 2, [&](memory::dim r, double* s) {
    const float* row = x + r * C;
    for (memory::dim c = 0; c < C; c++) {
      const double d = static_cast<double>(row[c]) - x[c];
      s[c] += d;
      s[C + c] += d * d;
    }
  });
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
  channelSums(m, C, acc.get(), 2, [&](memory::dim r, double* s) {
    const float* g = dy + r * C;
    const float* v = x + r * C;
    for (memory::dim c = 0; c < C; c++) {
      s[c] += g[c];
      s[C + c] += static_cast<double>(g[c]) * (v[c] - mean[c]);
    }
  });
  for (memory::dim c = 0; c < C; c++) {
    sdy[c] = static_cast<float>(acc[c]);
    sdyx[c] = static_cast<float>(acc[C + c]);
  }
  return info.Env().Undefined();
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
#pragma omp parallel for schedule(static) num_threads(threadsFor(4.0 * m * C, 1 << 18))
  for (memory::dim r = 0; r < m; r++) {
    const float* a = in + r * C;
    float* o = out + r * C;
    if (two) {
      const float* b = x2 + r * C;
#pragma omp simd
      for (memory::dim c = 0; c < C; c++) o[c] = a[c] * scale[c] + shift[c] + (b[c] - center[c]) * scale2[c];
    } else {
#pragma omp simd
      for (memory::dim c = 0; c < C; c++) o[c] = a[c] * scale[c] + shift[c];
    }
  }
  return info.Env().Undefined();
}

// ---- element-wise ops ------------------------------------------------------------------------
// The passes over whole activations that are left once the convolutions are native: on wasm they
// run on one thread, 4 floats at a time. Parameters: 0 op, 1 n (elements); offsets 2 a, 3 b,
// 4 out. Ops: 0 relu(a), 1 a·b, 2 a + b, 3 a − b (same shapes; tfjs's ReLU gradient and Adam's
// updates are made of these).
Napi::Value Eltwise(const Napi::CallbackInfo& info) {
  char* heap = heapOf(info);
  const double* p = paramsOf(info, 5);
  const int op = static_cast<int>(p[0]);
  if (op < 0 || op > 3) throw std::runtime_error("galmorph onednn: unknown element-wise op");
  const memory::dim n = D(p[1]);
  const float* a = static_cast<const float*>(at(heap, p[2]));
  const float* b = static_cast<const float*>(at(heap, p[3]));
  float* o = static_cast<float*>(at(heap, p[4]));
  const int T = threadsFor(4.0 * n, 1 << 18);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const memory::dim lo = n * t / nt, hi = n * (t + 1) / nt;
    switch (op) {
      case 0:
#pragma omp simd
        for (memory::dim i = lo; i < hi; i++) o[i] = a[i] > 0.f ? a[i] : 0.f;
        break;
      case 1:
#pragma omp simd
        for (memory::dim i = lo; i < hi; i++) o[i] = a[i] * b[i];
        break;
      case 2:
#pragma omp simd
        for (memory::dim i = lo; i < hi; i++) o[i] = a[i] + b[i];
        break;
      case 3:
#pragma omp simd
        for (memory::dim i = lo; i < hi; i++) o[i] = a[i] - b[i];
        break;
      default: break;
    }
  }
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
  exports.Set("eltwise", Napi::Function::New<guarded<Eltwise>>(env, "eltwise"));
  exports.Set("setThreads", Napi::Function::New<guarded<SetThreads>>(env, "setThreads"));
  exports.Set("threads", Napi::Function::New<guarded<Threads>>(env, "threads"));
  exports.Set("info", Napi::Function::New<guarded<Info>>(env, "info"));
  exports.Set("clearCache", Napi::Function::New<guarded<ClearCache>>(env, "clearCache"));
  return exports;
}

}  // namespace

NODE_API_MODULE(galmorph_onednn, Init)
