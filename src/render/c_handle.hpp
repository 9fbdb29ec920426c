#pragma once
// Owners for C library handles (Cairo, libspng, libwebp): CHandle<cairo_t, cairo_destroy> is a
// unique_ptr that calls cairo_destroy. Every C handle in src/render has one.

#include <memory>

namespace mando::render {

template <auto Free>
struct CFree {
  template <typename T>
  void operator()(T* handle) const {
    Free(handle);
  }
};

template <typename T, auto Free>
using CHandle = std::unique_ptr<T, CFree<Free>>;

}  // namespace mando::render
