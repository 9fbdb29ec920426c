#pragma once
// Owners for C library handles: CHandle<cairo_t, cairo_destroy> is a unique_ptr that calls
// cairo_destroy. Every C handle in mando has one (render: Cairo, libspng, libwebp; transform:
// libvips, glib, libseccomp).

#include <memory>

namespace mando::core {

template <auto Free>
struct CFree {
  template <typename T>
  void operator()(T* handle) const {
    Free(handle);
  }
};

template <typename T, auto Free>
using CHandle = std::unique_ptr<T, CFree<Free>>;

}  // namespace mando::core
