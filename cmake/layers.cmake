# The library's folders as one object library each, from the folder graph of docs/design.md
# (its rows "| `src/<folder>/` | <folders it sees> | <its public headers> | ... |", in order,
# each naming only folders above it). A folder's include path is a generated tree,
# BUILD/layers/<folder>/, of symbolic links to its own folder, the folders it sees (and what
# they see in turn) and the public headers of all of them: a header of a folder not reachable
# that way is not there, so an upward #include fails to compile (tests/py/test_layers.py). A
# public header the folder may not see is there as a header that stops the build with #error:
# the include path is searched before the system's, so a copy installed in /usr/local/include
# (cmake --install) cannot stand in for it, stale and unchecked.
#
# Sets IRBIS_LAYER_TARGETS (the object libraries, in table order) and, per folder F (with "/"
# as "_" in target names), the object library irbis_F.

file(STRINGS ${CMAKE_SOURCE_DIR}/docs/design.md IRBIS_LAYER_ROWS REGEX "^\\| `src/[a-z0-9_/]+/` \\|")
set(IRBIS_LAYER_TARGETS "")
set(IRBIS_LAYER_ASSIGNED "")
set(IRBIS_LAYER_ROOT ${CMAKE_BINARY_DIR}/layers)
file(REMOVE_RECURSE ${IRBIS_LAYER_ROOT})
file(GLOB IRBIS_PUBLIC_HEADERS CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/include/irbis ${CMAKE_SOURCE_DIR}/include/irbis/*.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/design.md)

foreach(row ${IRBIS_LAYER_ROWS})
  if(NOT row MATCHES "^\\| `src/([a-z0-9_/]+)/` \\|([^|]*)\\|([^|]*)\\|")
    message(FATAL_ERROR "docs/design.md: cannot read the folder graph row: ${row}")
  endif()
  set(folder ${CMAKE_MATCH_1})
  string(STRIP "${CMAKE_MATCH_2}" sees)
  string(STRIP "${CMAKE_MATCH_3}" public)
  separate_arguments(sees UNIX_COMMAND "${sees}")
  separate_arguments(public UNIX_COMMAND "${public}")
  string(REPLACE "/" "_" id ${folder})
  # what the folder sees: itself and, transitively, the folders its row names
  set(visible ${folder})
  set(headers ${public})
  foreach(dep ${sees})
    string(REPLACE "/" "_" dep_id ${dep})
    if(NOT DEFINED IRBIS_LAYER_VISIBLE_${dep_id})
      message(FATAL_ERROR "docs/design.md: src/${folder}/ sees src/${dep}/, which is not a folder above it")
    endif()
    list(APPEND visible ${IRBIS_LAYER_VISIBLE_${dep_id}})
    list(APPEND headers ${IRBIS_LAYER_HEADERS_${dep_id}})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  list(REMOVE_DUPLICATES headers)
  set(IRBIS_LAYER_VISIBLE_${id} ${visible})
  set(IRBIS_LAYER_HEADERS_${id} ${headers})
  # its include tree
  set(tree ${IRBIS_LAYER_ROOT}/${id})
  file(MAKE_DIRECTORY ${tree}/irbis)
  foreach(v ${visible})
    get_filename_component(parent ${tree}/${v} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${v} ${tree}/${v} SYMBOLIC)
  endforeach()
  foreach(h ${headers})
    if(NOT EXISTS ${CMAKE_SOURCE_DIR}/include/irbis/${h}.h)
      message(FATAL_ERROR "docs/design.md: src/${folder}/'s public header include/irbis/${h}.h does not exist")
    endif()
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/include/irbis/${h}.h ${tree}/irbis/${h}.h SYMBOLIC)
  endforeach()
  foreach(hh ${IRBIS_PUBLIC_HEADERS})
    string(REGEX REPLACE "\\.h$" "" h ${hh})
    if(NOT h IN_LIST headers)
      file(WRITE ${tree}/irbis/${hh}
           "#error \"src/${folder}/ may not include irbis/${hh}: not a header of a folder it sees (docs/design.md)\"\n")
    endif()
  endforeach()
  file(WRITE ${tree}/irbis.h "#error \"src/${folder}/ may not include irbis.h, which includes every folder's header\"\n")
  # its object library
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${folder}/*.c)
  if(NOT sources)
    message(FATAL_ERROR "docs/design.md: src/${folder}/ has no .c file")
  endif()
  add_library(irbis_${id} OBJECT ${sources})
  set_target_properties(irbis_${id} PROPERTIES C_VISIBILITY_PRESET hidden POSITION_INDEPENDENT_CODE ON)
  target_include_directories(irbis_${id} PRIVATE ${tree})
  target_link_libraries(irbis_${id} PRIVATE PkgConfig::DEPS)
  list(APPEND IRBIS_LAYER_TARGETS irbis_${id})
  list(APPEND IRBIS_LAYER_ASSIGNED ${sources})
endforeach()

file(GLOB_RECURSE IRBIS_ALL_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/*.c)
list(REMOVE_ITEM IRBIS_ALL_SOURCES ${IRBIS_LAYER_ASSIGNED})
if(IRBIS_ALL_SOURCES)
  message(FATAL_ERROR "${IRBIS_ALL_SOURCES}: in no folder of docs/design.md's folder graph")
endif()
