# One place for warnings: every herald target links herald_warnings.
add_library(herald_warnings INTERFACE)
target_compile_options(herald_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
  -Wimplicit-fallthrough)
if(HERALD_WERROR)
  target_compile_options(herald_warnings INTERFACE -Werror)
endif()
if(HERALD_SANITIZE)
  target_compile_options(herald_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(herald_warnings INTERFACE -fsanitize=address,undefined)
endif()

# herald_part(NAME SOURCES... LINKS ...): one library per folder.
function(herald_part name)
  cmake_parse_arguments(P "" "" "SOURCES;LINKS" ${ARGN})
  add_library(herald_${name} STATIC ${P_SOURCES})
  target_include_directories(herald_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(herald_${name} PUBLIC ${P_LINKS} PRIVATE herald_warnings)
endfunction()
