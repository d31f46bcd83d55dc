{
  # galmorph's oneDNN kernels as a Node addon (N-API through node-addon-api). Built by
  # scripts/build-native.sh against Debian's libdnnl-dev (oneDNN 2.x, OpenMP runtime).
  "targets": [
    {
      "target_name": "galmorph_onednn",
      "sources": ["src/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp"],
      "libraries": ["-ldnnl", "-lgomp"]
    }
  ]
}
