# Writes a C source that defines one NUL-terminated char array holding the
# bytes of a text file, so the report page's style sheet and script are
# edited as real .css/.js files yet an installed library needs no files.
# Pure CMake (no xxd), run at build time by cmake/report_page.cmake:
#   cmake -DINPUT=page.js -DOUTPUT=page_js.c -DNAME=tq_report_page_js
#         -DHEADER=analysis/report_page.h -P embed_text.cmake
foreach(var INPUT OUTPUT NAME HEADER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_text.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${INPUT}" text)
# The text is inlined in <style> or <script>: any of these would end the
# element early or open a comment that swallows the rest of the page.
string(TOLOWER "${text}" lower)
foreach(bad "</script" "</style" "<!--")
  string(FIND "${lower}" "${bad}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${INPUT}: contains \"${bad}\", which would break the page")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Plain `char` arrays: bytes above 0x7f would not fit portably; write such
# characters as \u escapes in the file instead.
if(bytes MATCHES "0x[89a-f]")
  message(FATAL_ERROR "${INPUT}: only ASCII text can be embedded")
endif()
set(row "")
foreach(i RANGE 15)
  string(APPEND row "0x[0-9a-f][0-9a-f],")
endforeach()
string(REGEX REPLACE "(${row})" "\\1\n    " bytes "${bytes}")

file(WRITE "${OUTPUT}"
     "/* Generated from ${INPUT} by cmake/embed_text.cmake: edit that file. */\n"
     "#include \"${HEADER}\"\n\n"
     "const char ${NAME}[] = {\n    ${bytes}0x00};\n")
