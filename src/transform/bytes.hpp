#pragma once
// Internal to src/transform: bounds-checked reading and little-endian writing of untrusted bytes
// (file headers in probe.cpp, worker frames in framing.cpp). A read past the end yields zeros
// and makes ok() false, so a parser can read a whole fixed layout and check once.

#include <cstdint>
#include <string>
#include <string_view>

namespace mando::transform::detail {

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes, std::size_t pos = 0) : bytes_(bytes), pos_(pos) {}

  bool ok() const { return pos_ <= bytes_.size(); }
  bool has(std::size_t n) const { return ok() && bytes_.size() - pos_ >= n; }
  bool at_end() const { return pos_ == bytes_.size(); }
  std::size_t remaining() const { return ok() ? bytes_.size() - pos_ : 0; }

  void skip(std::size_t n) { pos_ = has(n) ? pos_ + n : bytes_.size() + 1; }
  std::uint8_t u8() {
    if (!has(1)) {
      pos_ = bytes_.size() + 1;
      return 0;
    }
    return static_cast<std::uint8_t>(bytes_[pos_++]);
  }
  std::uint16_t u16le() {
    const std::uint16_t lo = u8();
    return static_cast<std::uint16_t>(lo | (u8() << 8));
  }
  std::uint16_t u16be() {
    const std::uint16_t hi = u8();
    return static_cast<std::uint16_t>((hi << 8) | u8());
  }
  std::uint32_t u32le() {
    const std::uint32_t lo = u16le();
    return lo | (std::uint32_t{u16le()} << 16);
  }
  std::uint32_t u32be() {
    const std::uint32_t hi = u16be();
    return (hi << 16) | u16be();
  }
  std::uint64_t u64le() {
    const std::uint64_t lo = u32le();
    return lo | (std::uint64_t{u32le()} << 32);
  }
  // The next n bytes, or "" (and !ok()) when fewer remain.
  std::string_view take(std::size_t n) {
    if (!has(n)) {
      pos_ = bytes_.size() + 1;
      return {};
    }
    const auto out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::string_view bytes_;
  std::size_t pos_;
};

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void put_u32le(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) put_u8(out, static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void put_u64le(std::string& out, std::uint64_t v) {
  put_u32le(out, static_cast<std::uint32_t>(v));
  put_u32le(out, static_cast<std::uint32_t>(v >> 32));
}

}  // namespace mando::transform::detail
