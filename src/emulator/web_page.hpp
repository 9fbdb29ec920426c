#pragma once
// The emulator's web page (web/index.html), embedded at build time by CMake (web_page.cpp.in):
// one self-contained HTML file with inline CSS and JS, served at / and /index.html.

#include <string_view>

namespace mando::emulator {

std::string_view web_page_html();

}  // namespace mando::emulator
