# rerank_fuzz_targets: the fuzz targets' logic (fuzz_targets.h). Included by
# fuzz/CMakeLists.txt (libFuzzer executables, clang) and by
# tests/fuzz/CMakeLists.txt (corpus replay, any compiler); defined once.
if(NOT TARGET rerank_fuzz_targets)
  add_library(rerank_fuzz_targets STATIC
    ${CMAKE_SOURCE_DIR}/fuzz/cli_request_target.cc
    ${CMAKE_SOURCE_DIR}/fuzz/interaction_log_target.cc
    ${CMAKE_SOURCE_DIR}/fuzz/manifest_target.cc
    ${CMAKE_SOURCE_DIR}/fuzz/model_dir_target.cc
    ${CMAKE_SOURCE_DIR}/fuzz/npy_header_target.cc
    ${CMAKE_SOURCE_DIR}/fuzz/ranker_file_target.cc
    ${CMAKE_SOURCE_DIR}/fuzz/rerank_request_target.cc
    ${CMAKE_SOURCE_DIR}/fuzz/server_config_target.cc
    ${CMAKE_SOURCE_DIR}/fuzz/text_lines_target.cc)
  target_include_directories(rerank_fuzz_targets PUBLIC ${CMAKE_SOURCE_DIR})
  # Also in the fuzz build, where the modules get -Wno-error.
  target_compile_options(rerank_fuzz_targets PRIVATE -Werror)
  target_compile_definitions(rerank_fuzz_targets PRIVATE
    RERANK_FUZZ_BASE_MODEL_DIR="${CMAKE_SOURCE_DIR}/tests/testdata/model_tiny")
  target_link_libraries(rerank_fuzz_targets PUBLIC
    rerank_scoring rerank_model rerank_ranking rerank_proto rerank_server
    rerank_training rerank_tools
    protobuf::libprotobuf)
endif()
