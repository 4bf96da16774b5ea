# The HTML report page's style sheet and script (src/analysis/report/
# page.css, page.js), embedded in the library as C arrays at build time by
# cmake/embed_text.cmake. Included by the top-level CMakeLists.txt right
# after tq_objects is defined.

set(TQ_PAGE_DIR ${PROJECT_SOURCE_DIR}/src/analysis/report)
set(TQ_PAGE_GEN_DIR ${PROJECT_BINARY_DIR}/gen)
# file:array pairs; pareto.js draws a search's Pareto front.
foreach(pair page.css:page_css page.js:page_js pareto.js:pareto_js)
  string(REPLACE ":" ";" parts ${pair})
  list(GET parts 0 file)
  list(GET parts 1 part)
  set(out ${TQ_PAGE_GEN_DIR}/report_${part}.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TQ_PAGE_GEN_DIR}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${TQ_PAGE_DIR}/${file} -DOUTPUT=${out}
            -DNAME=tq_report_${part} -DHEADER=analysis/report_page.h
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    DEPENDS ${TQ_PAGE_DIR}/${file} ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    COMMENT "Embedding the report page's ${file}"
    VERBATIM)
  target_sources(tq_objects PRIVATE ${out})
endforeach()
