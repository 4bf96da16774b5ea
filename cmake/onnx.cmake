# ONNX import/export: C code for onnx.proto generated with protoc-c at build
# time, linked against libprotobuf-c. Included by the top-level CMakeLists.txt
# right after tq_objects is defined.
#
# Debian: protobuf-c-compiler (protoc-c), libprotobuf-c-dev, libonnx-dev
# (onnx.proto). The .proto is taken from the system rather than vendored so
# that the schema matches what the installed ONNX tools write.

find_program(TQ_PROTOC_C NAMES protoc-c protoc-gen-c REQUIRED
             DOC "protoc-c, the protobuf-c code generator (protobuf-c-compiler)")
pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c)
find_file(TQ_ONNX_PROTO onnx.proto PATH_SUFFIXES onnx REQUIRED
          DOC "onnx.proto of the ONNX project (libonnx-dev)")

set(TQ_ONNX_GEN_DIR ${PROJECT_BINARY_DIR}/gen)
set(TQ_ONNX_GEN_SOURCES ${TQ_ONNX_GEN_DIR}/onnx.pb-c.c ${TQ_ONNX_GEN_DIR}/onnx.pb-c.h)
# protoc-c wants the .proto under its --proto_path and names the outputs
# after the path relative to it; copying it next to the outputs keeps the
# generated #include "onnx.pb-c.h" plain.
add_custom_command(
  OUTPUT ${TQ_ONNX_GEN_SOURCES}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${TQ_ONNX_GEN_DIR}
  COMMAND ${CMAKE_COMMAND} -E copy ${TQ_ONNX_PROTO} ${TQ_ONNX_GEN_DIR}/onnx.proto
  COMMAND ${TQ_PROTOC_C} --proto_path=${TQ_ONNX_GEN_DIR} --c_out=${TQ_ONNX_GEN_DIR}
          ${TQ_ONNX_GEN_DIR}/onnx.proto
  DEPENDS ${TQ_ONNX_PROTO}
  COMMENT "Generating ONNX protobuf-c code from ${TQ_ONNX_PROTO}"
  VERBATIM)

target_sources(tq_objects PRIVATE ${TQ_ONNX_GEN_SOURCES})
# Generated code is not ours to keep warning-free (and must not trip
# -Werror); -w comes after the target's warning flags on the command line.
set_source_files_properties(${TQ_ONNX_GEN_DIR}/onnx.pb-c.c PROPERTIES
                            GENERATED TRUE COMPILE_OPTIONS "-w")
# SYSTEM: the generated header is included by src/onnx/onnx_*.c, which are
# compiled with the full warning set.
target_include_directories(tq_objects SYSTEM PRIVATE ${TQ_ONNX_GEN_DIR})
target_link_libraries(tq_objects PUBLIC PkgConfig::PROTOBUF_C)

# Every binary that ends up containing the library's objects needs
# libprotobuf-c: the shared and static libraries (created after this file
# is included), the tool, the tests and the fuzzers, which take
# $<TARGET_OBJECTS:tq_objects> rather than linking tq_objects. link_libraries
# applies to every target created later in this directory and below, which
# is exactly that set; the static library passes it on to its users (and
# through TensorQuantTargets.cmake / tensorquant.pc to installed users).
set(TQ_ONNX_LIBRARIES PkgConfig::PROTOBUF_C)
link_libraries(${TQ_ONNX_LIBRARIES})
