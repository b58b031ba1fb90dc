# Third-party code, all from Debian packages (scripts/install-deps).
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG)
find_package(OpenSSL REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(SQLiteCpp REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CURL REQUIRED)
# jemalloc as herald's allocator: the loop allocates many short-lived strings
# of mixed sizes, where glibc's malloc spends much of its time consolidating
# (BENCHMARKS.md, issue 4).
find_package(PkgConfig REQUIRED)
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
if(HERALD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(HERALD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Boost.Asio as a compiled-once library: BOOST_ASIO_SEPARATE_COMPILATION keeps
# the heavy implementation in one translation unit (cmake/asio_impl.cpp).
add_library(herald_asio STATIC ${CMAKE_CURRENT_LIST_DIR}/asio_impl.cpp)
target_link_libraries(herald_asio PUBLIC Boost::headers Threads::Threads OpenSSL::SSL OpenSSL::Crypto)
target_compile_definitions(herald_asio PUBLIC BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_SEPARATE_COMPILATION)
