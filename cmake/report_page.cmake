# The HTML report page's style sheet and script (src/analysis/report/
# page.css, page.js), embedded in the library as C arrays at build time by
# cmake/embed_text.cmake. Included by the top-level CMakeLists.txt right
# after tq_objects is defined.

set(TQ_PAGE_DIR ${PROJECT_SOURCE_DIR}/src/analysis/report)
set(TQ_PAGE_GEN_DIR ${PROJECT_BINARY_DIR}/gen)
foreach(part css js)
  set(out ${TQ_PAGE_GEN_DIR}/report_page_${part}.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TQ_PAGE_GEN_DIR}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${TQ_PAGE_DIR}/page.${part} -DOUTPUT=${out}
            -DNAME=tq_report_page_${part} -DHEADER=analysis/report_page.h
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    DEPENDS ${TQ_PAGE_DIR}/page.${part} ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    COMMENT "Embedding the report page's ${part}"
    VERBATIM)
  target_sources(tq_objects PRIVATE ${out})
endforeach()
