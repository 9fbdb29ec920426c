#pragma once
// The renderer's C handles (Cairo, libspng, libwebp) use core's owner; see core/c_handle.hpp.

#include "core/c_handle.hpp"

namespace mando::render {

using core::CFree;
using core::CHandle;

}  // namespace mando::render
